package runner

import (
	"fmt"
	"strings"
	"unicode/utf16"
)

// replaceProperties replaces the values of Java .properties keys named by
// variables (ignoring case, as Octopus's variable lookup does; keys
// starting with "Octopus" are skipped, as Calamari does). Only the value of
// a matched line changes: key, separator, comments and line endings stay.
// Values are written with Java's escapes, and characters outside ASCII as
// \uXXXX, which every reader of the format understands. A key with no
// separator gets ':' before its new value, as Calamari does.
func replaceProperties(content []byte, values []structuredValue, _ *output) ([]byte, []string, error) {
	byName := map[string]structuredValue{}
	for _, v := range values {
		byName[strings.ToLower(v.name)] = v
	}
	src := string(content)
	var edits []edit
	for _, l := range propertiesLines(src) {
		if strings.HasPrefix(strings.ToLower(l.key), "octopus") {
			continue
		}
		v, ok := byName[strings.ToLower(l.key)]
		if !ok {
			continue
		}
		text := encodePropertiesValue(v.value)
		if !l.hasSeparator {
			text = ":" + text
		}
		edits = append(edits, edit{start: l.valueStart, end: l.valueEnd, text: text, name: v.name})
	}
	updated, applied := applyEdits(content, edits)
	return updated, dedupe(applied), nil
}

// propertiesLine is one key = value entry: its decoded key and where its
// value (to the end of its last continuation line) is.
type propertiesLine struct {
	key                  string
	hasSeparator         bool
	valueStart, valueEnd int
}

// propertiesLines reads the entries of a .properties file; every text is
// one (the format has no syntax errors).
func propertiesLines(src string) []propertiesLine {
	var out []propertiesLine
	pos := 0
	for pos < len(src) {
		lineEnd := physicalLineEnd(src, pos)
		i := pos
		for i < lineEnd && isPropertiesSpace(src[i]) {
			i++
		}
		if i == lineEnd || src[i] == '#' || src[i] == '!' {
			pos = nextLine(src, lineEnd)
			continue
		}
		// The logical line runs on while a line ends in an odd number of
		// backslashes.
		end := lineEnd
		for continues(src[pos:end]) && end < len(src) {
			end = physicalLineEnd(src, nextLine(src, end))
		}
		// Key: up to an unescaped '=', ':' or white space.
		var key strings.Builder
		k := i
		for k < end {
			c := src[k]
			if c == '\\' && k+1 < end {
				r, n := unescapeProperties(src[k:end])
				key.WriteString(r)
				k += n
				continue
			}
			if c == '=' || c == ':' || isPropertiesSpace(c) || c == '\r' || c == '\n' {
				break
			}
			key.WriteByte(c)
			k++
		}
		// Separator: spaces, at most one '=' or ':', spaces.
		v := k
		for v < end && isPropertiesSpace(src[v]) {
			v++
		}
		sep := v > k
		if v < end && (src[v] == '=' || src[v] == ':') {
			v++
			sep = true
			for v < end && isPropertiesSpace(src[v]) {
				v++
			}
		}
		out = append(out, propertiesLine{key: key.String(), hasSeparator: sep, valueStart: v, valueEnd: end})
		pos = nextLine(src, end)
	}
	return out
}

func isPropertiesSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

// physicalLineEnd is where the line starting at pos ends, before its
// line terminator.
func physicalLineEnd(src string, pos int) int {
	if i := strings.IndexAny(src[pos:], "\r\n"); i >= 0 {
		return pos + i
	}
	return len(src)
}

// nextLine skips the terminator at end (\n, \r or \r\n).
func nextLine(src string, end int) int {
	if end < len(src) && src[end] == '\r' {
		end++
	}
	if end < len(src) && src[end] == '\n' {
		end++
	}
	return end
}

func continues(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// unescapeProperties reads one escape at the start of s ("\t", "\u0041",
// "\=", …) and how many bytes it took.
func unescapeProperties(s string) (string, int) {
	switch c := s[1]; c {
	case 't':
		return "\t", 2
	case 'n':
		return "\n", 2
	case 'r':
		return "\r", 2
	case 'f':
		return "\f", 2
	case 'u':
		var r rune
		if len(s) >= 6 {
			if _, err := fmt.Sscanf(s[2:6], "%04x", &r); err == nil {
				return string(r), 6
			}
		}
		return "u", 2
	default:
		return string(c), 2
	}
}

func encodePropertiesValue(v string) string {
	var b strings.Builder
	for i, r := range v {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == ' ' && i == 0:
			b.WriteString(`\ `)
		case r < 0x20 || r > 0x7e:
			for _, unit := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04X`, unit)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

package template

import (
	"strings"
	"unicode/utf16"
)

// The escaping filters reproduce Octostache's character tables
// (TextEscapeFunctions.cs). .NET strings are UTF-16, so characters outside
// the Basic Multilingual Plane escape as two \uXXXX surrogates.

func escapeWith(s string, table func(r rune) (string, bool)) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if e, ok := table(r); ok {
			b.WriteString(e)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func htmlEscape(s string) string {
	return escapeWith(s, func(r rune) (string, bool) {
		switch r {
		case '/':
			return "&#x2F;", true
		}
		return xmlEntity(r)
	})
}

func xmlEscape(s string) string { return escapeWith(s, xmlEntity) }

func xmlEntity(r rune) (string, bool) {
	switch r {
	case '&':
		return "&amp;", true
	case '<':
		return "&lt;", true
	case '>':
		return "&gt;", true
	case '"':
		return "&quot;", true
	case '\'':
		return "&apos;", true
	}
	return "", false
}

// jsonEscape escapes only what Octostache does: quote, backslash, CR, LF
// and tab.
func jsonEscape(s string) string {
	return escapeWith(s, func(r rune) (string, bool) {
		switch r {
		case '"':
			return `\"`, true
		case '\\':
			return `\\`, true
		case '\r':
			return `\r`, true
		case '\n':
			return `\n`, true
		case '\t':
			return `\t`, true
		}
		return "", false
	})
}

// yamlSingleQuoteEscape doubles quotes, and doubles each run of line breaks
// (YAML folds one line break in a single-quoted scalar into a space).
func yamlSingleQuoteEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '\n' || (s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n') {
			j := i
			for j < len(s) {
				if s[j] == '\n' {
					j++
				} else if s[j] == '\r' && j+1 < len(s) && s[j+1] == '\n' {
					j += 2
				} else {
					break
				}
			}
			if s[i] == '\r' {
				b.WriteString("\r\n")
			} else {
				b.WriteByte('\n')
			}
			b.WriteString(s[i:j])
			i = j
			continue
		}
		if s[i] == '\'' {
			b.WriteString("''")
		} else {
			b.WriteByte(s[i])
		}
		i++
	}
	return b.String()
}

// unicodeEscape writes r as \uXXXX, as UTF-16 code units.
func unicodeEscape(r rune) string {
	if r > 0xFFFF {
		hi, lo := utf16.EncodeRune(r)
		return `\u` + hex4(uint16(hi)) + `\u` + hex4(uint16(lo))
	}
	return `\u` + hex4(uint16(r))
}

func yamlDoubleQuoteEscape(s string) string {
	return escapeWith(s, func(r rune) (string, bool) {
		switch r {
		case '\r':
			return `\r`, true
		case '\n':
			return `\n`, true
		case '\t':
			return `\t`, true
		case '\\':
			return `\\`, true
		case '"':
			return `\"`, true
		}
		if r >= 0x20 && r <= 0x7E {
			return "", false
		}
		return unicodeEscape(r), true
	})
}

// propertiesCommon is shared by the .properties escapes: backslash and
// control characters, and anything outside ISO-8859-1 (below U+00FF, as
// Octostache tests it) as \uXXXX.
func propertiesCommon(r rune) (string, bool) {
	switch r {
	case '\\':
		return `\\`, true
	case '\r':
		return `\r`, true
	case '\n':
		return `\n`, true
	case '\t':
		return `\t`, true
	}
	if r < 0xFF {
		return "", false
	}
	return unicodeEscape(r), true
}

func propertiesKeyEscape(s string) string {
	return escapeWith(s, func(r rune) (string, bool) {
		switch r {
		case ' ':
			return `\ `, true
		case ':':
			return `\:`, true
		case '=':
			return `\=`, true
		}
		return propertiesCommon(r)
	})
}

// propertiesValueEscape also escapes a leading space, which a .properties
// reader would otherwise drop.
func propertiesValueEscape(s string) string {
	out := escapeWith(s, propertiesCommon)
	if strings.HasPrefix(out, " ") {
		out = `\` + out
	}
	return out
}

// uriEscape is .NET's Uri.EscapeUriString: everything but RFC 3986
// unreserved and reserved characters is percent-encoded as UTF-8.
func uriEscape(s string) string {
	return percentEncode(s, func(c byte) bool { return isUnreserved(c) || strings.IndexByte(":/?#[]@!$&'()*+,;=", c) >= 0 })
}

// uriDataEscape is Uri.EscapeDataString: only unreserved characters stay.
func uriDataEscape(s string) string { return percentEncode(s, isUnreserved) }

func isUnreserved(c byte) bool {
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || isDigit(c) || c == '-' || c == '_' || c == '.' || c == '~'
}

func percentEncode(s string, keep func(byte) bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xF])
	}
	return b.String()
}

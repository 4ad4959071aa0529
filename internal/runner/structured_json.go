package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// replaceJSON replaces values in place, so everything else in the file
// (formatting, key order, comments) stays byte for byte. It reads JSON as
// Json.NET does for appsettings files: // and /* */ comments and trailing
// commas are accepted. Replacement keeps the type of the value it replaces
// (Calamari's JsonUpdateMap):
//
//   - a number stays a number if the new value parses as one, a boolean if
//     it is true or false in any case; otherwise it becomes a string;
//   - a string or null becomes a string;
//   - an object or array is replaced by the value read as JSON (any JSON);
//     if it is not JSON, the variable is skipped with a warning.
func replaceJSON(content []byte, values []structuredValue, out *output) ([]byte, []string, error) {
	if len(content) == 0 {
		return content, nil, nil // Octopus reads an empty file as {}
	}
	s := &jsonScanner{src: content, paths: map[string]jsonValue{}}
	if err := s.document(); err != nil {
		return nil, nil, &parseError{msg: err.Error()}
	}
	unit := jsonIndentUnit(content)
	var edits []edit
	for _, v := range values {
		if skippedForKeyPaths(v.name) {
			continue
		}
		target, ok := s.paths[strings.ToLower(v.name)]
		if !ok {
			continue
		}
		text, err := jsonReplacement(content, target, v.value, unit)
		if err != nil {
			out.Warnf("unable to set the value of %q: %v", v.name, err)
			continue
		}
		edits = append(edits, edit{start: target.start, end: target.end, text: text, name: v.name})
	}
	updated, applied := applyEdits(content, edits)
	return updated, applied, nil
}

// jsonValue is where a value is in the source, and what kind it is:
// one of { [ " 0 (number) t (boolean) n (null).
type jsonValue struct {
	start, end int
	kind       byte
}

func jsonReplacement(src []byte, target jsonValue, value, unit string) (string, error) {
	trimmed := strings.TrimSpace(value)
	switch target.kind {
	case '{', '[':
		if !json.Valid([]byte(trimmed)) {
			return "", fmt.Errorf("it replaces a JSON %s, and its value is not JSON", map[byte]string{'{': "object", '[': "array"}[target.kind])
		}
		var compact bytes.Buffer
		json.Compact(&compact, []byte(trimmed))
		if !bytes.ContainsAny(src[target.start:target.end], "\n") {
			return compact.String(), nil
		}
		var indented bytes.Buffer
		json.Indent(&indented, compact.Bytes(), lineIndent(src, target.start), unit)
		return indented.String(), nil
	case '0':
		if n, err := strconv.ParseInt(trimmed, 10, 64); err == nil {
			return strconv.FormatInt(n, 10), nil
		}
		if isJSONNumber(trimmed) {
			return trimmed, nil
		}
		if f, err := strconv.ParseFloat(trimmed, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return strconv.FormatFloat(f, 'g', -1, 64), nil
		}
	case 't':
		if strings.EqualFold(trimmed, "true") || strings.EqualFold(trimmed, "false") {
			return strings.ToLower(trimmed), nil
		}
	}
	return jsonString(value), nil
}

// jsonString encodes s without escaping <, > and & (Json.NET does not).
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func isJSONNumber(s string) bool {
	sc := &jsonScanner{src: []byte(s)}
	return sc.number() == nil && sc.pos == len(s)
}

// lineIndent is the whitespace starting the line that holds offset.
func lineIndent(src []byte, offset int) string {
	start := bytes.LastIndexByte(src[:offset], '\n') + 1
	end := start
	for end < len(src) && (src[end] == ' ' || src[end] == '\t') {
		end++
	}
	return string(src[start:end])
}

// jsonIndentUnit guesses the file's indentation from its first indented
// line; two spaces if none.
func jsonIndentUnit(src []byte) string {
	for _, line := range bytes.Split(src, []byte("\n")) {
		n := 0
		for n < len(line) && (line[n] == ' ' || line[n] == '\t') {
			n++
		}
		if n > 0 && n < len(line) && line[n] != '\r' {
			return string(line[:n])
		}
	}
	return "  "
}

// jsonScanner reads JSON, recording where each value is by its key path
// (lower case, ':'-joined). A later duplicate key wins, as in Json.NET.
type jsonScanner struct {
	src   []byte
	pos   int
	paths map[string]jsonValue
	depth int
}

const maxJSONDepth = 10000

func (s *jsonScanner) errorf(format string, args ...any) error {
	line := bytes.Count(s.src[:s.pos], []byte("\n")) + 1
	col := utf8.RuneCount(s.src[bytes.LastIndexByte(s.src[:s.pos], '\n')+1:s.pos]) + 1
	return fmt.Errorf("line %d, column %d: %s", line, col, fmt.Sprintf(format, args...))
}

func (s *jsonScanner) document() error {
	if bytes.HasPrefix(s.src, utf8BOM) {
		s.pos = 3
	}
	if err := s.space(); err != nil {
		return err
	}
	if _, err := s.value(""); err != nil {
		return err
	}
	if err := s.space(); err != nil {
		return err
	}
	if s.pos != len(s.src) {
		return s.errorf("unexpected %q after the JSON value", s.src[s.pos])
	}
	return nil
}

// space skips whitespace and comments.
func (s *jsonScanner) space() error {
	for s.pos < len(s.src) {
		switch c := s.src[s.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			s.pos++
		case c == '/' && s.pos+1 < len(s.src) && s.src[s.pos+1] == '/':
			end := bytes.IndexByte(s.src[s.pos:], '\n')
			if end < 0 {
				s.pos = len(s.src)
			} else {
				s.pos += end + 1
			}
		case c == '/' && s.pos+1 < len(s.src) && s.src[s.pos+1] == '*':
			end := bytes.Index(s.src[s.pos+2:], []byte("*/"))
			if end < 0 {
				return s.errorf("unterminated comment")
			}
			s.pos += 2 + end + 2
		default:
			return nil
		}
	}
	return nil
}

func (s *jsonScanner) value(path string) (jsonValue, error) {
	if s.pos >= len(s.src) {
		return jsonValue{}, s.errorf("unexpected end of the file")
	}
	start := s.pos
	var kind byte
	var err error
	switch c := s.src[s.pos]; {
	case c == '{':
		kind, err = '{', s.object(path)
	case c == '[':
		kind, err = '[', s.array(path)
	case c == '"':
		kind = '"'
		_, err = s.str()
	case c == '-' || c >= '0' && c <= '9':
		kind, err = '0', s.number()
	case bytes.HasPrefix(s.src[s.pos:], []byte("true")):
		kind, s.pos = 't', s.pos+4
	case bytes.HasPrefix(s.src[s.pos:], []byte("false")):
		kind, s.pos = 't', s.pos+5
	case bytes.HasPrefix(s.src[s.pos:], []byte("null")):
		kind, s.pos = 'n', s.pos+4
	default:
		return jsonValue{}, s.errorf("unexpected %q", c)
	}
	if err != nil {
		return jsonValue{}, err
	}
	v := jsonValue{start: start, end: s.pos, kind: kind}
	if path != "" && s.paths != nil {
		s.paths[strings.ToLower(path)] = v
	}
	return v, nil
}

func (s *jsonScanner) enter() error {
	if s.depth++; s.depth > maxJSONDepth {
		return s.errorf("nested too deeply")
	}
	return nil
}

func (s *jsonScanner) object(path string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer func() { s.depth-- }()
	s.pos++ // {
	for {
		if err := s.space(); err != nil {
			return err
		}
		if s.pos < len(s.src) && s.src[s.pos] == '}' {
			s.pos++
			return nil
		}
		if s.pos >= len(s.src) || s.src[s.pos] != '"' {
			return s.errorf("expected a property name or '}'")
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		if err := s.space(); err != nil {
			return err
		}
		if s.pos >= len(s.src) || s.src[s.pos] != ':' {
			return s.errorf("expected ':' after property %q", key)
		}
		s.pos++
		if err := s.space(); err != nil {
			return err
		}
		if _, err := s.value(joinKeyPath(path, key)); err != nil {
			return err
		}
		if err := s.space(); err != nil {
			return err
		}
		if s.pos < len(s.src) && s.src[s.pos] == ',' {
			s.pos++
			continue
		}
		if s.pos < len(s.src) && s.src[s.pos] == '}' {
			s.pos++
			return nil
		}
		return s.errorf("expected ',' or '}'")
	}
}

func (s *jsonScanner) array(path string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer func() { s.depth-- }()
	s.pos++ // [
	for i := 0; ; i++ {
		if err := s.space(); err != nil {
			return err
		}
		if s.pos < len(s.src) && s.src[s.pos] == ']' {
			s.pos++
			return nil
		}
		if _, err := s.value(joinKeyPath(path, strconv.Itoa(i))); err != nil {
			return err
		}
		if err := s.space(); err != nil {
			return err
		}
		if s.pos < len(s.src) && s.src[s.pos] == ',' {
			s.pos++
			continue
		}
		if s.pos < len(s.src) && s.src[s.pos] == ']' {
			s.pos++
			return nil
		}
		return s.errorf("expected ',' or ']'")
	}
}

func joinKeyPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + ":" + key
}

// str reads a string literal and returns its decoded text.
func (s *jsonScanner) str() (string, error) {
	start := s.pos
	s.pos++ // "
	for s.pos < len(s.src) {
		switch c := s.src[s.pos]; {
		case c == '\\':
			s.pos += 2
		case c == '"':
			s.pos++
			var text string
			if err := json.Unmarshal(s.src[start:s.pos], &text); err != nil {
				s.pos = start
				return "", s.errorf("invalid string: %v", err)
			}
			return text, nil
		case c < 0x20:
			return "", s.errorf("control character in a string")
		default:
			s.pos++
		}
	}
	return "", s.errorf("unterminated string")
}

func (s *jsonScanner) number() error {
	digits := func() int {
		n := 0
		for s.pos < len(s.src) && s.src[s.pos] >= '0' && s.src[s.pos] <= '9' {
			s.pos++
			n++
		}
		return n
	}
	if s.pos < len(s.src) && s.src[s.pos] == '-' {
		s.pos++
	}
	if s.pos < len(s.src) && s.src[s.pos] == '0' {
		s.pos++
	} else if digits() == 0 {
		return s.errorf("invalid number")
	}
	if s.pos < len(s.src) && s.src[s.pos] == '.' {
		s.pos++
		if digits() == 0 {
			return s.errorf("invalid number")
		}
	}
	if s.pos < len(s.src) && (s.src[s.pos] == 'e' || s.src[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.src) && (s.src[s.pos] == '+' || s.src[s.pos] == '-') {
			s.pos++
		}
		if digits() == 0 {
			return s.errorf("invalid number")
		}
	}
	return nil
}

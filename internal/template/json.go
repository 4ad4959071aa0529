package template

import (
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON values are read as leniently as Json.NET reads them for Octostache:
// unquoted property names, single-quoted strings, comments and trailing
// commas are accepted. Property order is kept, for #{each}.

type jsonKind int

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

type jsonValue struct {
	kind    jsonKind
	str     string // string contents, or a number's literal text
	boolean bool
	elems   []*jsonValue
	members []jsonMember
}

type jsonMember struct {
	key   string
	value *jsonValue
}

const maxJSONDepth = 512

// parseJSONContainer parses text that holds a JSON object or array; it
// returns nil for anything else, including invalid JSON.
func parseJSONContainer(text string) *jsonValue {
	i := 0
	for i < len(text) && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n') {
		i++
	}
	if i == len(text) || (text[i] != '{' && text[i] != '[') {
		return nil
	}
	p := &jsonParser{src: text, pos: i}
	v, ok := p.value(0)
	if !ok {
		return nil
	}
	p.skip()
	if p.pos != len(p.src) {
		return nil
	}
	return v
}

type jsonParser struct {
	src string
	pos int
}

// skip passes whitespace and comments.
func (p *jsonParser) skip() {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			p.pos++
		case strings.HasPrefix(p.src[p.pos:], "//"):
			end := strings.IndexByte(p.src[p.pos:], '\n')
			if end < 0 {
				p.pos = len(p.src)
			} else {
				p.pos += end + 1
			}
		case strings.HasPrefix(p.src[p.pos:], "/*"):
			end := strings.Index(p.src[p.pos+2:], "*/")
			if end < 0 {
				p.pos = len(p.src)
				return
			}
			p.pos += end + 4
		default:
			r, n := utf8.DecodeRuneInString(p.src[p.pos:])
			if !unicode.IsSpace(r) {
				return
			}
			p.pos += n
		}
	}
}

func (p *jsonParser) value(depth int) (*jsonValue, bool) {
	if depth > maxJSONDepth {
		return nil, false
	}
	p.skip()
	if p.pos >= len(p.src) {
		return nil, false
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"' || c == '\'':
		s, ok := p.str()
		return &jsonValue{kind: jsonString, str: s}, ok
	case c == '-' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	}
	for _, w := range [...]struct {
		word string
		v    jsonValue
	}{
		{"true", jsonValue{kind: jsonBool, boolean: true}},
		{"false", jsonValue{kind: jsonBool}},
		{"null", jsonValue{kind: jsonNull}},
		{"undefined", jsonValue{kind: jsonNull}},
		{"NaN", jsonValue{kind: jsonNumber, str: "NaN"}},
		{"Infinity", jsonValue{kind: jsonNumber, str: "Infinity"}},
	} {
		if strings.HasPrefix(p.src[p.pos:], w.word) {
			p.pos += len(w.word)
			v := w.v
			return &v, true
		}
	}
	return nil, false
}

func (p *jsonParser) object(depth int) (*jsonValue, bool) {
	p.pos++ // {
	v := &jsonValue{kind: jsonObject}
	for {
		p.skip()
		if p.pos >= len(p.src) {
			return nil, false
		}
		if p.src[p.pos] == '}' {
			p.pos++
			return v, true
		}
		var key string
		if c := p.src[p.pos]; c == '"' || c == '\'' {
			k, ok := p.str()
			if !ok {
				return nil, false
			}
			key = k
		} else {
			start := p.pos
			for p.pos < len(p.src) {
				r, n := utf8.DecodeRuneInString(p.src[p.pos:])
				if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '$' {
					break
				}
				p.pos += n
			}
			if p.pos == start {
				return nil, false
			}
			key = p.src[start:p.pos]
		}
		p.skip()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return nil, false
		}
		p.pos++
		val, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		v.members = append(v.members, jsonMember{key: key, value: val})
		p.skip()
		if p.pos >= len(p.src) {
			return nil, false
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return v, true
		default:
			return nil, false
		}
	}
}

func (p *jsonParser) array(depth int) (*jsonValue, bool) {
	p.pos++ // [
	v := &jsonValue{kind: jsonArray}
	for {
		p.skip()
		if p.pos >= len(p.src) {
			return nil, false
		}
		if p.src[p.pos] == ']' {
			p.pos++
			return v, true
		}
		el, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		v.elems = append(v.elems, el)
		p.skip()
		if p.pos >= len(p.src) {
			return nil, false
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return v, true
		default:
			return nil, false
		}
	}
}

// str reads a string quoted with " or '.
func (p *jsonParser) str() (string, bool) {
	quote := p.src[p.pos]
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == quote:
			p.pos++
			return b.String(), true
		case c == '\\':
			if p.pos+1 >= len(p.src) {
				return "", false
			}
			e := p.src[p.pos+1]
			p.pos += 2
			switch e {
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(r) && strings.HasPrefix(p.src[p.pos:], `\u`) {
					save := p.pos
					p.pos += 2
					if r2, ok := p.hex4(); ok && utf16.DecodeRune(r, r2) != unicode.ReplacementChar {
						r = utf16.DecodeRune(r, r2)
					} else {
						p.pos = save
					}
				}
				b.WriteRune(r)
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return "", false
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.pos+4 > len(p.src) {
		return 0, false
	}
	n, err := strconv.ParseUint(p.src[p.pos:p.pos+4], 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += 4
	return rune(n), true
}

func (p *jsonParser) number() (*jsonValue, bool) {
	start := p.pos
	if strings.HasPrefix(p.src[p.pos:], "-Infinity") {
		p.pos += len("-Infinity")
		return &jsonValue{kind: jsonNumber, str: "-Infinity"}, true
	}
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
			p.pos++
			continue
		}
		break
	}
	text := p.src[start:p.pos]
	if isJSONInteger(text) {
		return &jsonValue{kind: jsonNumber, str: text}, true
	}
	if _, err := strconv.ParseFloat(text, 64); err != nil && !isRangeError(err) {
		return nil, false
	}
	return &jsonValue{kind: jsonNumber, str: text}, true
}

func isRangeError(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func isJSONInteger(text string) bool {
	t := strings.TrimPrefix(text, "-")
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	return true
}

// text is what a JSON value renders as: scalars as .NET prints them
// (Json.NET's JValue), objects and arrays as compact JSON.
func (v *jsonValue) text() string {
	switch v.kind {
	case jsonNull:
		return ""
	case jsonBool:
		return dotnetBool(v.boolean)
	case jsonString:
		return v.str
	case jsonNumber:
		return jsonNumberText(v.str, false)
	}
	var b strings.Builder
	v.serialize(&b)
	return b.String()
}

// jsonNumberText prints a number literal as Json.NET holds it: integers
// exactly, others as a double ("15.00" is 15, or 15.0 when serialized).
func jsonNumberText(lit string, serialized bool) string {
	switch lit {
	case "NaN", "Infinity", "-Infinity":
		if serialized {
			return strconv.Quote(lit)
		}
		return lit
	}
	if isJSONInteger(lit) {
		n, ok := new(big.Int).SetString(lit, 10)
		if ok {
			return n.String()
		}
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && !isRangeError(err) {
		return lit
	}
	s := formatDotnetDouble(f)
	if serialized && !strings.ContainsAny(s, ".EN") && !strings.Contains(s, "Infinity") {
		s += ".0"
	}
	if serialized && (s == "Infinity" || s == "-Infinity" || s == "NaN") {
		return strconv.Quote(s)
	}
	return s
}

func (v *jsonValue) serialize(b *strings.Builder) {
	switch v.kind {
	case jsonNull:
		b.WriteString("null")
	case jsonBool:
		if v.boolean {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case jsonNumber:
		b.WriteString(jsonNumberText(v.str, true))
	case jsonString:
		writeJSONString(b, v.str)
	case jsonArray:
		b.WriteByte('[')
		for i, e := range v.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.serialize(b)
		}
		b.WriteByte(']')
	case jsonObject:
		b.WriteByte('{')
		for i, m := range v.members {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, m.key)
			b.WriteByte(':')
			m.value.serialize(b)
		}
		b.WriteByte('}')
	}
}

// writeJSONString quotes s the way Json.NET does by default.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case 0x85, 0x2028, 0x2029:
			b.WriteString(`\u`)
			b.WriteString(hex4(uint16(r)))
		default:
			if r < 0x20 {
				b.WriteString(`\u`)
				b.WriteString(hex4(uint16(r)))
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

func hex4(u uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[u>>12], digits[u>>8&0xf], digits[u>>4&0xf], digits[u&0xf]})
}

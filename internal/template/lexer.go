package template

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The lexical rules follow Octostache's grammar (TemplateParser.cs): an
// identifier is letters, digits, whitespace and _ - : / ~ ( ) @, where
// whitespace may not run into a following |, } or a spaced keyword
// (in, ==, !=), and the result is trimmed.

func isIdentRune(r rune) bool {
	if unicode.IsLetter(r) || unicode.IsDigit(r) {
		return true
	}
	switch r {
	case '_', '-', ':', '/', '~', '(', ')', '@':
		return true
	}
	return false
}

// isSpace matches .NET's char.IsWhiteSpace closely enough for templates.
func isSpace(r rune) bool { return unicode.IsSpace(r) }

// scanner walks a template's source. pos is a byte offset.
type scanner struct {
	src string
	pos int
}

func (s *scanner) eof() bool { return s.pos >= len(s.src) }

func (s *scanner) peek() (rune, int) {
	if s.pos >= len(s.src) {
		return utf8.RuneError, 0
	}
	c := s.src[s.pos]
	if c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s.src[s.pos:])
}

func (s *scanner) peekByte() byte {
	if s.pos >= len(s.src) {
		return 0
	}
	return s.src[s.pos]
}

func (s *scanner) hasPrefix(p string) bool { return strings.HasPrefix(s.src[s.pos:], p) }

func (s *scanner) skipSpace() {
	for !s.eof() {
		r, n := s.peek()
		if !isSpace(r) {
			return
		}
		s.pos += n
	}
}

// skipSpaceRequired skips at least one whitespace character.
func (s *scanner) skipSpaceRequired() bool {
	start := s.pos
	s.skipSpace()
	return s.pos > start
}

// keywordFold reports whether kw (ASCII) follows, ignoring case, without
// consuming it.
func (s *scanner) keywordFold(kw string) bool {
	if len(s.src)-s.pos < len(kw) {
		return false
	}
	return strings.EqualFold(s.src[s.pos:s.pos+len(kw)], kw)
}

// spaceBeforeKeyword reports whether the whitespace character ending at
// offset i is followed by a keyword that is itself followed by whitespace;
// such whitespace ends an identifier, as in "each a in B" or "A == B".
func spaceBeforeKeyword(src string, i int) bool {
	for _, kw := range [...]string{"in", "==", "!="} {
		end := i + len(kw)
		if end >= len(src) || src[i:end] != kw {
			continue
		}
		r, _ := utf8.DecodeRuneInString(src[end:])
		if isSpace(r) {
			return true
		}
	}
	return false
}

// identifier scans an identifier and returns it trimmed. With allowSpace
// false (filter names and unquoted filter arguments) whitespace ends it.
func (s *scanner) identifier(allowSpace bool) (string, bool) {
	start := s.pos
	i := s.pos
	for i < len(s.src) {
		r, n := rune(s.src[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s.src[i:])
		}
		if isIdentRune(r) {
			i += n
			continue
		}
		if allowSpace && isSpace(r) {
			next := i + n
			if next < len(s.src) && (s.src[next] == '|' || s.src[next] == '}') {
				break
			}
			if spaceBeforeKeyword(s.src, next) {
				break
			}
			i += n
			continue
		}
		break
	}
	text := strings.TrimFunc(s.src[start:i], isSpace)
	if text == "" {
		return "", false
	}
	s.pos = i
	return text, true
}

// quoted scans a filter argument or comparison literal: "text" (which may
// contain neither " nor #) or \"text\" (which may contain anything but \").
func (p *parser) quoted(s *scanner) (string, bool) {
	if s.hasPrefix(`\"`) {
		body := s.pos + 2
		end := p.nextEscapedQuote(body)
		if end < 0 {
			return "", false
		}
		s.pos = end + 2
		return s.src[body:end], true
	}
	if s.peekByte() != '"' {
		return "", false
	}
	body := s.pos + 1
	end := strings.IndexAny(s.src[body:], `"#`)
	if end < 0 || s.src[body+end] != '"' {
		return "", false
	}
	s.pos = body + end + 1
	return s.src[body : body+end], true
}

// bracketed returns the text between the '[' at open and its matching ']',
// allowing nested brackets (used on variable names).
func bracketed(src string, open int) (content string, end int, ok bool) {
	depth := 0
	for i := open; i < len(src); i++ {
		switch src[i] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return src[open+1 : i], i + 1, true
			}
		}
	}
	return "", 0, false
}

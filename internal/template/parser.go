package template

import (
	"strings"
)

// maxNesting bounds how deeply tags, indexers and calc parentheses may nest,
// so hostile input cannot exhaust the stack.
const maxNesting = 200

type parser struct {
	src   string
	depth int
	// tags memoizes parseTag by start offset. A tag that turns out to be
	// literal text is scanned again from inside, and without this the
	// blocks nested in it would be re-parsed once per enclosing level
	// (exponential time on hostile input).
	tags map[int]tagResult
	// Closing positions found by earlier scans, so many failed tags
	// searching the same stretch of text cost linear time overall.
	brackets  map[int]int // '[' offset -> offset after its ']', or -1
	escQuotes scanMemo    // the last search for \"
}

// scanMemo remembers the result of the last forward search: from any offset
// in [from, at] the next match is at (or there is none if at is -1).
type scanMemo struct {
	from, at int
	valid    bool
}

// nextEscapedQuote finds the next \" at or after from.
func (p *parser) nextEscapedQuote(from int) int {
	m := &p.escQuotes
	if m.valid && from >= m.from && (m.at < 0 || from <= m.at) {
		return m.at
	}
	at := strings.Index(p.src[from:], `\"`)
	if at >= 0 {
		at += from
	}
	*m = scanMemo{from: from, at: at, valid: true}
	return at
}

// matchBracket gives the offset just past the ']' matching the '[' at open,
// allowing nested brackets, as Octostache's string indexer does. One scan
// records the matches of every '[' it passes, so the many '[' of a stretch
// of failed tags are not each scanned to the end of the text.
func (p *parser) matchBracket(open int) (int, bool) {
	if end, ok := p.brackets[open]; ok {
		return end, end > 0
	}
	if p.brackets == nil {
		p.brackets = make(map[int]int)
	}
	stack := []int{open}
	i := open + 1
	for len(stack) > 0 {
		j := strings.IndexAny(p.src[i:], "[]")
		if j < 0 {
			break
		}
		i += j
		if p.src[i] == '[' {
			stack = append(stack, i)
		} else {
			p.brackets[stack[len(stack)-1]] = i + 1
			stack = stack[:len(stack)-1]
		}
		i++
	}
	for _, o := range stack {
		p.brackets[o] = -1
	}
	end := p.brackets[open]
	return end, end > 0
}

type termKind int

const (
	termEOF termKind = iota
	termEndIf
	termEndUnless
	termEndEach
	termElse
	termElseIf
)

func (k termKind) String() string {
	switch k {
	case termEndIf:
		return "#{/if}"
	case termEndUnless:
		return "#{/unless}"
	case termEndEach:
		return "#{/each}"
	case termElse:
		return "#{else}"
	case termElseIf:
		return "#{elseif}"
	}
	return "end of text"
}

// terminator is a closing or branching tag that ends a run of nodes.
type terminator struct {
	kind     termKind
	pos, end int
}

// Parse parses a template. Errors are *Error.
//
// A "#{" that does not start a well-formed tag is kept as literal text (as
// Octopus does when substituting files, which may contain "#{" for other
// reasons); structural mistakes — unclosed or stray block tags, unknown
// filters, malformed #{if}, #{each} or #{calc} — are errors.
func Parse(text string) (*Template, error) {
	p := &parser{src: text}
	nodes, term, err := p.parseNodes(0)
	if err != nil {
		return nil, err
	}
	if term.kind != termEOF {
		return nil, p.stray(term)
	}
	return &Template{src: text, nodes: nodes}, nil
}

func (p *parser) stray(t terminator) *Error {
	switch t.kind {
	case termElse, termElseIf:
		return errorAt(p.src, t.pos, "%s outside #{if}", t.kind)
	case termEndIf:
		return errorAt(p.src, t.pos, "#{/if} without a matching #{if}")
	case termEndUnless:
		return errorAt(p.src, t.pos, "#{/unless} without a matching #{unless}")
	default:
		return errorAt(p.src, t.pos, "#{/each} without a matching #{each}")
	}
}

// textAcc gathers literal text, copying only when escapes split it.
type textAcc struct {
	first string
	b     strings.Builder
	multi bool
}

func (t *textAcc) add(s string) {
	if s == "" {
		return
	}
	if !t.multi && t.first == "" {
		t.first = s
		return
	}
	if !t.multi {
		t.b.WriteString(t.first)
		t.multi = true
	}
	t.b.WriteString(s)
}

func (t *textAcc) flush(nodes []node) []node {
	s := t.first
	if t.multi {
		s = t.b.String()
		t.b = strings.Builder{}
		t.multi = false
	}
	t.first = ""
	if s == "" {
		return nodes
	}
	return append(nodes, &textNode{text: s})
}

// parseNodes reads text and tags from pos until a terminator or the end.
//
// Hash handling follows Octostache's text rules: "##{" is a literal "#{",
// "###{x}" is "#" then the tag, and other hashes are literal.
func (p *parser) parseNodes(pos int) ([]node, terminator, error) {
	var nodes []node
	var text textAcc
	src := p.src
	i, runStart := pos, pos
	for {
		j := strings.IndexByte(src[i:], '#')
		if j < 0 {
			text.add(src[runStart:])
			return text.flush(nodes), terminator{kind: termEOF, pos: len(src), end: len(src)}, nil
		}
		i += j
		if i+1 >= len(src) {
			i++
			continue
		}
		switch src[i+1] {
		case '{':
		case '#':
			switch {
			case strings.HasPrefix(src[i+2:], "#{"): // "###{": one "#", then the tag
				text.add(src[runStart : i+1])
				i += 2
				runStart = i
			case i+2 < len(src) && src[i+2] == '{': // "##{": literal "#{"
				text.add(src[runStart:i])
				text.add("#{")
				i += 3
				runStart = i
			default:
				i += 2
			}
			continue
		default:
			i++
			continue
		}
		res, err := p.parseTag(i)
		if err != nil {
			return nil, terminator{}, err
		}
		if res.literal {
			i += 2
			continue
		}
		text.add(src[runStart:i])
		nodes = text.flush(nodes)
		if res.term != nil {
			return nodes, *res.term, nil
		}
		nodes = append(nodes, res.node)
		i, runStart = res.end, res.end
	}
}

type tagResult struct {
	node    node
	term    *terminator
	end     int
	literal bool
}

// parseTag parses the tag starting with "#{" at start.
func (p *parser) parseTag(start int) (tagResult, error) {
	if res, ok := p.tags[start]; ok {
		return res, nil
	}
	res, err := p.parseTagAt(start)
	// Only tags inside another tag are ever parsed twice.
	if err == nil && p.depth > 0 {
		if p.tags == nil {
			p.tags = make(map[int]tagResult)
		}
		p.tags[start] = res
	}
	return res, err
}

func (p *parser) parseTagAt(start int) (tagResult, error) {
	rest := p.src[start:]
	for _, t := range [...]struct {
		text string
		kind termKind
	}{{"#{/if}", termEndIf}, {"#{/unless}", termEndUnless}, {"#{/each}", termEndEach}, {"#{else}", termElse}} {
		if strings.HasPrefix(rest, t.text) {
			return tagResult{term: &terminator{kind: t.kind, pos: start, end: start + len(t.text)}}, nil
		}
	}
	if strings.HasPrefix(rest, "#{elseif") {
		s := &scanner{src: p.src, pos: start + len("#{elseif")}
		if s.skipSpaceRequired() {
			return tagResult{term: &terminator{kind: termElseIf, pos: start, end: s.pos}}, nil
		}
	}
	if strings.HasPrefix(rest, "#{/") {
		return tagResult{literal: true}, nil
	}

	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		return tagResult{}, errorAt(p.src, start, "template nested more than %d levels deep", maxNesting)
	}

	s := &scanner{src: p.src, pos: start + 2}
	s.skipSpace()
	for _, kw := range [...]string{"if", "unless", "each", "calc"} {
		if !s.keywordFold(kw) {
			continue
		}
		after := &scanner{src: p.src, pos: s.pos + len(kw)}
		if !after.skipSpaceRequired() {
			break // "#{if}" or "#{ifx}" name a variable
		}
		switch kw {
		case "if", "unless":
			return p.parseIf(start, after, kw)
		case "each":
			return p.parseEach(start, after)
		default:
			return p.parseCalc(start, after)
		}
	}

	e, ok, err := p.parseExpr(s)
	if err != nil || !ok {
		return tagResult{literal: err == nil}, err
	}
	s.skipSpace()
	if s.peekByte() != '}' {
		return tagResult{literal: true}, nil
	}
	s.pos++
	if err := p.checkFilters(e); err != nil {
		return tagResult{}, err
	}
	return tagResult{node: &substNode{pos: start, raw: p.src[start:s.pos], expr: e}, end: s.pos}, nil
}

// closeTag is the terminator that must end a block opened by kw.
func closeTag(kw string) termKind {
	switch kw {
	case "if":
		return termEndIf
	case "unless":
		return termEndUnless
	}
	return termEndEach
}

// blockEndError explains why a block opened at start did not end with want.
func (p *parser) blockEndError(kw string, start int, got terminator) *Error {
	want := closeTag(kw)
	if got.kind == termEOF {
		return errorAt(p.src, start, "unclosed #{%s}: no matching %s", kw, want)
	}
	line, col := position(p.src, start)
	return errorAt(p.src, got.pos, "%s found while #{%s} opened at line %d, column %d is still open", got.kind, kw, line, col)
}

type elseIfClause struct {
	pos  int
	cond *condition
	body []node
}

// parseIf parses #{if cond}…[#{elseif cond}…]*[#{else}…]#{/if} and the
// #{unless} form; s is just past the keyword and its whitespace.
func (p *parser) parseIf(start int, s *scanner, kw string) (tagResult, error) {
	cond, err := p.parseCondTag(s, start, "#{"+kw+"}")
	if err != nil {
		return tagResult{}, err
	}
	then, term, err := p.parseNodes(s.pos)
	if err != nil {
		return tagResult{}, err
	}
	var clauses []elseIfClause
	for term.kind == termElseIf {
		if kw != "if" {
			return tagResult{}, errorAt(p.src, term.pos, "#{elseif} cannot be used inside #{unless}")
		}
		cs := &scanner{src: p.src, pos: term.end}
		c, err := p.parseCondTag(cs, term.pos, "#{elseif}")
		if err != nil {
			return tagResult{}, err
		}
		clausePos := term.pos
		body, next, err := p.parseNodes(cs.pos)
		if err != nil {
			return tagResult{}, err
		}
		clauses = append(clauses, elseIfClause{pos: clausePos, cond: c, body: body})
		term = next
	}
	var otherwise []node
	if term.kind == termElse {
		otherwise, term, err = p.parseNodes(term.end)
		if err != nil {
			return tagResult{}, err
		}
		if term.kind == termElse || term.kind == termElseIf {
			return tagResult{}, errorAt(p.src, term.pos, "%s after #{else}", term.kind)
		}
	}
	if term.kind != closeTag(kw) {
		return tagResult{}, p.blockEndError(kw, start, term)
	}
	end := term.end
	for k := len(clauses) - 1; k >= 0; k-- {
		c := clauses[k]
		otherwise = []node{&ifNode{pos: c.pos, raw: p.src[c.pos:end], cond: c.cond, then: c.body, otherwise: otherwise}}
	}
	n := &ifNode{pos: start, raw: p.src[start:end], cond: cond, then: then, otherwise: otherwise}
	if kw == "unless" {
		n.then, n.otherwise = n.otherwise, n.then
	}
	return tagResult{node: n, end: end}, nil
}

// parseCondTag parses "cond}" of an #{if}, #{unless} or #{elseif} tag.
func (p *parser) parseCondTag(s *scanner, start int, what string) (*condition, error) {
	cond, ok, err := p.parseCondition(s)
	if err != nil {
		return nil, err
	}
	if ok {
		s.skipSpace()
		ok = s.peekByte() == '}'
	}
	if !ok {
		return nil, errorAt(p.src, start, "malformed %s: expected a condition such as Name, Name == \"text\" or Name != Other, then }", what)
	}
	s.pos++
	for _, o := range [...]operand{cond.left, cond.right} {
		if o.expr != nil {
			if err := p.checkFilters(o.expr); err != nil {
				return nil, err
			}
		}
	}
	return cond, nil
}

// parseEach parses #{each item in Collection}…#{/each}; s is just past
// "each" and its whitespace.
func (p *parser) parseEach(start int, s *scanner) (tagResult, error) {
	malformed := func() (tagResult, error) {
		return tagResult{}, errorAt(p.src, start, "malformed #{each}: expected #{each item in Collection}")
	}
	item, ok := s.identifier(true)
	if !ok {
		return malformed()
	}
	s.skipSpace()
	if !s.keywordFold("in") {
		return malformed()
	}
	s.pos += 2
	s.skipSpace()
	coll, ok, err := p.parseSymbol(s)
	if err != nil {
		return tagResult{}, err
	}
	if !ok {
		return malformed()
	}
	s.skipSpace()
	if s.peekByte() != '}' {
		return malformed()
	}
	s.pos++
	body, term, err := p.parseNodes(s.pos)
	if err != nil {
		return tagResult{}, err
	}
	if term.kind != termEndEach {
		return tagResult{}, p.blockEndError("each", start, term)
	}
	return tagResult{node: &eachNode{pos: start, item: item, coll: coll, body: body}, end: term.end}, nil
}

// parseCalc parses #{calc expression}; s is just past "calc" and its
// whitespace.
func (p *parser) parseCalc(start int, s *scanner) (tagResult, error) {
	exprStart := s.pos
	root, ok, err := p.calcSum(s)
	if err != nil {
		return tagResult{}, err
	}
	if ok {
		s.skipSpace()
		ok = s.peekByte() == '}'
	}
	if !ok {
		text := p.src[exprStart:]
		if i := strings.IndexByte(text, '}'); i >= 0 {
			text = text[:i]
		}
		return tagResult{}, errorAt(p.src, s.pos, "bad #{calc} expression %q: expected numbers, variables, + - * / and parentheses", text)
	}
	s.pos++
	return tagResult{node: &calcNode{pos: start, raw: p.src[start:s.pos], root: root}, end: s.pos}, nil
}

// checkFilters rejects unknown and unsupported filters once a tag has parsed
// completely (a "#{" that turns out to be literal text is not checked).
func (p *parser) checkFilters(e *expr) error {
	for _, f := range e.filters {
		if f.fn != nil {
			continue
		}
		if isUnsupportedFilter(f.name) {
			return errorAt(p.src, f.pos, "filter %q is not supported", f.name)
		}
		return errorAt(p.src, f.pos, "unknown filter %q", f.name)
	}
	return nil
}

package runner

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The XPath subset structured configuration supports — what config files
// need (Octopus accepts all of XPath 2):
//
//	/a/b, a/b (from the root), //b, /a//b, *, p:name, *:name, p:*
//	@attr, @*, @p:attr, attribute::attr, child::name, text(), child::text()
//	predicates, chained: [@k='v'] [@k!="v"] [@k] [name='v'] [name]
//	[text()='v'] [.='v'] [2] [last()], joined with "and" / "or"
//
// Comparisons with a number literal ([@port=80]) compare as numbers.

type xpathExpr struct{ steps []xpathStep }

type xpathStep struct {
	descendant bool // reached through "//"
	attribute  bool
	text       bool
	test       nameTest
	predicates []xpathPredicate
}

// nameTest matches a name; an empty field with the any flag is "*".
type nameTest struct {
	prefix    string
	anyPrefix bool // *:name
	local     string
	anyLocal  bool // * or p:*
}

// xpathPredicate is an or of ands of terms.
type xpathPredicate [][]xpathTerm

type xpathTerm struct {
	position int  // [n]; 0 if not positional
	last     bool // [last()]
	operand  xpathOperand
	op       string // "=", "!=" or "" (exists)
	literal  string
	numeric  bool // the literal is a number
}

type xpathOperand struct {
	kind string // "attr", "child", "text", "self"
	test nameTest
}

type xpathParser struct {
	s   string
	pos int
}

func parseXPath(s string) (*xpathExpr, error) {
	p := &xpathParser{s: strings.TrimSpace(s)}
	expr := &xpathExpr{}
	descendant := false
	switch {
	case p.take("//"):
		descendant = true
	case p.take("/"):
	}
	for {
		step, err := p.step()
		if err != nil {
			return nil, err
		}
		step.descendant = descendant
		expr.steps = append(expr.steps, step)
		p.spaces()
		if p.pos == len(p.s) {
			break
		}
		switch {
		case p.take("//"):
			descendant = true
		case p.take("/"):
			descendant = false
		default:
			return nil, p.errorf("expected '/' or the end")
		}
	}
	for i, st := range expr.steps[:len(expr.steps)-1] {
		if st.attribute || st.text {
			return nil, fmt.Errorf("step %d selects attributes or text, which have no children", i+1)
		}
	}
	return expr, nil
}

func (p *xpathParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at character %d: %s", p.pos+1, fmt.Sprintf(format, args...))
}

func (p *xpathParser) spaces() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

func (p *xpathParser) take(tok string) bool {
	p.spaces()
	if strings.HasPrefix(p.s[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

func (p *xpathParser) step() (xpathStep, error) {
	var st xpathStep
	switch {
	case p.take("@"), p.take("attribute::"):
		st.attribute = true
	case p.take("child::"):
	}
	if !st.attribute && p.take("text()") {
		st.text = true
	} else {
		t, err := p.nameTest()
		if err != nil {
			return st, err
		}
		st.test = t
	}
	for p.take("[") {
		pred, err := p.predicate()
		if err != nil {
			return st, err
		}
		if !p.take("]") {
			return st, p.errorf("expected ']'")
		}
		st.predicates = append(st.predicates, pred)
	}
	return st, nil
}

func (p *xpathParser) name() string {
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 {
			p.pos++
			continue
		}
		break
	}
	return p.s[start:p.pos]
}

func (p *xpathParser) nameTest() (nameTest, error) {
	p.spaces()
	var t nameTest
	if p.take("*") {
		if p.pos < len(p.s) && p.s[p.pos] == ':' && !strings.HasPrefix(p.s[p.pos:], "::") {
			p.pos++
			t.anyPrefix = true
			if t.local = p.name(); t.local == "" {
				return t, p.errorf("expected a name after '*:'")
			}
			return t, nil
		}
		t.anyPrefix, t.anyLocal = true, true
		return t, nil
	}
	first := p.name()
	if first == "" || first[0] >= '0' && first[0] <= '9' || first[0] == '.' || first[0] == '-' {
		return t, p.errorf("expected a name")
	}
	if p.pos < len(p.s) && p.s[p.pos] == ':' && !strings.HasPrefix(p.s[p.pos:], "::") {
		p.pos++
		t.prefix = first
		if p.take("*") {
			t.anyLocal = true
			return t, nil
		}
		if t.local = p.name(); t.local == "" {
			return t, p.errorf("expected a name after %q", first+":")
		}
		return t, nil
	}
	if p.pos < len(p.s) && (p.s[p.pos] == '(' || strings.HasPrefix(p.s[p.pos:], "::")) {
		return t, p.errorf("%q is not supported", first+p.s[p.pos:min(p.pos+2, len(p.s))])
	}
	t.local = first
	return t, nil
}

func (p *xpathParser) predicate() (xpathPredicate, error) {
	var pred xpathPredicate
	for {
		var and []xpathTerm
		for {
			term, err := p.term()
			if err != nil {
				return nil, err
			}
			and = append(and, term)
			if !p.keyword("and") {
				break
			}
		}
		pred = append(pred, and)
		if !p.keyword("or") {
			return pred, nil
		}
	}
}

// keyword takes "and"/"or" as a whole word.
func (p *xpathParser) keyword(word string) bool {
	save := p.pos
	p.spaces()
	if strings.HasPrefix(p.s[p.pos:], word) {
		after := p.pos + len(word)
		if after < len(p.s) && (p.s[after] == ' ' || p.s[after] == '@' || p.s[after] == '(') {
			p.pos = after
			return true
		}
	}
	p.pos = save
	return false
}

func (p *xpathParser) term() (xpathTerm, error) {
	var t xpathTerm
	p.spaces()
	if p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		start := p.pos
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		n, err := strconv.Atoi(p.s[start:p.pos])
		if err != nil || n < 1 {
			return t, p.errorf("a position starts at 1")
		}
		t.position = n
		return t, nil
	}
	switch {
	case p.take("last()"):
		t.last = true
		return t, nil
	case p.take("@"), p.take("attribute::"):
		test, err := p.nameTest()
		if err != nil {
			return t, err
		}
		t.operand = xpathOperand{kind: "attr", test: test}
	case p.take("text()"):
		t.operand = xpathOperand{kind: "text"}
	case p.take("."):
		t.operand = xpathOperand{kind: "self"}
	default:
		p.take("child::")
		test, err := p.nameTest()
		if err != nil {
			return t, err
		}
		t.operand = xpathOperand{kind: "child", test: test}
	}
	switch {
	case p.take("!="):
		t.op = "!="
	case p.take("="):
		t.op = "="
	default:
		return t, nil
	}
	p.spaces()
	if p.pos >= len(p.s) {
		return t, p.errorf("expected a value after %q", t.op)
	}
	if q := p.s[p.pos]; q == '\'' || q == '"' {
		end := strings.IndexByte(p.s[p.pos+1:], q)
		if end < 0 {
			return t, p.errorf("unterminated string")
		}
		t.literal = p.s[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		return t, nil
	}
	start := p.pos
	for p.pos < len(p.s) && (p.s[p.pos] >= '0' && p.s[p.pos] <= '9' || p.s[p.pos] == '.' || p.s[p.pos] == '-') {
		p.pos++
	}
	if _, err := strconv.ParseFloat(p.s[start:p.pos], 64); err != nil {
		return t, p.errorf("expected a quoted string or a number")
	}
	t.literal, t.numeric = p.s[start:p.pos], true
	return t, nil
}

// xmlSelection is a selected element, text node or attribute.
type xmlSelection struct {
	node *xmlNode
	attr *xmlAttr
}

var errUndeclaredPrefix = errors.New("undeclared namespace prefix")

// evaluate selects in document order, each node once.
func (e *xpathExpr) evaluate(doc *xmlDoc) ([]xmlSelection, error) {
	context := []*xmlNode{doc.root}
	for i, st := range e.steps {
		last := i == len(e.steps)-1
		var next []xmlSelection
		seen := map[any]bool{}
		for _, c := range context {
			origins := []*xmlNode{c}
			if st.descendant {
				origins = descendantsOrSelf(c)
			}
			for _, o := range origins {
				found, err := st.apply(doc, o)
				if err != nil {
					return nil, err
				}
				for _, f := range found {
					key := any(f.node)
					if f.attr != nil {
						key = f.attr
					}
					if !seen[key] {
						seen[key] = true
						next = append(next, f)
					}
				}
			}
		}
		if last {
			return inDocumentOrder(doc, next), nil
		}
		context = context[:0:0]
		for _, n := range next {
			context = append(context, n.node)
		}
	}
	return nil, nil
}

func descendantsOrSelf(n *xmlNode) []*xmlNode {
	out := []*xmlNode{n}
	for _, c := range n.children {
		if c.kind == xmlElement {
			out = append(out, descendantsOrSelf(c)...)
		}
	}
	return out
}

// inDocumentOrder sorts selections as they appear in the source.
func inDocumentOrder(doc *xmlDoc, sel []xmlSelection) []xmlSelection {
	order := map[any]int{}
	var walk func(n *xmlNode)
	walk = func(n *xmlNode) {
		order[n] = len(order)
		for _, a := range n.attrs {
			order[a] = len(order)
		}
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(doc.root)
	key := func(s xmlSelection) int {
		if s.attr != nil {
			return order[s.attr]
		}
		return order[s.node]
	}
	out := append([]xmlSelection(nil), sel...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && key(out[j]) < key(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// apply selects the step's candidates below one origin node and filters
// them through the predicates, positions counting within that node.
func (st xpathStep) apply(doc *xmlDoc, origin *xmlNode) ([]xmlSelection, error) {
	var candidates []xmlSelection
	switch {
	case st.attribute:
		for _, a := range origin.attrs {
			ok, err := st.test.matchAttr(doc, a)
			if err != nil {
				return nil, err
			}
			if ok {
				candidates = append(candidates, xmlSelection{attr: a})
			}
		}
	case st.text:
		for _, c := range origin.children {
			if c.kind == xmlText || c.kind == xmlCDATA {
				candidates = append(candidates, xmlSelection{node: c})
			}
		}
	default:
		for _, c := range origin.children {
			if c.kind != xmlElement {
				continue
			}
			ok, err := st.test.matchElement(doc, c)
			if err != nil {
				return nil, err
			}
			if ok {
				candidates = append(candidates, xmlSelection{node: c})
			}
		}
	}
	for _, pred := range st.predicates {
		var kept []xmlSelection
		for i, c := range candidates {
			ok, err := pred.holds(doc, c, i+1, len(candidates))
			if err != nil {
				return nil, err
			}
			if ok {
				kept = append(kept, c)
			}
		}
		candidates = kept
	}
	return candidates, nil
}

func (t nameTest) namespace(doc *xmlDoc) (string, error) {
	uri, ok := doc.prefixes[t.prefix]
	if !ok {
		return "", errUndeclaredPrefix
	}
	return uri, nil
}

func (t nameTest) matchElement(doc *xmlDoc, n *xmlNode) (bool, error) {
	if !t.anyLocal && n.local != t.local {
		return false, nil
	}
	if t.anyPrefix {
		return true, nil
	}
	if t.prefix == "" {
		return n.namespace == "", nil
	}
	uri, err := t.namespace(doc)
	return err == nil && n.namespace == uri, err
}

func (t nameTest) matchAttr(doc *xmlDoc, a *xmlAttr) (bool, error) {
	if !t.anyLocal && a.local != t.local {
		return false, nil
	}
	if t.anyPrefix {
		return true, nil
	}
	if t.prefix == "" {
		return a.namespace == "", nil
	}
	uri, err := t.namespace(doc)
	return err == nil && a.namespace == uri, err
}

func (p xpathPredicate) holds(doc *xmlDoc, c xmlSelection, position, size int) (bool, error) {
	for _, and := range p {
		all := true
		for _, term := range and {
			ok, err := term.holds(doc, c, position, size)
			if err != nil {
				return false, err
			}
			if !ok {
				all = false
				break
			}
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}

func (t xpathTerm) holds(doc *xmlDoc, c xmlSelection, position, size int) (bool, error) {
	switch {
	case t.position > 0:
		return position == t.position, nil
	case t.last:
		return position == size, nil
	}
	values, err := t.operand.values(doc, c)
	if err != nil {
		return false, err
	}
	for _, v := range values {
		if t.op == "" || t.compare(v) {
			return true, nil
		}
	}
	return false, nil
}

func (t xpathTerm) compare(v string) bool {
	equal := v == t.literal
	if t.numeric {
		a, errA := strconv.ParseFloat(strings.TrimSpace(v), 64)
		b, _ := strconv.ParseFloat(t.literal, 64)
		equal = errA == nil && a == b
	}
	return equal == (t.op == "=")
}

// values are the strings an operand yields for a candidate; none means it
// does not exist there.
func (o xpathOperand) values(doc *xmlDoc, c xmlSelection) ([]string, error) {
	if c.attr != nil {
		if o.kind == "self" {
			return []string{c.attr.value}, nil
		}
		return nil, nil
	}
	var out []string
	switch o.kind {
	case "self":
		out = append(out, c.node.stringValue())
	case "text":
		for _, ch := range c.node.children {
			if ch.kind == xmlText || ch.kind == xmlCDATA {
				out = append(out, ch.text)
			}
		}
	case "attr":
		for _, a := range c.node.attrs {
			ok, err := o.test.matchAttr(doc, a)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, a.value)
			}
		}
	case "child":
		for _, ch := range c.node.children {
			if ch.kind != xmlElement {
				continue
			}
			ok, err := o.test.matchElement(doc, ch)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, ch.stringValue())
			}
		}
	}
	return out, nil
}

package template

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Lookup gives raw variable values; names are case-insensitive (the
// caller's map handles that).
type Lookup interface {
	Get(name string) (string, bool)
}

// NameLister may be implemented by a Lookup to list every variable name.
// #{each} over indexed groups (Endpoint[A].Address, Endpoint[B].Address…)
// and the [*] indexer need it; *vars.Values implements it. Groups are
// visited in the order their first variable appears in Names().
type NameLister interface {
	Names() []string
}

// Options control rendering.
type Options struct {
	Now func() time.Time // for NowDate/NowDateUtc; time.Now when nil
	// InValue: rendering a variable's own value (undefined references
	// become ""), rather than a template/script/config file (undefined
	// references are left exactly as written).
	InValue bool

	// Safety limits; zero means the default. Unexported so tests can lower
	// them without widening the API.
	maxOutput     int
	maxIterations int
}

const (
	defaultMaxOutput     = 256 << 20  // bytes produced by one render
	defaultMaxIterations = 10_000_000 // #{each} iterations in one render
	maxExpansionDepth    = 1000       // variables expanding variables
)

// Evaluate parses and renders text. Variable values that themselves contain
// #{...} are expanded recursively (as Octopus does), with reference cycles
// detected and reported.
func Evaluate(text string, vars Lookup, opts Options) (string, error) {
	t, err := Parse(text)
	if err != nil {
		return "", err
	}
	return t.Render(vars, opts)
}

// Render renders the template. It is safe to call concurrently.
func (t *Template) Render(vars Lookup, opts Options) (string, error) {
	r := newRenderer(vars, opts)
	var b strings.Builder
	b.Grow(len(t.src) + len(t.src)/4)
	if err := r.renderNodes(&b, t.nodes, nil, &frame{src: t.src, inValue: opts.InValue}); err != nil {
		return "", err
	}
	return b.String(), nil
}

// frame is the text being rendered: the template, or a variable's value.
type frame struct {
	src      string // for error positions
	variable string // whose value this is; "" for the template
	inValue  bool
}

type stackEntry struct{ name, key string }

type jsonCacheEntry struct{ v *jsonValue }

// renderer holds the state of one Render call. Nothing in it outlives the
// call, so concurrent renders share nothing.
type renderer struct {
	vars   Lookup
	lister NameLister
	opts   Options

	now    time.Time
	hasNow bool

	names      []string
	namesDone  bool
	indexCache map[string][]string

	values  map[string]string // expanded values of variables, by lower-case name
	jsons   map[string]jsonCacheEntry
	regexps map[string]*regexp.Regexp
	stack   []stackEntry // variables being expanded, outermost first

	produced   int
	iterations int
}

type emptyLookup struct{}

func (emptyLookup) Get(string) (string, bool) { return "", false }

func newRenderer(vars Lookup, opts Options) *renderer {
	if vars == nil {
		vars = emptyLookup{}
	}
	if opts.maxOutput <= 0 {
		opts.maxOutput = defaultMaxOutput
	}
	if opts.maxIterations <= 0 {
		opts.maxIterations = defaultMaxIterations
	}
	lister, _ := vars.(NameLister)
	return &renderer{vars: vars, lister: lister, opts: opts}
}

func (r *renderer) currentTime() time.Time {
	if !r.hasNow {
		if r.opts.Now != nil {
			r.now = r.opts.Now()
		} else {
			r.now = time.Now()
		}
		r.hasNow = true
	}
	return r.now
}

func (r *renderer) write(b *strings.Builder, s string) {
	r.produced += len(s)
	b.WriteString(s)
}

func (r *renderer) renderNodes(b *strings.Builder, nodes []node, sc *scope, cx *frame) error {
	for _, n := range nodes {
		var err error
		switch n := n.(type) {
		case *textNode:
			r.write(b, n.text)
		case *substNode:
			err = r.renderSubst(b, n, sc, cx)
		case *ifNode:
			err = r.renderIf(b, n, sc, cx)
		case *eachNode:
			err = r.renderEach(b, n, sc, cx)
		case *calcNode:
			err = r.renderCalc(b, n, sc, cx)
		}
		if err != nil {
			return err
		}
		if r.produced > r.opts.maxOutput {
			return locate(fmt.Errorf("output exceeds %d bytes", r.opts.maxOutput), cx.src, nodePos(n), cx.variable)
		}
	}
	return nil
}

func nodePos(n node) int {
	switch n := n.(type) {
	case *substNode:
		return n.pos
	case *ifNode:
		return n.pos
	case *eachNode:
		return n.pos
	case *calcNode:
		return n.pos
	}
	return 0
}

// unresolved writes what a tag that yields no value becomes: nothing inside
// a variable's value, the tag as written elsewhere.
func (r *renderer) unresolved(b *strings.Builder, raw string, cx *frame) {
	if !cx.inValue {
		r.write(b, raw)
	}
}

func (r *renderer) renderSubst(b *strings.Builder, n *substNode, sc *scope, cx *frame) error {
	v, ok, err := r.evalExpr(n.expr, sc, cx)
	if err != nil {
		return locate(err, cx.src, n.pos, cx.variable)
	}
	if ok {
		r.write(b, v)
	} else {
		r.unresolved(b, n.raw, cx)
	}
	return nil
}

// evalExpr resolves the symbol and applies the filters in order. A filter
// that cannot apply (wrong arguments, unusable input) yields no value, as in
// Octostache.
func (r *renderer) evalExpr(e *expr, sc *scope, cx *frame) (string, bool, error) {
	var val string
	var ok bool
	if e.sym != nil {
		var err error
		val, ok, err = r.resolve(e.sym, sc, cx)
		if err != nil {
			return "", false, err
		}
	}
	for _, f := range e.filters {
		args := make([]string, len(f.args))
		for i, a := range f.args {
			if a.tag == nil {
				args[i] = a.text
				continue
			}
			var ab strings.Builder
			if err := r.renderNodes(&ab, []node{a.tag}, sc, cx); err != nil {
				return "", false, err
			}
			args[i] = ab.String()
		}
		var err error
		val, ok, err = f.fn(filterInput{value: val, defined: ok, args: args, r: r})
		if err != nil {
			return "", false, locate(err, cx.src, f.pos, cx.variable)
		}
	}
	return val, ok, nil
}

// operandValue evaluates one side of a condition. A bare variable that is
// undefined counts as ""; a filter chain that yields nothing is reported
// with ok false.
func (r *renderer) operandValue(o operand, sc *scope, cx *frame) (string, bool, error) {
	if o.isLiteral {
		return o.literal, true, nil
	}
	if len(o.expr.filters) == 0 {
		v, _, err := r.resolve(o.expr.sym, sc, cx)
		return v, true, err
	}
	return r.evalExpr(o.expr, sc, cx)
}

func (r *renderer) renderIf(b *strings.Builder, n *ifNode, sc *scope, cx *frame) error {
	c := n.cond
	left, leftOK, err := r.operandValue(c.left, sc, cx)
	if err != nil {
		return locate(err, cx.src, n.pos, cx.variable)
	}
	right, rightOK := "", true
	if c.op != condTruthy {
		right, rightOK, err = r.operandValue(c.right, sc, cx)
		if err != nil {
			return locate(err, cx.src, n.pos, cx.variable)
		}
	}
	if !leftOK || !rightOK {
		// Octostache echoes the whole block when a condition's filters
		// yield nothing; inside a value that side counts as "".
		if !cx.inValue {
			r.write(b, n.raw)
			return nil
		}
		if !leftOK {
			left = ""
		}
		if !rightOK {
			right = ""
		}
	}
	var take bool
	switch c.op {
	case condTruthy:
		take = isTruthy(left)
	case condEqual:
		take = left == right
	default:
		take = left != right
	}
	if take {
		return r.renderNodes(b, n.then, sc, cx)
	}
	return r.renderNodes(b, n.otherwise, sc, cx)
}

// isTruthy is Octostache's rule: false when "", "0", or (trimmed, any case)
// "false" or "no".
func isTruthy(v string) bool {
	if v == "" || v == "0" {
		return false
	}
	t := strings.TrimFunc(v, isSpace)
	return !strings.EqualFold(t, "false") && !strings.EqualFold(t, "no")
}

func (r *renderer) renderEach(b *strings.Builder, n *eachNode, sc *scope, cx *frame) error {
	items, err := r.collection(n.coll, sc, cx)
	if err != nil {
		return locate(err, cx.src, n.pos, cx.variable)
	}
	for i, it := range items {
		r.iterations++
		if r.iterations > r.opts.maxIterations {
			return locate(fmt.Errorf("more than %d #{each} iterations", r.opts.maxIterations), cx.src, n.pos, cx.variable)
		}
		it.parent, it.name, it.index, it.count = sc, n.item, i, len(items)
		if err := r.renderNodes(b, n.body, it, cx); err != nil {
			return err
		}
	}
	return nil
}

func (r *renderer) renderCalc(b *strings.Builder, n *calcNode, sc *scope, cx *frame) error {
	v, ok, err := r.evalCalc(n.root, sc, cx)
	if err != nil {
		return locate(err, cx.src, n.pos, cx.variable)
	}
	if ok {
		r.write(b, formatDotnetDouble(v))
	} else {
		r.unresolved(b, n.raw, cx)
	}
	return nil
}

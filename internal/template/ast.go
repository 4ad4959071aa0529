package template

// A Template is parsed once and may be rendered many times, concurrently.
type Template struct {
	src   string
	nodes []node
}

// node is one of *textNode, *substNode, *ifNode, *eachNode or *calcNode.
// Offsets (pos) are byte offsets into the owning template's source; raw is
// the tag exactly as written, echoed when the tag cannot be evaluated.
type node interface{ isNode() }

type textNode struct{ text string }

// substNode is #{expression}.
type substNode struct {
	pos  int
	raw  string
	expr *expr
}

// ifNode is #{if}, #{unless} (branches swapped) and #{elseif} (folded into
// nested ifNodes in the else branch, as Octostache does).
type ifNode struct {
	pos       int
	raw       string
	cond      *condition
	then      []node
	otherwise []node
}

// eachNode is #{each item in Collection}.
type eachNode struct {
	pos  int
	item string
	coll *symbol
	body []node
}

// calcNode is #{calc expression}.
type calcNode struct {
	pos  int
	raw  string
	root calcTerm
}

func (*textNode) isNode()  {}
func (*substNode) isNode() {}
func (*ifNode) isNode()    {}
func (*eachNode) isNode()  {}
func (*calcNode) isNode()  {}

// expr is an optional symbol followed by filters: "A.B | ToLower | Trim end".
type expr struct {
	sym     *symbol
	filters []*filterCall
}

type filterCall struct {
	pos  int
	name string     // as written, for messages
	fn   filterFunc // nil when the name is unknown or unsupported
	args []filterArg
}

// filterArg is literal text, or a nested tag evaluated to text.
type filterArg struct {
	text string
	tag  node
}

// symbol is a variable path such as Octopus.Action[Step 1].Output.Name.
type symbol struct {
	steps []step
	// For paths without nested #{...} indexers, resolved once at parse time.
	static    []cstep
	canonical string
	cuts      []int // canonical[:cuts[k]] is the name of the first k steps
}

// step is one path element: an identifier, a literal index, or an index
// taken from another variable (#{...} inside brackets).
type step struct {
	text   string
	index  bool
	nested *symbol
}

// cstep is a path element after nested indexers have been resolved.
type cstep struct {
	text  string
	index bool
}

type condOp int

const (
	condTruthy condOp = iota
	condEqual
	condNotEqual
)

type condition struct {
	left, right operand
	op          condOp
}

// operand is a quoted literal or an expression.
type operand struct {
	literal   string
	isLiteral bool
	expr      *expr
}

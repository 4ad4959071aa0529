package template

import (
	"strconv"
)

// calcTerm is a node of a #{calc} expression: *calcNum, *calcVar or *calcOp.
type calcTerm interface{ isCalc() }

type calcNum struct{ value float64 }

type calcVar struct{ sym *symbol }

type calcOp struct {
	op          byte // + - * /
	left, right calcTerm
}

func (*calcNum) isCalc() {}
func (*calcVar) isCalc() {}
func (*calcOp) isCalc()  {}

// The grammar follows Octostache: sum := product (("+"|"-") product)*,
// product := factor (("*"|"/") factor)*, factor := "(" sum ")" | number |
// "{" Name "}" | Name. Because "-" and "/" may appear in variable names,
// "B-2" is the variable "B-2"; write "{B}-2" to subtract.
//
// On failure s.pos is left where parsing stopped, for the error message.
func (p *parser) calcSum(s *scanner) (calcTerm, bool, error) {
	return p.calcChain(s, "+-", p.calcProduct)
}

func (p *parser) calcProduct(s *scanner) (calcTerm, bool, error) {
	return p.calcChain(s, "*/", p.calcFactor)
}

func (p *parser) calcChain(s *scanner, ops string, operand func(*scanner) (calcTerm, bool, error)) (calcTerm, bool, error) {
	left, ok, err := operand(s)
	if err != nil || !ok {
		return nil, false, err
	}
	for {
		mark := s.pos
		s.skipSpace()
		c := s.peekByte()
		if c == 0 || (c != ops[0] && c != ops[1]) {
			s.pos = mark
			return left, true, nil
		}
		s.pos++
		right, ok, err := operand(s)
		if err != nil || !ok {
			return nil, false, err
		}
		left = &calcOp{op: c, left: left, right: right}
	}
}

func (p *parser) calcFactor(s *scanner) (calcTerm, bool, error) {
	s.skipSpace()
	switch c := s.peekByte(); {
	case c == '(':
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxNesting {
			return nil, false, errorAt(p.src, s.pos, "template nested more than %d levels deep", maxNesting)
		}
		s.pos++
		inner, ok, err := p.calcSum(s)
		if err != nil || !ok {
			return nil, false, err
		}
		s.skipSpace()
		if s.peekByte() != ')' {
			return nil, false, nil
		}
		s.pos++
		return inner, true, nil
	case c >= '0' && c <= '9':
		start := s.pos
		for s.pos < len(s.src) && s.src[s.pos] >= '0' && s.src[s.pos] <= '9' {
			s.pos++
		}
		if s.pos+1 < len(s.src) && s.src[s.pos] == '.' && s.src[s.pos+1] >= '0' && s.src[s.pos+1] <= '9' {
			s.pos++
			for s.pos < len(s.src) && s.src[s.pos] >= '0' && s.src[s.pos] <= '9' {
				s.pos++
			}
		}
		v, err := strconv.ParseFloat(s.src[start:s.pos], 64)
		if err != nil {
			return nil, false, nil
		}
		return &calcNum{value: v}, true, nil
	case c == '{':
		s.pos++
		s.skipSpace()
		sym, ok, err := p.parseSymbol(s)
		if err != nil || !ok {
			return nil, false, err
		}
		s.skipSpace()
		if s.peekByte() != '}' {
			return nil, false, nil
		}
		s.pos++
		return &calcVar{sym: sym}, true, nil
	default:
		sym, ok, err := p.parseSymbol(s)
		if err != nil || !ok {
			return nil, false, err
		}
		return &calcVar{sym: sym}, true, nil
	}
}

// evalCalc computes a calc expression; ok is false when a variable is
// undefined or not a number, and the tag is then echoed as written.
func (r *renderer) evalCalc(t calcTerm, sc *scope, cx *frame) (float64, bool, error) {
	switch t := t.(type) {
	case *calcNum:
		return t.value, true, nil
	case *calcVar:
		v, ok, err := r.resolve(t.sym, sc, cx)
		if err != nil || !ok {
			return 0, false, err
		}
		f, ok := parseDotnetDouble(v)
		return f, ok, nil
	case *calcOp:
		l, ok, err := r.evalCalc(t.left, sc, cx)
		if err != nil || !ok {
			return 0, false, err
		}
		rv, ok, err := r.evalCalc(t.right, sc, cx)
		if err != nil || !ok {
			return 0, false, err
		}
		switch t.op {
		case '+':
			return l + rv, true, nil
		case '-':
			return l - rv, true, nil
		case '*':
			return l * rv, true, nil
		default:
			return l / rv, true, nil
		}
	}
	return 0, false, nil
}

package template

import "strings"

// parseExpr parses an optional symbol followed by filters, without the
// closing brace. ok is false (and s unmoved) when the text is not an
// expression; err reports a broken nested tag inside a filter argument.
func (p *parser) parseExpr(s *scanner) (e *expr, ok bool, err error) {
	save := s.pos
	s.skipSpace()
	e = &expr{}
	if sym, ok, err := p.parseSymbol(s); err != nil {
		return nil, false, err
	} else if ok {
		e.sym = sym
	}
	for {
		mark := s.pos
		s.skipSpace()
		if s.peekByte() != '|' {
			s.pos = mark
			break
		}
		s.pos++
		s.skipSpace()
		fpos := s.pos
		name, ok := s.identifier(false)
		if !ok {
			s.pos = save
			return nil, false, nil
		}
		fc := &filterCall{pos: fpos, name: name, fn: lookupFilter(name)}
		for {
			m := s.pos
			s.skipSpace()
			arg, ok, err := p.parseFilterArg(s)
			if err != nil {
				return nil, false, err
			}
			if !ok {
				s.pos = m
				break
			}
			fc.args = append(fc.args, arg)
		}
		e.filters = append(e.filters, fc)
	}
	if e.sym == nil && len(e.filters) == 0 {
		s.pos = save
		return nil, false, nil
	}
	return e, true, nil
}

// parseFilterArg parses one filter argument: a nested tag, a quoted string
// or an unquoted word.
func (p *parser) parseFilterArg(s *scanner) (filterArg, bool, error) {
	if s.hasPrefix("#{") {
		res, err := p.parseTag(s.pos)
		if err != nil {
			return filterArg{}, false, err
		}
		if res.node == nil {
			return filterArg{}, false, nil
		}
		s.pos = res.end
		return filterArg{tag: res.node}, true, nil
	}
	if text, ok := p.quoted(s); ok {
		return filterArg{text: text}, true, nil
	}
	if text, ok := s.identifier(false); ok {
		return filterArg{text: text}, true, nil
	}
	return filterArg{}, false, nil
}

// parseSymbol parses Name(.Name | [index] | [#{Symbol}])*.
func (p *parser) parseSymbol(s *scanner) (*symbol, bool, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		return nil, false, errorAt(p.src, s.pos, "template nested more than %d levels deep", maxNesting)
	}
	first, ok := s.identifier(true)
	if !ok {
		return nil, false, nil
	}
	sym := &symbol{steps: []step{{text: first}}}
	for {
		mark := s.pos
		switch s.peekByte() {
		case '.':
			s.pos++
			id, ok := s.identifier(true)
			if !ok {
				s.pos = mark
				return sym.finish(), true, nil
			}
			sym.steps = append(sym.steps, step{text: id})
			continue
		case '[':
			st, ok, err := p.parseIndexer(s)
			if err != nil {
				return nil, false, err
			}
			if !ok {
				s.pos = mark
				return sym.finish(), true, nil
			}
			sym.steps = append(sym.steps, st)
			continue
		}
		return sym.finish(), true, nil
	}
}

// parseIndexer parses [#{Symbol}] (an index taken from another variable) or
// [literal text], where the literal may contain balanced brackets.
func (p *parser) parseIndexer(s *scanner) (step, bool, error) {
	open := s.pos
	t := &scanner{src: p.src, pos: open + 1}
	t.skipSpace()
	if t.hasPrefix("#{") {
		t.pos += 2
		t.skipSpace()
		sym, ok, err := p.parseSymbol(t)
		if err != nil {
			return step{}, false, err
		}
		if ok {
			t.skipSpace()
			if t.peekByte() == '}' {
				t.pos++
				t.skipSpace()
				if t.peekByte() == ']' {
					s.pos = t.pos + 1
					return step{index: true, nested: sym}, true, nil
				}
			}
		}
	}
	end, ok := p.matchBracket(open)
	if !ok {
		return step{}, false, nil
	}
	s.pos = end
	return step{text: p.src[open+1 : end-1], index: true}, true, nil
}

// finish precomputes the canonical name of a path with no nested indexers.
func (sym *symbol) finish() *symbol {
	static := make([]cstep, len(sym.steps))
	for i, st := range sym.steps {
		if st.nested != nil {
			return sym
		}
		static[i] = cstep{text: st.text, index: st.index}
	}
	sym.static = static
	sym.canonical, sym.cuts = canonicalName(static)
	return sym
}

// canonicalName spells a path the way variables are named: identifiers
// joined by dots, indexes in brackets. cuts[k] is the length of the name of
// the first k steps.
func canonicalName(steps []cstep) (string, []int) {
	var b strings.Builder
	cuts := make([]int, len(steps)+1)
	for k, st := range steps {
		if st.index {
			b.WriteByte('[')
			b.WriteString(st.text)
			b.WriteByte(']')
		} else {
			if k > 0 {
				b.WriteByte('.')
			}
			b.WriteString(st.text)
		}
		cuts[k+1] = b.Len()
	}
	return b.String(), cuts
}

// parseCondition parses the condition of #{if}: Expr, Expr == Expr,
// Expr != Expr, or either side a quoted literal (not both).
func (p *parser) parseCondition(s *scanner) (*condition, bool, error) {
	s.skipSpace()
	c := &condition{}
	left, ok, err := p.parseOperand(s)
	if err != nil || !ok {
		return nil, false, err
	}
	c.left = left
	mark := s.pos
	s.skipSpace()
	switch {
	case s.hasPrefix("=="):
		c.op = condEqual
	case s.hasPrefix("!="):
		c.op = condNotEqual
	default:
		s.pos = mark
		if left.isLiteral {
			return nil, false, nil
		}
		return c, true, nil
	}
	s.pos += 2
	s.skipSpace()
	right, ok, err := p.parseOperand(s)
	if err != nil || !ok {
		return nil, false, err
	}
	if left.isLiteral && right.isLiteral {
		return nil, false, nil
	}
	c.right = right
	return c, true, nil
}

func (p *parser) parseOperand(s *scanner) (operand, bool, error) {
	if text, ok := p.quoted(s); ok {
		return operand{literal: text, isLiteral: true}, true, nil
	}
	e, ok, err := p.parseExpr(s)
	if err != nil || !ok {
		return operand{}, false, err
	}
	return operand{expr: e}, true, nil
}

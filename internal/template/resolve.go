package template

import (
	"fmt"
	"strconv"
	"strings"
)

type itemKind int

const (
	itemValue   itemKind = iota // a comma-separated value or JSON array element
	itemIndexed                 // an index of a variable group: Coll[index]
	itemEntry                   // a property of a JSON object (.Key, .Value)
)

// scope is one #{each} iteration. Loop variables shadow globals only when a
// path through them resolves; otherwise the outer scope (and finally the
// variables) is tried with the same path, as in Octostache.
type scope struct {
	parent       *scope
	name         string // the loop variable, matched case-insensitively
	index, count int

	kind  itemKind
	value string     // what #{item} gives
	base  []cstep    // itemIndexed: the path Coll[index]
	entry *jsonValue // itemEntry: the property's value; itemValue: its parse, if JSON
}

const eachPrefix = "Octopus.Template.Each."

// special gives Octopus.Template.Each.Index/First/Last for this iteration.
func (s *scope) special(canonical string) (string, bool) {
	if len(canonical) <= len(eachPrefix) || !strings.EqualFold(canonical[:len(eachPrefix)], eachPrefix) {
		return "", false
	}
	switch strings.ToLower(canonical[len(eachPrefix):]) {
	case "index":
		return strconv.Itoa(s.index), true
	case "first":
		return dotnetBool(s.index == 0), true
	case "last":
		return dotnetBool(s.index == s.count-1), true
	}
	return "", false
}

func dotnetBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// concrete resolves nested [#{...}] indexers. ok is false when one of them
// is undefined, which makes the whole path undefined.
func (r *renderer) concrete(sym *symbol, sc *scope, cx *frame) (steps []cstep, canonical string, cuts []int, ok bool, err error) {
	if sym.static != nil {
		return sym.static, sym.canonical, sym.cuts, true, nil
	}
	steps = make([]cstep, len(sym.steps))
	for i, st := range sym.steps {
		if st.nested == nil {
			steps[i] = cstep{text: st.text, index: st.index}
			continue
		}
		v, ok, err := r.resolve(st.nested, sc, cx)
		if err != nil || !ok {
			return nil, "", nil, false, err
		}
		steps[i] = cstep{text: v, index: true}
	}
	canonical, cuts = canonicalName(steps)
	return steps, canonical, cuts, true, nil
}

// resolve gives the expanded value of a variable path.
func (r *renderer) resolve(sym *symbol, sc *scope, cx *frame) (string, bool, error) {
	steps, canonical, cuts, ok, err := r.concrete(sym, sc, cx)
	if err != nil || !ok {
		return "", false, err
	}
	return r.resolveSteps(steps, canonical, cuts, sc)
}

func (r *renderer) resolveSteps(steps []cstep, canonical string, cuts []int, sc *scope) (string, bool, error) {
	for s := sc; s != nil; s = s.parent {
		if v, ok := s.special(canonical); ok {
			return v, true, nil
		}
		if !steps[0].index && strings.EqualFold(steps[0].text, s.name) {
			v, ok, err := r.resolveInItem(s, steps[1:])
			if err != nil || ok {
				return v, ok, err
			}
		}
	}
	return r.resolveGlobal(steps, canonical, cuts, 0)
}

// resolveInItem resolves the rest of a path that starts with a loop variable.
func (r *renderer) resolveInItem(s *scope, rest []cstep) (string, bool, error) {
	switch s.kind {
	case itemIndexed:
		full := make([]cstep, 0, len(s.base)+len(rest))
		full = append(append(full, s.base...), rest...)
		canonical, cuts := canonicalName(full)
		if len(rest) == 0 {
			// A variable named exactly Coll[index] supplies the item's
			// value; otherwise the item is its index.
			if v, ok, err := r.variableValue(canonical); err != nil || ok {
				return v, ok, err
			}
			return s.value, true, nil
		}
		return r.resolveGlobal(full, canonical, cuts, 0)
	case itemEntry:
		if len(rest) == 0 {
			return s.value, true, nil
		}
		if rest[0].index {
			return "", false, nil
		}
		switch {
		case strings.EqualFold(rest[0].text, "Key") && len(rest) == 1:
			return s.value, true, nil
		case strings.EqualFold(rest[0].text, "Value"):
			v, ok := navigateJSON(s.entry, rest[1:])
			return v, ok, nil
		}
		return "", false, nil
	default:
		if len(rest) == 0 {
			return s.value, true, nil
		}
		if s.entry == nil {
			s.entry = parseJSONContainer(s.value)
		}
		if s.entry == nil {
			return "", false, nil
		}
		v, ok := navigateJSON(s.entry, rest)
		return v, ok, nil
	}
}

// resolveGlobal looks a path up among the variables: the whole name first,
// then the longest defined prefix whose value is JSON, navigated with the
// remaining steps. A defined variable always wins over a JSON property.
//
// Wildcard indexes ([*]) at or after step from are expanded.
func (r *renderer) resolveGlobal(steps []cstep, canonical string, cuts []int, from int) (string, bool, error) {
	for k := from; k < len(steps); k++ {
		if st := steps[k]; st.index && st.text == "*" {
			if v, ok, err, handled := r.resolveWildcard(steps, k); handled {
				return v, ok, err
			}
		}
	}
	if v, ok, err := r.variableValue(canonical); err != nil || ok {
		return v, ok, err
	}
	for k := len(steps) - 1; k >= 1; k-- {
		prefix := canonical[:cuts[k]]
		raw, ok := r.vars.Get(prefix)
		if !ok {
			continue
		}
		return r.navigateVariable(prefix, raw, steps[k:], canonical)
	}
	return "", false, nil
}

// resolveWildcard resolves Coll[*].Rest as the first index of Coll for
// which the rest resolves. When Coll has no indexes, "*" is an ordinary
// index (handled is false).
func (r *renderer) resolveWildcard(steps []cstep, k int) (v string, ok bool, err error, handled bool) {
	prefix, _ := canonicalName(steps[:k])
	idxs := r.indexes(prefix)
	if len(idxs) == 0 {
		return "", false, nil, false
	}
	full := append([]cstep(nil), steps...)
	for _, idx := range idxs {
		full[k] = cstep{text: idx, index: true}
		canonical, cuts := canonicalName(full)
		if v, ok, err := r.resolveGlobal(full, canonical, cuts, k+1); err != nil || ok {
			return v, ok, err, true
		}
	}
	return "", false, nil, true
}

// variableValue gives a variable's value with its own references expanded.
func (r *renderer) variableValue(name string) (string, bool, error) {
	raw, ok := r.vars.Get(name)
	if !ok {
		return "", false, nil
	}
	if !strings.Contains(raw, "#{") {
		return raw, true, nil
	}
	v, err := r.expandValue(name, raw)
	if err != nil {
		return "", false, err
	}
	return v, true, nil
}

// expandValue renders text as the value of name, detecting reference
// cycles. Values are expanded in the variables' own scope (loop variables
// are not visible), so each is rendered once per Render and cached.
func (r *renderer) expandValue(name, text string) (string, error) {
	key := strings.ToLower(name)
	if v, ok := r.values[key]; ok {
		return v, nil
	}
	for i, e := range r.stack {
		if e.key == key {
			chain := make([]string, 0, len(r.stack)-i+1)
			for _, f := range r.stack[i:] {
				chain = append(chain, f.name)
			}
			chain = append(chain, name)
			return "", &Error{Msg: cycleMsgPrefix + strings.Join(chain, " -> ")}
		}
	}
	if len(r.stack) >= maxExpansionDepth {
		return "", fmt.Errorf("variables refer to variables more than %d levels deep", maxExpansionDepth)
	}
	t, err := Parse(text)
	if err != nil {
		if e, ok := err.(*Error); ok && e.Variable == "" {
			e.Variable = name
		}
		return "", err
	}
	r.stack = append(r.stack, stackEntry{name: name, key: key})
	var b strings.Builder
	err = r.renderNodes(&b, t.nodes, nil, &frame{src: text, variable: name, inValue: true})
	r.stack = r.stack[:len(r.stack)-1]
	if err != nil {
		return "", err
	}
	if r.values == nil {
		r.values = make(map[string]string)
	}
	r.values[key] = b.String()
	return b.String(), nil
}

// navigateVariable reads a JSON property path out of the value of prefix.
// The raw value is tried first, so JSON whose strings refer back to the same
// variable works; then, if the value has references, its expansion.
func (r *renderer) navigateVariable(prefix, raw string, rest []cstep, full string) (string, bool, error) {
	key := strings.ToLower(prefix)
	if jv := r.cachedJSON(key, raw); jv != nil {
		if v, ok := navigateJSON(jv, rest); ok {
			if strings.Contains(v, "#{") {
				expanded, err := r.expandValue(full, v)
				return expanded, err == nil, err
			}
			return v, true, nil
		}
	}
	if !strings.Contains(raw, "#{") {
		return "", false, nil
	}
	expanded, err := r.expandValue(prefix, raw)
	if err != nil {
		if isCycle(err) {
			return "", false, nil
		}
		return "", false, err
	}
	if jv := r.cachedJSON("\x00"+key, expanded); jv != nil {
		v, ok := navigateJSON(jv, rest)
		return v, ok, nil
	}
	return "", false, nil
}

func (r *renderer) cachedJSON(key, text string) *jsonValue {
	if e, ok := r.jsons[key]; ok {
		return e.v
	}
	if r.jsons == nil {
		r.jsons = make(map[string]jsonCacheEntry)
	}
	v := parseJSONContainer(text)
	r.jsons[key] = jsonCacheEntry{v: v}
	return v
}

// collection lists the items #{each} visits: the indexes of a variable
// group, else the elements of a JSON array or properties of a JSON object,
// else the comma-separated parts of the value.
func (r *renderer) collection(sym *symbol, sc *scope, cx *frame) ([]*scope, error) {
	steps, canonical, cuts, ok, err := r.concrete(sym, sc, cx)
	if err != nil || !ok {
		return nil, err
	}
	type candidate struct {
		steps []cstep
		name  string
	}
	var candidates []candidate
	for s := sc; s != nil; s = s.parent {
		if _, ok := s.special(canonical); ok {
			break
		}
		if !steps[0].index && strings.EqualFold(steps[0].text, s.name) {
			if s.kind == itemIndexed {
				full := append(append([]cstep(nil), s.base...), steps[1:]...)
				name, _ := canonicalName(full)
				candidates = append(candidates, candidate{full, name})
			}
			break
		}
	}
	candidates = append(candidates, candidate{steps, canonical})
	for _, c := range candidates {
		idxs := r.indexes(c.name)
		if len(idxs) == 0 {
			continue
		}
		items := make([]*scope, len(idxs))
		for i, idx := range idxs {
			base := make([]cstep, 0, len(c.steps)+1)
			base = append(append(base, c.steps...), cstep{text: idx, index: true})
			items[i] = &scope{kind: itemIndexed, value: idx, base: base}
		}
		return items, nil
	}

	v, ok, err := r.resolveSteps(steps, canonical, cuts, sc)
	if err != nil || !ok {
		return nil, err
	}
	if jv := parseJSONContainer(v); jv != nil {
		if jv.kind == jsonArray {
			items := make([]*scope, len(jv.elems))
			for i, e := range jv.elems {
				items[i] = &scope{kind: itemValue, value: e.text(), entry: e}
			}
			return items, nil
		}
		items := make([]*scope, len(jv.members))
		for i, m := range jv.members {
			items[i] = &scope{kind: itemEntry, value: m.key, entry: m.value}
		}
		return items, nil
	}
	// Octostache splits without trimming, and "" gives one empty item.
	parts := strings.Split(v, ",")
	items := make([]*scope, len(parts))
	for i, p := range parts {
		items[i] = &scope{kind: itemValue, value: p}
	}
	return items, nil
}

// indexes lists the distinct indexes of variables named path[index]…, in
// the order Names() gives them.
func (r *renderer) indexes(path string) []string {
	if r.lister == nil {
		return nil
	}
	key := strings.ToLower(path)
	if v, ok := r.indexCache[key]; ok {
		return v
	}
	if !r.namesDone {
		r.names = r.lister.Names()
		r.namesDone = true
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range r.names {
		if len(n) <= len(path) || n[len(path)] != '[' || !strings.EqualFold(n[:len(path)], path) {
			continue
		}
		content, end, ok := bracketed(n, len(path))
		if !ok || (end < len(n) && n[end] != '.' && n[end] != '[') {
			continue
		}
		k := strings.ToLower(content)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, content)
	}
	if r.indexCache == nil {
		r.indexCache = make(map[string][]string)
	}
	r.indexCache[key] = out
	return out
}

// Package vars decides which value of each variable applies where, and
// substitutes #{Name} references in text. The runner and the server share it.
package vars

import (
	"sort"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// Scope is where a value is being asked for: the deployment's environment
// (later also machine, role, step and channel).
type Scope struct {
	EnvironmentID string
}

// Values is a resolved set of variables. Names are case-insensitive.
type Values struct {
	m map[string]entry
}

type entry struct {
	name  string // as first written
	value string
}

// NewValues returns an empty set.
func NewValues() *Values { return &Values{m: map[string]entry{}} }

// Set gives name a value, replacing any before.
func (v *Values) Set(name, value string) {
	key := strings.ToLower(name)
	if e, ok := v.m[key]; ok {
		name = e.name
	}
	v.m[key] = entry{name: name, value: value}
}

// Clone returns an independent copy.
func (v *Values) Clone() *Values {
	c := &Values{m: make(map[string]entry, len(v.m))}
	for k, e := range v.m {
		c.m[k] = e
	}
	return c
}

// Get returns name's raw value (references in it not yet substituted).
func (v *Values) Get(name string) (string, bool) {
	e, ok := v.m[strings.ToLower(name)]
	return e.value, ok
}

// Names lists the names in the set, sorted.
func (v *Values) Names() []string {
	out := make([]string, 0, len(v.m))
	for _, e := range v.m {
		out = append(out, e.name)
	}
	sort.Strings(out)
	return out
}

// Resolve picks, for every variable name, the value whose scope matches and
// is most specific: a value scoped to the environment beats an unscoped one.
// Values scoped elsewhere do not apply.
func Resolve(vs []model.Variable, s Scope) *Values {
	type best struct {
		rank  int
		value string
		name  string
	}
	chosen := map[string]best{}
	for _, v := range vs {
		rank, ok := match(v.Scope, s)
		if !ok {
			continue
		}
		key := strings.ToLower(v.Name)
		if b, seen := chosen[key]; !seen || rank > b.rank {
			chosen[key] = best{rank: rank, value: v.Value, name: v.Name}
		}
	}
	out := NewValues()
	for _, b := range chosen {
		out.Set(b.name, b.value)
	}
	return out
}

// match reports whether a scope applies, and how specific it is: the number
// of scope kinds it names.
func match(sc model.Scope, s Scope) (int, bool) {
	rank := 0
	if len(sc.Environments) > 0 {
		if !contains(sc.Environments, s.EnvironmentID) {
			return 0, false
		}
		rank++
	}
	return rank, true
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// maxDepth bounds how deep values referring to values are followed, so a
// cycle (A refers to B, B to A) ends.
const maxDepth = 16

// Evaluate replaces each #{Name} in text with the variable's value, itself
// evaluated. A reference to an undefined name stays as written, so a
// mistake shows in the output instead of vanishing. ##{ writes a literal #{.
func Evaluate(text string, v *Values) string {
	return evaluate(text, v, 0)
}

func evaluate(text string, v *Values, depth int) string {
	if !strings.Contains(text, "#{") {
		return text
	}
	var b strings.Builder
	for {
		i := strings.Index(text, "#{")
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		if i > 0 && text[i-1] == '#' {
			b.WriteString(text[:i-1])
			b.WriteString("#{")
			text = text[i+2:]
			continue
		}
		end := strings.IndexByte(text[i+2:], '}')
		if end < 0 {
			b.WriteString(text)
			return b.String()
		}
		b.WriteString(text[:i])
		ref := text[i : i+2+end+1]
		name := strings.TrimSpace(text[i+2 : i+2+end])
		if value, ok := v.Get(name); ok && depth < maxDepth {
			b.WriteString(evaluate(value, v, depth+1))
		} else {
			b.WriteString(ref)
		}
		text = text[i+2+end+1:]
	}
}

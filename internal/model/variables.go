package model

import (
	"fmt"
	"slices"
)

// VariableSet holds a project's variables. Version increases with every change.
type VariableSet struct {
	OwnerID   string     `json:"ownerId"`
	Version   int        `json:"version"`
	Variables []Variable `json:"variables"`
}

// Variable is one value of a named variable; several values of the same name
// may exist with different scopes, and the most specific one wins.
type Variable struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Value string `json:"value"`
	Scope Scope  `json:"scope,omitzero"`
}

// Scope narrows where a value applies. Within one kind any listed value
// matches; across kinds all must match. An empty scope applies everywhere.
type Scope struct {
	Environments []string `json:"environments,omitempty"`
}

// IsZero reports an unscoped value.
func (s Scope) IsZero() bool { return len(s.Environments) == 0 }

// MaxVariableValueLength bounds one value.
const MaxVariableValueLength = 1 << 20

// Validate checks names, values and that scopes name environments that exist.
func (vs *VariableSet) Validate(knownEnvironments map[string]string) error {
	p := problems{subject: "variables"}
	for i, v := range vs.Variables {
		field := fmt.Sprintf("variables[%d]", i)
		checkName(&p, field+".name", v.Name)
		if len(v.Value) > MaxVariableValueLength {
			p.add(field+".value", "is %d bytes; the limit is %d", len(v.Value), MaxVariableValueLength)
		}
		for _, id := range v.Scope.Environments {
			if _, ok := knownEnvironments[id]; !ok {
				p.add(field+".scope.environments", "environment %q does not exist", id)
			}
		}
	}
	// Two values with the same name and the same scope would make the result
	// depend on their order.
	for i, a := range vs.Variables {
		for _, b := range vs.Variables[i+1:] {
			if SameName(a.Name, b.Name) && sameScope(a.Scope, b.Scope) {
				p.add("variables", "%q has two values with the same scope; remove one or scope them differently", a.Name)
			}
		}
	}
	return p.err()
}

func sameScope(a, b Scope) bool {
	x, y := slices.Clone(a.Environments), slices.Clone(b.Environments)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

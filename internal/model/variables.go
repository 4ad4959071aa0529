package model

import (
	"fmt"
	"slices"
	"strings"
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
	// Sensitive values are stored sealed, never returned by the API, and
	// masked in task logs. Saving one with an empty value keeps the value
	// it had.
	Sensitive bool `json:"sensitive,omitempty"`
	// Prompt makes the value one that is asked for when a deployment is
	// created; the stored value is the default.
	Prompt *Prompt `json:"prompt,omitempty"`
	// LibrarySetID marks a value that came from a library variable set
	// (in a release's snapshot); on a tie a project's own value wins.
	LibrarySetID string `json:"librarySetId,omitempty"`
	// Type is empty for text; Certificate makes Value a certificate's id
	// (see certificate.go).
	Type string `json:"type,omitempty"`
}

// Scope narrows where a value applies. Within one kind any listed value
// matches; across kinds all must match. An empty scope applies everywhere.
type Scope struct {
	Environments []string `json:"environments,omitempty"`
	// Roles are target roles; a value scoped to a role applies on machines
	// that have it.
	Roles []string `json:"roles,omitempty"`
	// Machines are machine ids.
	Machines []string `json:"machines,omitempty"`
	// Steps are step ids of the project's process.
	Steps []string `json:"steps,omitempty"`
	// Channels are channel ids of the project: the value is for releases
	// in those channels.
	Channels []string `json:"channels,omitempty"`
}

// IsZero reports an unscoped value.
func (s Scope) IsZero() bool {
	return len(s.Environments)+len(s.Roles)+len(s.Machines)+len(s.Steps)+len(s.Channels) == 0
}

// MaxVariableValueLength bounds one value.
const MaxVariableValueLength = 1 << 20

// ScopeRefs is what scopes may name: ids that exist, mapped to names.
// A nil map is not checked.
type ScopeRefs struct {
	Environments map[string]string
	Machines     map[string]string
	Steps        map[string]string
	Channels     map[string]string
}

// Validate checks names, values and that scopes name things that exist.
func (vs *VariableSet) Validate(refs ScopeRefs) error {
	p := problems{subject: "variables"}
	check := func(field, kind string, ids []string, known map[string]string) {
		if known == nil {
			return
		}
		for _, id := range ids {
			if _, ok := known[id]; !ok {
				p.add(field, "%s %q does not exist", kind, id)
			}
		}
	}
	for i, v := range vs.Variables {
		field := fmt.Sprintf("variables[%d]", i)
		checkName(&p, field+".name", v.Name)
		if len(v.Value) > MaxVariableValueLength {
			p.add(field+".value", "is %d bytes; the limit is %d", len(v.Value), MaxVariableValueLength)
		}
		switch {
		case v.Type != "" && !v.IsCertificate():
			p.add(field+".type", "%q is not a variable type: leave it out for text, or use %s", v.Type, VariableTypeCertificate)
		case v.IsCertificate() && (v.Sensitive || v.Prompt != nil):
			p.add(field+".type", "a certificate variable cannot be sensitive or prompted: its value is a certificate's id, and its private parts are sensitive anyway")
		case v.IsCertificate() && v.Value == "":
			p.add(field+".value", "is required: the id of a certificate (Certificates-N)")
		}
		check(field+".scope.environments", "environment", v.Scope.Environments, refs.Environments)
		check(field+".scope.machines", "machine", v.Scope.Machines, refs.Machines)
		check(field+".scope.steps", "step", v.Scope.Steps, refs.Steps)
		check(field+".scope.channels", "channel", v.Scope.Channels, refs.Channels)
		for j, r := range v.Scope.Roles {
			if strings.TrimSpace(r) == "" || strings.ContainsAny(r, ", \t\n") {
				p.add(fmt.Sprintf("%s.scope.roles[%d]", field, j), "%q is not a role name", r)
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

// SameScope reports whether two scopes name the same things.
func SameScope(a, b Scope) bool { return sameScope(a, b) }

func sameScope(a, b Scope) bool {
	return sameSet(a.Environments, b.Environments) && sameSet(a.Roles, b.Roles) && sameSet(a.Machines, b.Machines) &&
		sameSet(a.Steps, b.Steps) && sameSet(a.Channels, b.Channels)
}

// sameSet compares two lists as sets; roles compare ignoring case.
func sameSet(a, b []string) bool {
	norm := func(l []string) []string {
		out := make([]string, len(l))
		for i, v := range l {
			out[i] = strings.ToLower(v)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}

// Redacted returns the variables with every sensitive value blanked: what
// the API shows.
func Redacted(vs []Variable) []Variable {
	out := slices.Clone(vs)
	for i := range out {
		if out[i].Sensitive {
			out[i].Value = ""
		}
	}
	return out
}

// LibraryVariableSet is a set of variables projects share. Its variables
// take the same scopes as a project's, except steps and channels (which
// belong to one project).
type LibraryVariableSet struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Version     int        `json:"version"`
	Variables   []Variable `json:"variables"`
}

// Validate checks the set's own fields; its variables are checked as a
// VariableSet.
func (l *LibraryVariableSet) Validate() error {
	p := problems{subject: "library variable set"}
	checkName(&p, "name", l.Name)
	for i, v := range l.Variables {
		if len(v.Scope.Steps) > 0 || len(v.Scope.Channels) > 0 {
			p.add(fmt.Sprintf("variables[%d].scope", i), "a library set's values cannot be scoped to steps or channels, which belong to one project")
		}
	}
	return p.err()
}

// Prompt describes a value asked for at deployment time.
type Prompt struct {
	Label       string `json:"label,omitempty"`
	Description string `json:"description,omitempty"`
	// Required values must be given when deploying (the default is not
	// used).
	Required bool `json:"required,omitempty"`
}

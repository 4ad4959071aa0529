// Package vars decides which value of each variable applies where, and
// hides sensitive values in text. The template language that uses the
// values is in package template.
package vars

import (
	"slices"
	"sort"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// Scope is where values are being asked for: one step of a deployment on
// one machine (or on a worker, with no machine).
type Scope struct {
	EnvironmentID string
	ChannelID     string
	StepID        string
	// MachineID and MachineRoles describe the target; empty on a worker.
	MachineID    string
	MachineRoles []string
	// TargetRoles are the roles the step aims at.
	TargetRoles []string
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

// Specificity of each kind of scope, as Octopus ranks them and like CSS
// rules: a value scoped to a step beats any value not scoped to one, and
// so on down; among values scoped to the same most specific kind, the next
// kind decides. A role counts more when the step also aims at it.
const (
	rankChannel      = 1 << iota
	rankEnvironment  // 2
	rankRole         // 4
	rankTargetedRole // 8
	rankMachine      // 16
	rankStep         // 32
)

// Resolve picks, for every variable name, the value whose scope matches and
// is most specific. On a tie a project's own value beats a library set's,
// and then the first listed wins. Values scoped elsewhere do not apply.
func Resolve(vs []model.Variable, s Scope) *Values {
	type best struct {
		rank    int
		library bool
		value   string
		name    string
	}
	chosen := map[string]best{}
	for _, v := range vs {
		rank, ok := Match(v.Scope, s)
		if !ok {
			continue
		}
		key := strings.ToLower(v.Name)
		library := v.LibrarySetID != ""
		b, seen := chosen[key]
		if !seen || beats(rank, library, b.rank, b.library) {
			chosen[key] = best{rank: rank, library: library, value: v.Value, name: v.Name}
		}
	}
	out := NewValues()
	for _, b := range chosen {
		out.Set(b.name, b.value)
	}
	return out
}

// Winner returns which of one name's values applies at s, as Resolve
// chooses it, or false when none does.
func Winner(values []model.Variable, s Scope) (int, bool) {
	best, bestRank, bestLibrary := -1, 0, false
	for i, v := range values {
		rank, ok := Match(v.Scope, s)
		if !ok {
			continue
		}
		library := v.LibrarySetID != ""
		if best < 0 || beats(rank, library, bestRank, bestLibrary) {
			best, bestRank, bestLibrary = i, rank, library
		}
	}
	return best, best >= 0
}

// beats reports whether a matching value replaces the one chosen so far:
// it is more specific, or as specific and the project's own against a
// library set's. Otherwise the first listed stays.
func beats(rank int, library bool, chosenRank int, chosenLibrary bool) bool {
	return rank > chosenRank || (rank == chosenRank && chosenLibrary && !library)
}

// Match reports whether a scope applies where s is, and how specific it is.
// Within one kind any listed value matches; across kinds all must.
func Match(sc model.Scope, s Scope) (rank int, ok bool) {
	if len(sc.Steps) > 0 {
		if !slices.Contains(sc.Steps, s.StepID) {
			return 0, false
		}
		rank |= rankStep
	}
	if len(sc.Machines) > 0 {
		if !slices.Contains(sc.Machines, s.MachineID) {
			return 0, false
		}
		rank |= rankMachine
	}
	if len(sc.Roles) > 0 {
		matched, targeted := false, false
		for _, r := range sc.Roles {
			if containsFold(s.MachineRoles, r) {
				matched = true
				targeted = targeted || containsFold(s.TargetRoles, r)
			}
		}
		if !matched {
			return 0, false
		}
		if targeted {
			rank |= rankTargetedRole
		} else {
			rank |= rankRole
		}
	}
	if len(sc.Environments) > 0 {
		if !slices.Contains(sc.Environments, s.EnvironmentID) {
			return 0, false
		}
		rank |= rankEnvironment
	}
	if len(sc.Channels) > 0 {
		if !slices.Contains(sc.Channels, s.ChannelID) {
			return 0, false
		}
		rank |= rankChannel
	}
	return rank, true
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

package store

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

func TestVariableCyclesAreFoundWhereValuesMeet(t *testing.T) {
	v := func(name, value string, envs ...string) model.Variable {
		return model.Variable{Name: name, Value: value, Scope: model.Scope{Environments: envs}}
	}
	library := func(x model.Variable) model.Variable { x.LibrarySetID = "LibraryVariableSets-1"; return x }
	sensitive := func(x model.Variable) model.Variable { x.Sensitive = true; return x }
	roles := func(x model.Variable, r ...string) model.Variable { x.Scope.Roles = r; return x }
	for _, tt := range []struct {
		name string
		vs   []model.Variable
		want []string // "index: the renderer's words"
	}{
		{"two values that refer to each other",
			[]model.Variable{v("A", "#{B}"), v("B", "x#{A}")},
			[]string{"0: variable reference cycle: B -> A -> B", "1: variable reference cycle: A -> B -> A"}},
		{"a value that refers to itself",
			[]model.Variable{v("A", "x#{A}")},
			[]string{"0: variable reference cycle: A -> A"}},
		{"three in a ring",
			[]model.Variable{v("A", "#{B}"), v("B", "#{C}"), v("C", "#{A}")},
			[]string{"0: variable reference cycle: B -> C -> A -> B", "1: variable reference cycle: C -> A -> B -> C", "2: variable reference cycle: A -> B -> C -> A"}},
		{"another value of a name for Dev does not hide the cycle everywhere else",
			[]model.Variable{v("A", "#{B}"), v("B", "#{A}"), v("A", "fixed", "Dev")},
			[]string{"0: variable reference cycle: B -> A -> B", "1: variable reference cycle: A -> B -> A"}},
		{"the Dev value wins wherever the Dev-only value refers to it",
			[]model.Variable{v("A", "#{B}"), v("A", "fixed", "Dev"), v("B", "#{A}", "Dev")},
			nil},
		{"values for Dev and for Test never meet",
			[]model.Variable{v("A", "#{B}", "Dev"), v("B", "#{A}", "Test")},
			nil},
		{"values for Dev and for Dev or Test meet in Dev",
			[]model.Variable{v("A", "#{B}", "Dev"), v("B", "#{A}", "Test", "Dev")},
			[]string{"0: variable reference cycle: B -> A -> B", "1: variable reference cycle: A -> B -> A"}},
		// Outside Dev the unscoped value refers to nothing, so the cycle is
		// the Dev value's.
		{"an unscoped value meets one for Dev in Dev",
			[]model.Variable{v("A", "#{B}"), v("B", "#{A}", "Dev")},
			[]string{"1: variable reference cycle: A -> B -> A"}},
		{"a value for a role meets an unscoped one on machines with the role",
			[]model.Variable{roles(v("A", "#{B}"), "web"), v("B", "#{A}")},
			[]string{"0: variable reference cycle: B -> A -> B"}},
		{"a value only leading to a cycle is not blamed for it",
			[]model.Variable{v("Start", "#{B}"), v("B", "#{C}"), v("C", "#{B}")},
			[]string{"1: variable reference cycle: C -> B -> C", "2: variable reference cycle: B -> C -> B"}},
		{"a library set's value the project's own hides",
			[]model.Variable{library(v("A", "#{B}")), v("A", "plain"), library(v("B", "#{A}"))},
			nil},
		{"a library set's value and the project's",
			[]model.Variable{library(v("A", "#{B}")), v("B", "#{A}")},
			[]string{"0: variable reference cycle: B -> A -> B", "1: variable reference cycle: A -> B -> A"}},
		{"a sensitive value is never rendered, so a chain through it ends there",
			[]model.Variable{v("A", "#{B}"), sensitive(v("B", "#{A}"))},
			nil},
		{"no references at all",
			[]model.Variable{v("A", "a"), v("A", "b", "Dev"), v("B", "#{A} and #{Missing}")},
			nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range variableCycles(tt.vs) {
				got = append(got, fmt.Sprintf("%d: %s", c.index, c.msg))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

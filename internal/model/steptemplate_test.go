package model

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestStepTemplateValidation(t *testing.T) {
	script := &ScriptAction{Syntax: SyntaxBash, Body: "echo"}
	for _, tc := range []struct {
		name string
		t    StepTemplate
		want []string // substrings of the problems; none: valid
	}{
		{"valid", StepTemplate{Name: "T", Script: script, Parameters: []StepTemplateParameter{
			{Name: "A"}, {Name: "B.c-d_e", Control: ControlMultiline}, {Name: "On", Control: ControlCheckbox, DefaultValue: "True"},
			{Name: "Pick", Control: ControlSelect, Options: []string{"x", "y"}, DefaultValue: "y"}, {Name: "Pw", Control: ControlSensitive}}}, nil},
		{"no name or action", StepTemplate{}, []string{"name: is required", "says nothing to do"}},
		{"two actions", StepTemplate{Name: "T", Script: script, Package: &PackageAction{PackageID: "app"}}, []string{"not both"}},
		{"names", StepTemplate{Name: "T", Script: script, Parameters: []StepTemplateParameter{{Name: ""}, {Name: "a b"}, {Name: "X"}, {Name: "x"}, {Name: "Octopus.Foo"}}},
			[]string{"parameters[0].name: is required", `"a b" is not a variable name`, `another parameter is already called "x"`, "would hide a system variable"}},
		{"controls", StepTemplate{Name: "T", Script: script, Parameters: []StepTemplateParameter{
			{Name: "C", Control: ControlCheckbox, DefaultValue: "yes"}, {Name: "S", Control: ControlSelect}, {Name: "S2", Control: ControlSelect, Options: []string{"a"}, DefaultValue: "b"},
			{Name: "P", Control: ControlSensitive, DefaultValue: "pw"}, {Name: "K", Control: "slider"}, {Name: "O", Options: []string{"a"}}}},
			[]string{"a checkbox is True or False", "a select needs the options", `"b" is not one of the options`, "a sensitive parameter has no default",
				`"slider" is not a control`, "only a select has options"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.t.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a validation error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v lacks %q", err, w)
				}
			}
		})
	}
}

func TestApplyToReplacesTheActionAndSortsParameters(t *testing.T) {
	tmpl := StepTemplate{Name: "T", Version: 3, Script: &ScriptAction{Syntax: SyntaxBash, Body: "from template"}, Parameters: []StepTemplateParameter{
		{Name: "Db", DefaultValue: "main"}, {Name: "Pw", Control: ControlSensitive}, {Name: "Mode", Control: ControlSelect, Options: []string{"a", "b"}}}}
	s := Step{Name: "s", Manual: &ManualAction{Instructions: "x"},
		Template: &StepTemplateRef{ID: "ActionTemplates-1", Parameters: map[string]string{"db": "#{X}", "Pw": "secret", "Mode": "c"}}}
	sensitive, err := tmpl.ApplyTo(&s, "steps[0]")
	if err == nil || !strings.Contains(err.Error(), `"c" is not one of the options (a, b)`) {
		t.Fatalf("a value outside the options: %v", err)
	}
	s.Template.Parameters = map[string]string{"db": "#{X}", "Pw": "secret", "Nope": "1"}
	s.Template.Parameters["Mode"] = "b"
	if _, err := tmpl.ApplyTo(&s, "steps[0]"); err == nil || !strings.Contains(err.Error(), `T version 3 has no parameter "Nope"`) {
		t.Fatalf("an unknown parameter: %v", err)
	}
	s.Template.Parameters = map[string]string{"db": "#{X}", "Pw": "secret", "Mode": "b"}
	sensitive, err = tmpl.ApplyTo(&s, "steps[0]")
	if err != nil {
		t.Fatal(err)
	}
	if s.Manual != nil || s.Script == nil || s.Script.Body != "from template" {
		t.Errorf("the action was not replaced: %+v", s)
	}
	// Names take the template's spelling; the secret goes apart.
	if s.Template.Parameters["Db"] != "#{X}" || s.Template.Parameters["Mode"] != "b" || s.Template.Parameters["Pw"] != "" || sensitive["Pw"] != "secret" {
		t.Errorf("parameters %+v, sensitive %+v", s.Template.Parameters, sensitive)
	}
	if s.Template.Defaults["Db"] != "main" {
		t.Errorf("defaults %+v", s.Template.Defaults)
	}
	s.Script.Body = "changed"
	if tmpl.Script.Body != "from template" {
		t.Error("the step shares the template's script")
	}
}

func TestDiffStepTemplates(t *testing.T) {
	a := StepTemplate{Version: 1, Package: &PackageAction{PackageID: "app", SubstituteFiles: []string{"a"}},
		Parameters: []StepTemplateParameter{{Name: "Keep", DefaultValue: "1"}, {Name: "Gone"}, {Name: "Label", Label: "old"}}}
	b := StepTemplate{Version: 2, Package: &PackageAction{PackageID: "app", SubstituteFiles: []string{"a", "b"}, CustomInstallDir: "/srv"},
		Parameters: []StepTemplateParameter{{Name: "Keep", DefaultValue: "2"}, {Name: "New"}, {Name: "Label", Label: "new"}}}
	c := DiffStepTemplates(a, b)
	if c.From != 1 || c.To != 2 || !slices.Equal(c.Fields, []string{"package.customInstallDir", "package.substituteFiles"}) ||
		!slices.Equal(c.ParametersAdded, []string{"New"}) || !slices.Equal(c.ParametersRemoved, []string{"Gone"}) ||
		!slices.Equal(c.DefaultsChanged, []string{"Keep"}) || !slices.Equal(c.OtherChanged, []string{"Label"}) || c.None() {
		t.Fatalf("%+v", c)
	}
	if c := DiffStepTemplates(a, a); !c.None() {
		t.Fatalf("a version against itself: %+v", c)
	}
}

func TestRedactStepsKeepsNamesOnly(t *testing.T) {
	steps := []Step{{Name: "s", Template: &StepTemplateRef{ID: "x", Sensitive: map[string]string{"Pw": "sealed"}}}}
	out := RedactSteps(steps)
	if v, ok := out[0].Template.Sensitive["Pw"]; !ok || v != "" {
		t.Fatalf("redacted: %+v", out[0].Template)
	}
	if steps[0].Template.Sensitive["Pw"] != "sealed" {
		t.Fatal("redacting changed the original")
	}
}

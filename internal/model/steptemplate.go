package model

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// StepTemplate is a reusable, parameterised step kept in the library
// (Octopus's "step template", ActionTemplates-N). Every saved change makes
// a new version; every version's content is kept, so a project step that
// uses version 1 keeps doing what version 1 says after version 2 is saved.
type StepTemplate struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Version starts at 1 and grows with every saved change; an update
	// must name the version it read.
	Version    int                     `json:"version"`
	Parameters []StepTemplateParameter `json:"parameters,omitempty"`
	// What the step does: one of these, as on a project's step.
	Script  *ScriptAction  `json:"script,omitempty"`
	Package *PackageAction `json:"package,omitempty"`
}

// StepTemplateParameter is a value each step made from the template gives;
// its script sees it as a variable of that name.
type StepTemplateParameter struct {
	Name     string `json:"name"`
	Label    string `json:"label,omitempty"`
	HelpText string `json:"helpText,omitempty"`
	// Control is how the portal asks for it: text (default), multiline,
	// checkbox (True/False), select (one of Options) or sensitive (a secret:
	// sealed at rest, masked in logs, never returned).
	Control      ParameterControl `json:"control,omitempty"`
	DefaultValue string           `json:"defaultValue,omitempty"`
	Options      []string         `json:"options,omitempty"`
}

// ParameterControl is the kind of a step template parameter.
type ParameterControl string

// The parameter controls.
const (
	ControlText      ParameterControl = "text"
	ControlMultiline ParameterControl = "multiline"
	ControlCheckbox  ParameterControl = "checkbox"
	ControlSelect    ParameterControl = "select"
	ControlSensitive ParameterControl = "sensitive"
)

// StepTemplateRef says a project's step is made from a step template:
// which one, which version, and the step's parameter values.
type StepTemplateRef struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	// Parameters are the step's values, templates (#{…}) rendered with the
	// step's variables at deployment. A sensitive parameter's value is
	// written here too; the server moves it, sealed, to Sensitive.
	Parameters map[string]string `json:"parameters,omitempty"`
	// Sensitive holds the sealed values of sensitive parameters. The server
	// fills it (whatever a client sends is ignored) and the API returns
	// the names only, with empty values.
	Sensitive map[string]string `json:"sensitive,omitempty"`
	// Defaults are the template version's defaults, copied by the server so
	// a release snapshot carries everything its deployments need.
	Defaults map[string]string `json:"defaults,omitempty"`
}

// ScriptModule is shared script code that steps include by name: a bash
// module is sourced before a bash script's body; a python module is
// written beside a Python script as NAME.py, so "import NAME" works.
type ScriptModule struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Syntax      ScriptSyntax `json:"syntax"`
	Body        string       `json:"body"`
}

// SyntaxPython is the syntax of Python scripts (run with python3) and
// script modules.
const SyntaxPython ScriptSyntax = "python"

// parameterNamePattern is what a variable name a script can read looks
// like: letters, digits, dots, underscores and dashes, starting with a
// letter or underscore.
var parameterNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]{0,199}$`)

// moduleNamePattern keeps module names usable as Python module and file
// names.
var moduleNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,99}$`)

// Normalize fills defaults: text controls, bash scripts.
func (t *StepTemplate) Normalize() {
	for i := range t.Parameters {
		if t.Parameters[i].Control == "" {
			t.Parameters[i].Control = ControlText
		}
	}
	if t.Script != nil && t.Script.Syntax == "" {
		t.Script.Syntax = SyntaxBash
	}
	if t.Package != nil {
		d := DeploymentProcess{Steps: []Step{{Package: t.Package}}}
		d.Normalize()
	}
}

// Validate checks the template.
func (t *StepTemplate) Validate() error {
	p := problems{subject: "step template"}
	checkName(&p, "name", t.Name)
	seen := map[string]bool{}
	for i, par := range t.Parameters {
		field := fmt.Sprintf("parameters[%d]", i)
		switch {
		case par.Name == "":
			p.add(field+".name", "is required")
		case !parameterNamePattern.MatchString(par.Name):
			p.add(field+".name", "%q is not a variable name: use letters, digits, '.', '_' and '-', starting with a letter or '_'", par.Name)
		case strings.HasPrefix(par.Name, "Octopus.") || strings.HasPrefix(par.Name, "Pulpo."):
			p.add(field+".name", "%q would hide a system variable: Octopus.* and Pulpo.* belong to the server", par.Name)
		case seen[NameKey(par.Name)]:
			p.add(field+".name", "another parameter is already called %q", par.Name)
		}
		seen[NameKey(par.Name)] = true
		switch par.Control {
		case "", ControlText, ControlMultiline:
		case ControlCheckbox:
			if par.DefaultValue != "" && par.DefaultValue != "True" && par.DefaultValue != "False" {
				p.add(field+".defaultValue", "a checkbox is True or False, not %q", par.DefaultValue)
			}
		case ControlSelect:
			if len(par.Options) == 0 {
				p.add(field+".options", "a select needs the options to choose from")
			}
			if par.DefaultValue != "" && !slices.Contains(par.Options, par.DefaultValue) {
				p.add(field+".defaultValue", "%q is not one of the options", par.DefaultValue)
			}
		case ControlSensitive:
			if par.DefaultValue != "" {
				p.add(field+".defaultValue", "a sensitive parameter has no default: a secret kept in a shared template would reach every project using it; give each step its own value")
			}
		default:
			p.add(field+".control", "%q is not a control: use text, multiline, checkbox, select or sensitive", par.Control)
		}
		if len(par.Options) > 0 && par.Control != ControlSelect {
			p.add(field+".options", "only a select has options")
		}
	}
	switch btoi(t.Script != nil) + btoi(t.Package != nil) {
	case 0:
		p.add("", "says nothing to do: set script or package")
	case 2:
		p.add("", "does one thing: set script or package, not both")
	}
	if t.Script != nil {
		validateScript(&p, "script", t.Script)
	}
	if t.Package != nil {
		validatePackageAction(&p, "package", t.Package)
	}
	return p.err()
}

// Parameter returns the parameter called name.
func (t *StepTemplate) Parameter(name string) (StepTemplateParameter, bool) {
	for _, par := range t.Parameters {
		if SameName(par.Name, name) {
			return par, true
		}
	}
	return StepTemplateParameter{}, false
}

// ApplyTo makes step do what the template says: its action is replaced by
// the template's (a step made from a template cannot change it), and its
// ref gets the defaults. Parameter values are checked: each must name a
// parameter; sensitive ones are returned apart (name → plain value) for
// the caller to seal.
func (t *StepTemplate) ApplyTo(step *Step, field string) (sensitive map[string]string, err error) {
	p := problems{subject: "deployment process"}
	ref := step.Template
	step.Script, step.Package, step.Manual, step.DeployRelease, step.Email = nil, nil, nil, nil, nil
	// Deep copies: the step must share no list with the template.
	if t.Script != nil {
		s := clone(*t.Script)
		step.Script = &s
	}
	if t.Package != nil {
		pk := clone(*t.Package)
		step.Package = &pk
	}
	ref.Defaults = nil
	for _, par := range t.Parameters {
		if par.DefaultValue != "" {
			if ref.Defaults == nil {
				ref.Defaults = map[string]string{}
			}
			ref.Defaults[par.Name] = par.DefaultValue
		}
	}
	values := ref.Parameters
	ref.Parameters = nil
	for _, name := range sortedKeys(values) {
		par, ok := t.Parameter(name)
		if !ok {
			p.add(field+".template.parameters", "%s version %d has no parameter %q", t.Name, t.Version, name)
			continue
		}
		v := values[name]
		switch par.Control {
		case ControlSensitive:
			if v != "" {
				if sensitive == nil {
					sensitive = map[string]string{}
				}
				sensitive[par.Name] = v
			}
			continue
		case ControlCheckbox:
			if v != "" && v != "True" && v != "False" && !strings.Contains(v, "#{") {
				p.add(field+".template.parameters."+name, "a checkbox is True or False, not %q", v)
			}
		case ControlSelect:
			if v != "" && !slices.Contains(par.Options, v) && !strings.Contains(v, "#{") {
				p.add(field+".template.parameters."+name, "%q is not one of the options (%s)", v, strings.Join(par.Options, ", "))
			}
		}
		if ref.Parameters == nil {
			ref.Parameters = map[string]string{}
		}
		ref.Parameters[par.Name] = v
	}
	return sensitive, p.err()
}

func clone[T any](v T) T {
	b, _ := json.Marshal(v)
	var out T
	json.Unmarshal(b, &out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := slices.Collect(maps.Keys(m))
	sort.Strings(keys)
	return keys
}

// Validate checks a script module.
func (m *ScriptModule) Validate() error {
	p := problems{subject: "script module"}
	if !moduleNamePattern.MatchString(m.Name) {
		p.add("name", "%q is not a module name: use letters, digits and '_', starting with a letter or '_' (a Python module is imported by it)", m.Name)
	}
	switch m.Syntax {
	case SyntaxBash, SyntaxPython:
	default:
		p.add("syntax", "%q is not a module syntax: use bash or python", m.Syntax)
	}
	if strings.TrimSpace(m.Body) == "" {
		p.add("body", "is required: the functions steps include")
	}
	if len(m.Body) > MaxScriptLength {
		p.add("body", "is %d bytes; the limit is %d", len(m.Body), MaxScriptLength)
	}
	return p.err()
}

// RedactSteps blanks the sealed sensitive parameter values of steps made
// from templates, keeping their names (so a client sees a value is set):
// nothing of a secret leaves through the API.
func RedactSteps(steps []Step) []Step {
	out := slices.Clone(steps)
	for i := range out {
		if t := out[i].Template; t != nil && len(t.Sensitive) > 0 {
			c := *t
			c.Sensitive = map[string]string{}
			for k := range t.Sensitive {
				c.Sensitive[k] = ""
			}
			out[i].Template = &c
		}
	}
	return out
}

// StepTemplateChange is what moving a step from one version of a template
// to another changes.
type StepTemplateChange struct {
	From int `json:"from"`
	To   int `json:"to"`
	// Fields are the paths of the action's fields that differ, such as
	// script.body or package.substituteFiles.
	Fields            []string `json:"fields,omitempty"`
	ParametersAdded   []string `json:"parametersAdded,omitempty"`
	ParametersRemoved []string `json:"parametersRemoved,omitempty"`
	// DefaultsChanged names parameters whose default differs.
	DefaultsChanged []string `json:"defaultsChanged,omitempty"`
	// OtherChanged names parameters whose label, help, control or options
	// differ.
	OtherChanged []string `json:"parametersChanged,omitempty"`
	// ValuesDropped are values the step gives for parameters the new
	// version no longer has; they are removed.
	ValuesDropped []string `json:"valuesDropped,omitempty"`
}

// None reports whether nothing changes.
func (c StepTemplateChange) None() bool {
	return len(c.Fields)+len(c.ParametersAdded)+len(c.ParametersRemoved)+len(c.DefaultsChanged)+len(c.OtherChanged) == 0
}

// DiffStepTemplates says what changes from version a to version b.
func DiffStepTemplates(a, b StepTemplate) StepTemplateChange {
	c := StepTemplateChange{From: a.Version, To: b.Version}
	flatA, flatB := map[string]string{}, map[string]string{}
	flatten("", jsonTree(struct {
		Script  *ScriptAction  `json:"script,omitempty"`
		Package *PackageAction `json:"package,omitempty"`
	}{a.Script, a.Package}), flatA)
	flatten("", jsonTree(struct {
		Script  *ScriptAction  `json:"script,omitempty"`
		Package *PackageAction `json:"package,omitempty"`
	}{b.Script, b.Package}), flatB)
	fields := map[string]bool{}
	for k, v := range flatA {
		if w, ok := flatB[k]; !ok || v != w {
			fields[k] = true
		}
	}
	for k := range flatB {
		if _, ok := flatA[k]; !ok {
			fields[k] = true
		}
	}
	c.Fields = sortedKeys(fields)
	for _, pa := range a.Parameters {
		pb, ok := b.Parameter(pa.Name)
		switch {
		case !ok:
			c.ParametersRemoved = append(c.ParametersRemoved, pa.Name)
		case pa.DefaultValue != pb.DefaultValue:
			c.DefaultsChanged = append(c.DefaultsChanged, pa.Name)
		}
		if ok && (pa.Label != pb.Label || pa.HelpText != pb.HelpText || pa.Control != pb.Control || !slices.Equal(pa.Options, pb.Options)) {
			c.OtherChanged = append(c.OtherChanged, pa.Name)
		}
	}
	for _, pb := range b.Parameters {
		if _, ok := a.Parameter(pb.Name); !ok {
			c.ParametersAdded = append(c.ParametersAdded, pb.Name)
		}
	}
	return c
}

func jsonTree(v any) any {
	b, _ := json.Marshal(v)
	var t any
	json.Unmarshal(b, &t)
	return t
}

// flatten turns a JSON tree into path → value, arrays kept whole so a
// changed list shows as one field.
func flatten(prefix string, v any, out map[string]string) {
	if m, ok := v.(map[string]any); ok {
		for k, child := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, child, out)
		}
		return
	}
	b, _ := json.Marshal(v)
	out[prefix] = string(b)
}

// StepTemplateUsage is one project or runbook step made from a template.
type StepTemplateUsage struct {
	ProjectID   string `json:"projectId"`
	ProjectName string `json:"projectName"`
	// RunbookID and RunbookName are set for a runbook's step.
	RunbookID   string `json:"runbookId,omitempty"`
	RunbookName string `json:"runbookName,omitempty"`
	StepID      string `json:"stepId"`
	StepName    string `json:"stepName"`
	Version     int    `json:"version"`
	// Latest is the template's newest version; Behind says the step uses
	// an older one.
	Latest int  `json:"latest"`
	Behind bool `json:"behind"`
}

package model

import (
	"fmt"
	"strings"
)

// DeploymentProcess is a project's ordered steps. Version increases with
// every change, so two people editing at once cannot overwrite each other.
type DeploymentProcess struct {
	ProjectID string `json:"projectId"`
	Version   int    `json:"version"`
	Steps     []Step `json:"steps"`
}

// Step is one stage of a deployment process. Exactly one action field says
// what the step does; later step kinds add their own field beside Script.
type Step struct {
	// ID is stable across edits, so variables and skip lists can name a step
	// even when it is renamed. The server assigns it when empty.
	ID       string        `json:"id"`
	Name     string        `json:"name"`
	Disabled bool          `json:"disabled,omitempty"`
	Script   *ScriptAction `json:"script,omitempty"`
}

// Kind names what the step does.
func (s *Step) Kind() string {
	if s.Script != nil {
		return "script"
	}
	return ""
}

// ScriptSyntax is the interpreter of an inline script.
type ScriptSyntax string

// The syntaxes the runner knows.
const (
	SyntaxBash ScriptSyntax = "bash"
	SyntaxSh   ScriptSyntax = "sh"
)

// ScriptAction runs an inline script.
type ScriptAction struct {
	Syntax ScriptSyntax `json:"syntax"`
	Body   string       `json:"body"`
}

// MaxScriptLength bounds an inline script; anything bigger belongs in a package.
const MaxScriptLength = 1 << 20

// Validate checks the process; it does not assign ids.
func (d *DeploymentProcess) Validate() error {
	p := problems{subject: "deployment process"}
	names := map[string]bool{}
	ids := map[string]bool{}
	for i, s := range d.Steps {
		field := fmt.Sprintf("steps[%d]", i)
		checkName(&p, field+".name", s.Name)
		if names[NameKey(s.Name)] {
			p.add(field+".name", "another step is already called %q", s.Name)
		}
		names[NameKey(s.Name)] = true
		if s.ID != "" {
			if ids[s.ID] {
				p.add(field+".id", "id %q is used by two steps", s.ID)
			}
			ids[s.ID] = true
		}
		switch {
		case s.Script != nil:
			validateScript(&p, field+".script", s.Script)
		default:
			p.add(field, "says nothing to do: set script")
		}
	}
	return p.err()
}

func validateScript(p *problems, field string, a *ScriptAction) {
	switch a.Syntax {
	case SyntaxBash, SyntaxSh:
	case "":
		p.add(field+".syntax", "is required (bash or sh)")
	default:
		p.add(field+".syntax", "%q is not supported: use bash or sh", a.Syntax)
	}
	if strings.TrimSpace(a.Body) == "" {
		p.add(field+".body", "is required")
	}
	if len(a.Body) > MaxScriptLength {
		p.add(field+".body", "is %d bytes; the limit is %d", len(a.Body), MaxScriptLength)
	}
}

// Normalize fills defaults a user may leave out.
func (d *DeploymentProcess) Normalize() {
	for i := range d.Steps {
		if s := d.Steps[i].Script; s != nil && s.Syntax == "" {
			s.Syntax = SyntaxBash
		}
	}
}

// EnabledSteps returns the steps a deployment runs.
func (d *DeploymentProcess) EnabledSteps() []Step {
	var out []Step
	for _, s := range d.Steps {
		if !s.Disabled {
			out = append(out, s)
		}
	}
	return out
}

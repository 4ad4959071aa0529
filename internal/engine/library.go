package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/vars"
)

// openTemplateSecrets decrypts, in place, the sensitive parameter values
// of the snapshot's steps made from step templates, and hides them in
// the task's log.
func openTemplateSecrets(q *store.Queries, steps []model.Step, masker *vars.Masker) error {
	for _, s := range steps {
		if s.Template == nil {
			continue
		}
		for name, sealed := range s.Template.Sensitive {
			if sealed == "" {
				continue
			}
			plain, err := q.OpenSealed(sealed)
			if err != nil {
				return fmt.Errorf("open the sensitive parameter %s of step %q: %w", name, s.Name, err)
			}
			s.Template.Sensitive[name] = plain
			masker.Add(plain)
		}
	}
	return nil
}

// setTemplateParameters gives a step made from a template its parameters
// as variables: the step's own value, else the template's default. As in
// Octopus they are the step's own, so a project variable of the same name
// does not win over them. Values are templates, rendered where used.
func setTemplateParameters(step model.Step, values *vars.Values) {
	t := step.Template
	if t == nil {
		return
	}
	for name, v := range t.Defaults {
		values.Set(name, v)
	}
	for name, v := range t.Parameters {
		if v != "" {
			values.Set(name, v)
		}
	}
	for name, v := range t.Sensitive {
		values.Set(name, v)
	}
}

// stepModules returns the snapshot's modules a step includes, of a syntax.
func stepModules(x deployment, step model.Step, syntax model.ScriptSyntax) []model.ScriptModule {
	var out []model.ScriptModule
	for _, name := range step.ScriptModules {
		i := slices.IndexFunc(x.release.ProcessSnapshot.ScriptModules, func(m model.ScriptModule) bool { return model.SameName(m.Name, name) })
		if i >= 0 && x.release.ProcessSnapshot.ScriptModules[i].Syntax == syntax {
			out = append(out, x.release.ProcessSnapshot.ScriptModules[i])
		}
	}
	return out
}

// bashModules is the text that defines a step's bash modules, run before
// its script (inline) or sourced with its bootstrap (scripts in packages,
// a package step's scripts). Module bodies are not templates: they are
// included as written.
func bashModules(x deployment, step model.Step) string {
	var b strings.Builder
	for _, m := range stepModules(x, step, model.SyntaxBash) {
		fmt.Fprintf(&b, "# Script module %s\n%s\n", m.Name, strings.TrimRight(m.Body, "\n"))
	}
	return b.String()
}

// pythonModules are a step's Python modules, file name to body.
func pythonModules(x deployment, step model.Step) map[string]string {
	mods := stepModules(x, step, model.SyntaxPython)
	if len(mods) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, m := range mods {
		out[m.Name] = m.Body
	}
	return out
}

package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/template"
)

// checkScriptTemplates reports the steps whose scripts are not valid
// templates, with line and column, when the process is saved rather than
// when a deployment runs it.
func checkScriptTemplates(d *model.DeploymentProcess) error {
	var problems []string
	for i, s := range d.Steps {
		if _, err := template.Parse(s.ConditionExpression); err != nil {
			problems = append(problems, fmt.Sprintf("steps[%d].conditionExpression (step %q): %v", i, s.Name, err))
		}
		if s.Manual != nil {
			if _, err := template.Parse(s.Manual.Instructions); err != nil {
				problems = append(problems, fmt.Sprintf("steps[%d].manualIntervention.instructions (step %q): %v", i, s.Name, err))
			}
		}
		if s.Script == nil {
			continue
		}
		if _, err := template.Parse(s.Script.Body); err != nil {
			problems = append(problems, fmt.Sprintf("steps[%d].script.body (step %q): %v", i, s.Name, err))
		}
		if fp := s.Script.FromPackage; fp != nil {
			if _, err := template.Parse(fp.Arguments); err != nil {
				problems = append(problems, fmt.Sprintf("steps[%d].script.fromPackage.arguments (step %q): %v", i, s.Name, err))
			}
		}
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: "deployment process", Problems: problems}
	}
	return nil
}

// lookupAll lets any value of a name be followed, so a reference cycle
// through any scope is found.
type lookupAll map[string]string

func (l lookupAll) Get(name string) (string, bool) {
	v, ok := l[strings.ToLower(name)]
	return v, ok
}

// checkVariableTemplates reports values that are not valid templates, and
// values that refer to themselves through others (A = #{B}, B = #{A}).
func checkVariableTemplates(subject string, vs []model.Variable) error {
	var problems []string
	all := lookupAll{}
	for _, v := range vs {
		if !v.Sensitive {
			all[strings.ToLower(v.Name)] = v.Value
		}
	}
	reported := map[string]bool{}
	for i, v := range vs {
		if v.Sensitive {
			continue
		}
		if _, err := template.Parse(v.Value); err != nil {
			problems = append(problems, fmt.Sprintf("variables[%d].value (%q): %v", i, v.Name, err))
			continue
		}
		_, err := template.Evaluate(v.Value, all, template.Options{InValue: true})
		var te *template.Error
		if err != nil && errors.As(err, &te) && strings.Contains(te.Msg, "cycle") && !reported[te.Msg] {
			reported[te.Msg] = true
			problems = append(problems, fmt.Sprintf("variables[%d].value (%q): %s; break the cycle", i, v.Name, te.Msg))
		}
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: subject, Problems: problems}
	}
	return nil
}

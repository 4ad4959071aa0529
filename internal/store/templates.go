package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/template"
	"github.com/pulpo-deploy/pulpo/internal/vars"
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

// checkVariableTemplates reports values that are not valid templates, and
// values that refer to themselves through others (A = #{B}, B = #{A}).
func checkVariableTemplates(subject string, vs []model.Variable) error {
	var problems []string
	for i, v := range vs {
		if v.Sensitive {
			continue
		}
		if _, err := template.Parse(v.Value); err != nil {
			problems = append(problems, fmt.Sprintf("variables[%d].value (%q): %v", i, v.Name, err))
		}
	}
	for _, c := range variableCycles(vs) {
		problems = append(problems, fmt.Sprintf("variables[%d].value (%q): %s; break the cycle", c.index, vs[c.index].Name, c.msg))
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: subject, Problems: problems}
	}
	return nil
}

// checkSnapshotCycles checks what a release takes, a project's values and
// those of the library sets it includes, for reference cycles that none of
// them has alone (A = #{B} in the project, B = #{A} in a set).
func checkSnapshotCycles(projectName string, vs []model.Variable, setNames map[string]string) error {
	var problems []string
	for _, c := range variableCycles(vs) {
		v := vs[c.index]
		from := "the project's value"
		if v.LibrarySetID != "" {
			from = fmt.Sprintf("library set %s", setNames[v.LibrarySetID])
		}
		problems = append(problems, fmt.Sprintf("%q (%s): %s; break the cycle", v.Name, from, c.msg))
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: fmt.Sprintf("the variables of project %s and its library sets", projectName), Problems: problems}
	}
	return nil
}

// variableCycle is a value that refers to itself through others: its index,
// and the renderer's words naming the chain.
type variableCycle struct {
	index int
	msg   string
}

// maxCycleScopes bounds the places one value is checked in: a value scoped
// to many environments and machines at once is checked in the first
// combinations only, so that saving stays quick.
const maxCycleScopes = 64

// variableCycles finds the values that refer to themselves through others.
// Every value that refers to another is rendered where its own scope puts
// it, with the values that win there (as a deployment would resolve them),
// provided it wins there itself; so A = #{B}, B = #{A} is found beside a
// Dev-scoped A = fixed, and A = #{B} for Dev beside B = #{A} for Test is
// not a cycle. Sensitive values take part with an empty value. A cycle
// is reported by each of its values whose own scope holds all of it; one
// that only values scoped to different things make together (A for Dev
// and B for the role web, or two roles of one machine) is reported when a
// deployment renders it instead.
func variableCycles(vs []model.Variable) []variableCycle {
	byName := map[string]*alternatives{}
	for i, v := range vs {
		if v.Sensitive {
			v.Value = ""
		}
		key := strings.ToLower(v.Name)
		if byName[key] == nil {
			byName[key] = &alternatives{}
		}
		byName[key].values = append(byName[key].values, v)
		byName[key].index = append(byName[key].index, i)
	}
	reported := map[string]bool{}
	var out []variableCycle
	for i, v := range vs {
		if v.Sensitive || !strings.Contains(v.Value, "#{") {
			continue
		}
		alts := byName[strings.ToLower(v.Name)]
		for _, at := range placesOf(v.Scope) {
			if w, _ := vars.Winner(alts.values, at); alts.index[w] != i {
				continue // a more specific value applies here
			}
			_, err := template.Evaluate(v.Value, winnersAt{byName, at}, template.Options{InValue: true})
			var te *template.Error
			if err == nil || !errors.As(err, &te) || !strings.Contains(te.Msg, "cycle") || !inChain(te.Msg, v.Name) {
				continue // a cycle v only leads to is reported with its own values
			}
			if !reported[te.Msg] {
				reported[te.Msg] = true
				out = append(out, variableCycle{index: i, msg: te.Msg})
			}
			break
		}
	}
	return out
}

// alternatives are the values of one name, and where each is in the list
// being checked.
type alternatives struct {
	values []model.Variable
	index  []int
}

// winnersAt looks a name up as a deployment at one place would: the value
// that applies there.
type winnersAt struct {
	byName map[string]*alternatives
	at     vars.Scope
}

func (w winnersAt) Get(name string) (string, bool) {
	alts := w.byName[strings.ToLower(name)]
	if alts == nil {
		return "", false
	}
	i, ok := vars.Winner(alts.values, w.at)
	if !ok {
		return "", false
	}
	return alts.values[i].Value, true
}

// inChain reports whether a cycle's message ("variable reference cycle:
// A -> B -> A") names the variable.
func inChain(msg, name string) bool {
	_, chain, _ := strings.Cut(msg, ": ")
	for _, n := range strings.Split(chain, " -> ") {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// placesOf makes a scope concrete: one place for each combination of its
// environments, channels, steps and machines, on a machine with all its
// roles.
func placesOf(sc model.Scope) []vars.Scope {
	places := []vars.Scope{{MachineRoles: sc.Roles}}
	each := func(ids []string, set func(*vars.Scope, string)) {
		if len(ids) == 0 {
			return
		}
		var next []vars.Scope
		for _, p := range places {
			for _, id := range ids {
				if len(next) == maxCycleScopes {
					break
				}
				set(&p, id)
				next = append(next, p)
			}
		}
		places = next
	}
	each(sc.Environments, func(p *vars.Scope, id string) { p.EnvironmentID = id })
	each(sc.Channels, func(p *vars.Scope, id string) { p.ChannelID = id })
	each(sc.Steps, func(p *vars.Scope, id string) { p.StepID = id })
	each(sc.Machines, func(p *vars.Scope, id string) { p.MachineID = id })
	return places
}

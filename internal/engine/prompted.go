package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/vars"
)

// promptedValues checks the values given for a release's prompted
// variables and returns them by the variables' own names, sealing those of
// sensitive ones.
func promptedValues(q *store.Queries, rel model.Release, given map[string]string) (map[string]string, error) {
	prompts := map[string]model.Variable{}
	for _, v := range rel.VariableSnapshot.Variables {
		if v.Prompt != nil {
			prompts[model.NameKey(v.Name)] = v
		}
	}
	var problems []string
	out := map[string]string{}
	for name, value := range given {
		v, ok := prompts[model.NameKey(name)]
		if !ok {
			problems = append(problems, fmt.Sprintf("variables: %q is not a prompted variable of release %s%s", name, rel.Version, promptList(prompts)))
			continue
		}
		if v.Sensitive {
			sealed, err := q.Seal(value)
			if err != nil {
				return nil, err
			}
			value = sealed
		}
		out[v.Name] = value
	}
	for _, v := range prompts {
		if _, ok := out[v.Name]; !ok && v.Prompt.Required {
			label := v.Name
			if v.Prompt.Label != "" {
				label = fmt.Sprintf("%s (%s)", v.Name, v.Prompt.Label)
			}
			problems = append(problems, fmt.Sprintf("variables: %s is required; give it with --variable %s=VALUE", label, v.Name))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, &model.ValidationError{Subject: "deployment", Problems: problems}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func promptList(prompts map[string]model.Variable) string {
	if len(prompts) == 0 {
		return " (it has none)"
	}
	var names []string
	for _, v := range prompts {
		names = append(names, v.Name)
	}
	sort.Strings(names)
	return " (prompted: " + strings.Join(names, ", ") + ")"
}

// applyPrompted puts the values given at deployment in place of every value
// of those variables; sensitive ones are opened and masked.
func applyPrompted(q *store.Queries, vs []model.Variable, prompted map[string]string, masker *vars.Masker) ([]model.Variable, error) {
	if len(prompted) == 0 {
		return vs, nil
	}
	sensitive := map[string]bool{}
	for _, v := range vs {
		if v.Sensitive {
			sensitive[model.NameKey(v.Name)] = true
		}
	}
	out := vs[:0:0]
	for _, v := range vs {
		if _, ok := prompted[v.Name]; !ok {
			out = append(out, v)
		}
	}
	for name, value := range prompted {
		isSecret := sensitive[model.NameKey(name)]
		if isSecret {
			plain, err := q.OpenSealed(value)
			if err != nil {
				return nil, fmt.Errorf("open the value given for %q: %w", name, err)
			}
			value = plain
			masker.Add(value)
		}
		out = append(out, model.Variable{Name: name, Value: value, Sensitive: isSecret})
	}
	return out, nil
}

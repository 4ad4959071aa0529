package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// RotateSecrets re-seals every secret the database holds from one master
// key to another, in the caller's transaction: the key check, the server's
// private key, machine credentials, webhook signing secrets, external feeds' passwords, the sensitive
// values of projects, library sets, release snapshots, prompted deployment
// values, values a parent deployment passed its children, task outputs,
// the sensitive defaults and overrides of stagings, certificates'
// material, and the sensitive parameter values of steps made from step
// templates (processes, runbooks and release snapshots). It returns how
// many values it re-sealed.
func (q *Queries) RotateSecrets(ctx context.Context, from, to Sealer) (int, error) {
	n := 0
	reseal := func(sealed string) (string, error) {
		plain, err := from.Open(sealed)
		if err != nil {
			return "", err
		}
		n++
		return to.Seal(plain), nil
	}
	resealVars := func(vs []model.Variable) error {
		for i := range vs {
			if vs[i].Sensitive && vs[i].Value != "" {
				v, err := reseal(vs[i].Value)
				if err != nil {
					return fmt.Errorf("variable %q: %w", vs[i].Name, err)
				}
				vs[i].Value = v
			}
		}
		return nil
	}

	// Single sealed columns.
	for _, col := range []struct{ table, key, column string }{
		{"server_settings", "name", "value"},
		{"machines", "id", "credentials"},
		{"subscriptions", "id", "secret"},
		{"feeds", "id", "password"},
		{"certificates", "id", "material"},
	} {
		rows, err := q.query(ctx, `SELECT `+col.key+`, `+col.column+` FROM `+col.table)
		if err != nil {
			return n, fmt.Errorf("rotate %s: %w", col.table, err)
		}
		type row struct{ key, value string }
		all, err := collect(rows, func(s scanner) (row, error) {
			var r row
			return r, s.Scan(&r.key, &r.value)
		})
		if err != nil {
			return n, fmt.Errorf("rotate %s: %w", col.table, err)
		}
		for _, r := range all {
			if col.table == "server_settings" && r.key != "master_key_check" && r.key != "server_private_key" {
				continue
			}
			if r.value == "" {
				continue
			}
			v, err := reseal(r.value)
			if err != nil {
				return n, fmt.Errorf("rotate %s %s: %w", col.table, r.key, err)
			}
			if _, err := q.exec(ctx, `UPDATE `+col.table+` SET `+col.column+` = ? WHERE `+col.key+` = ?`, v, r.key); err != nil {
				return n, fmt.Errorf("rotate %s: %w", col.table, err)
			}
		}
	}

	// JSON lists of variables.
	for _, col := range []struct{ table, key, column string }{
		{"projects", "id", "variables"},
		{"library_variable_sets", "id", "variables"},
	} {
		if err := q.rotateJSON(ctx, col.table, col.key, col.column, func(text string) (string, error) {
			var vs []model.Variable
			if err := unmarshal(text, &vs); err != nil {
				return "", err
			}
			if err := resealVars(vs); err != nil {
				return "", err
			}
			return marshal(vs)
		}); err != nil {
			return n, err
		}
	}
	if err := q.rotateJSON(ctx, "releases", "id", "variables", func(text string) (string, error) {
		var vs model.VariableSet
		if err := unmarshal(text, &vs); err != nil {
			return "", err
		}
		if err := resealVars(vs.Variables); err != nil {
			return "", err
		}
		return marshal(vs)
	}); err != nil {
		return n, err
	}
	// Prompted values: only those of sensitive variables are sealed, and
	// they are the ones the old key opens.
	if err := q.rotateJSON(ctx, "deployments", "id", "prompted", func(text string) (string, error) {
		var m map[string]string
		if err := unmarshal(text, &m); err != nil {
			return "", err
		}
		for k, v := range m {
			if plain, err := from.Open(v); err == nil {
				m[k] = to.Seal(plain)
				n++
			}
		}
		return marshal(m)
	}); err != nil {
		return n, err
	}
	// A parent deployment seals every value it passes down, secret or not.
	if err := q.rotateJSON(ctx, "deployments", "id", "options", func(text string) (string, error) {
		var o storedOptions
		if err := unmarshal(text, &o); err != nil {
			return "", err
		}
		if len(o.ParentVariables) == 0 {
			return text, nil
		}
		for i := range o.ParentVariables {
			v, err := reseal(o.ParentVariables[i].Value)
			if err != nil {
				return "", fmt.Errorf("value %q from the parent: %w", o.ParentVariables[i].Name, err)
			}
			o.ParentVariables[i].Value = v
		}
		return marshal(o)
	}); err != nil {
		return n, err
	}
	// Sensitive parameter values of steps made from step templates, in
	// processes and in release snapshots.
	resealSteps := func(steps []model.Step) error {
		for i := range steps {
			if t := steps[i].Template; t != nil {
				for name, v := range t.Sensitive {
					if v == "" {
						continue
					}
					sealed, err := reseal(v)
					if err != nil {
						return fmt.Errorf("step %q parameter %q: %w", steps[i].Name, name, err)
					}
					t.Sensitive[name] = sealed
				}
			}
		}
		return nil
	}
	for _, doc := range []struct {
		table, column string
		reseal        func(string) (string, error)
	}{
		{"projects", "process", resealStepsIn(func(steps *[]model.Step) []model.Step { return *steps }, resealSteps)},
		{"runbooks", "doc", resealStepsIn(func(d *runbookDoc) []model.Step { return d.Steps }, resealSteps)},
		{"releases", "process", resealStepsIn(func(d *model.DeploymentProcess) []model.Step { return d.Steps }, resealSteps)},
	} {
		if err := q.rotateJSON(ctx, doc.table, "id", doc.column, doc.reseal); err != nil {
			return n, err
		}
	}
	if err := q.rotateStagings(ctx, reseal); err != nil {
		return n, err
	}
	if err := q.rotateJSON(ctx, "task_activities", "task_id || '/' || id", "outputs", func(text string) (string, error) {
		var outs []model.OutputVariable
		if err := unmarshal(text, &outs); err != nil {
			return "", err
		}
		for i := range outs {
			if outs[i].Sensitive {
				v, err := reseal(outs[i].Value)
				if err != nil {
					return "", err
				}
				outs[i].Value = v
			}
		}
		return marshal(outs)
	}); err != nil {
		return n, err
	}
	return n, nil
}

// rotateStagings re-seals the values of the keys each project's staging
// template calls sensitive: the template's defaults and its stagings'
// overrides (a null override removes a default and holds nothing).
func (q *Queries) rotateStagings(ctx context.Context, reseal func(string) (string, error)) error {
	rows, err := q.query(ctx, `SELECT project_id, doc FROM staging_templates`)
	if err != nil {
		return fmt.Errorf("rotate staging templates: %w", err)
	}
	type row struct{ key, project, doc string }
	templates, err := collect(rows, func(s scanner) (row, error) {
		var r row
		return r, s.Scan(&r.project, &r.doc)
	})
	if err != nil {
		return fmt.Errorf("rotate staging templates: %w", err)
	}
	sensitive := map[string]model.StagingTemplate{}
	for _, r := range templates {
		var t model.StagingTemplate
		if err := unmarshal(r.doc, &t); err != nil {
			return fmt.Errorf("rotate the staging template of %s: %w", r.project, err)
		}
		if len(t.SensitiveKeys) == 0 {
			continue
		}
		sensitive[r.project] = t
		for level, m := range map[string]map[string]string{"app": t.Defaults.App, "deployment": t.Defaults.Deployment} {
			for k, v := range m {
				if !t.IsSensitive(level, k) {
					continue
				}
				if m[k], err = reseal(v); err != nil {
					return fmt.Errorf("rotate the staging template of %s: defaults.%s.%s: %w", r.project, level, k, err)
				}
			}
		}
		doc, err := marshal(t)
		if err != nil {
			return err
		}
		if _, err := q.exec(ctx, `UPDATE staging_templates SET doc = ? WHERE project_id = ?`, doc, r.project); err != nil {
			return fmt.Errorf("rotate staging templates: %w", err)
		}
	}
	if len(sensitive) == 0 {
		return nil
	}

	if rows, err = q.query(ctx, `SELECT id, project_id, overrides FROM stagings`); err != nil {
		return fmt.Errorf("rotate stagings: %w", err)
	}
	stagings, err := collect(rows, func(s scanner) (row, error) {
		var r row
		return r, s.Scan(&r.key, &r.project, &r.doc)
	})
	if err != nil {
		return fmt.Errorf("rotate stagings: %w", err)
	}
	for _, r := range stagings {
		t, ok := sensitive[r.project]
		if !ok {
			continue
		}
		var o model.StagingOverrides
		if err := unmarshal(r.doc, &o); err != nil {
			return fmt.Errorf("rotate staging %s: %w", r.key, err)
		}
		changed := false
		for level, m := range map[string]map[string]*string{"app": o.App, "deployment": o.Deployment} {
			for k, v := range m {
				if v == nil || !t.IsSensitive(level, k) {
					continue
				}
				sealed, err := reseal(*v)
				if err != nil {
					return fmt.Errorf("rotate staging %s: %s.%s: %w", r.key, level, k, err)
				}
				m[k], changed = &sealed, true
			}
		}
		if !changed {
			continue
		}
		doc, err := marshal(o)
		if err != nil {
			return err
		}
		if _, err := q.exec(ctx, `UPDATE stagings SET overrides = ? WHERE id = ?`, doc, r.key); err != nil {
			return fmt.Errorf("rotate stagings: %w", err)
		}
	}
	return nil
}

// rotateJSON rewrites a JSON column row by row.
func (q *Queries) rotateJSON(ctx context.Context, table, key, column string, rewrite func(string) (string, error)) error {
	rows, err := q.query(ctx, `SELECT `+key+`, `+column+` FROM `+table+` WHERE `+column+` <> ''`)
	if err != nil {
		return fmt.Errorf("rotate %s: %w", table, err)
	}
	type row struct{ key, value string }
	all, err := collect(rows, func(s scanner) (row, error) {
		var r row
		return r, s.Scan(&r.key, &r.value)
	})
	if err != nil {
		return fmt.Errorf("rotate %s: %w", table, err)
	}
	for _, r := range all {
		v, err := rewrite(r.value)
		if err != nil {
			return fmt.Errorf("rotate %s %s: %w", table, r.key, err)
		}
		if v == r.value {
			continue
		}
		if _, err := q.exec(ctx, `UPDATE `+table+` SET `+column+` = ? WHERE `+key+` = ?`, v, r.key); err != nil {
			return fmt.Errorf("rotate %s: %w", table, err)
		}
	}
	return nil
}

// resealStepsIn re-seals the template parameter values of the steps a JSON
// document of type T holds (a process, a runbook, a release's snapshot);
// documents without sensitive values are left as they are.
func resealStepsIn[T any](stepsOf func(*T) []model.Step, reseal func([]model.Step) error) func(string) (string, error) {
	return func(text string) (string, error) {
		if !strings.Contains(text, `"sensitive"`) {
			return text, nil
		}
		var d T
		if err := unmarshal(text, &d); err != nil {
			return "", err
		}
		if err := reseal(stepsOf(&d)); err != nil {
			return "", err
		}
		return marshal(d)
	}
}

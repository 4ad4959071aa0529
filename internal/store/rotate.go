package store

import (
	"context"
	"fmt"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// RotateSecrets re-seals every secret the database holds from one master
// key to another, in the caller's transaction: the key check, the server's
// private key, machine credentials, and the sensitive values of projects,
// library sets, release snapshots, prompted deployment values and task
// outputs. It returns how many values it re-sealed.
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

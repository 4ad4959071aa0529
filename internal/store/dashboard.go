package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// Dashboard returns a cell per project and environment that has seen a
// deployment. Two ranked queries, whatever the history's length.
func (q *Queries) Dashboard(ctx context.Context) ([]model.DashboardCell, error) {
	const ranked = `SELECT d.id, d.task_id, d.release_id, r.version, t.state, d.created_at, t.completed_at, d.project_id, d.environment_id,
		ROW_NUMBER() OVER (PARTITION BY d.project_id, d.environment_id ORDER BY t.seq DESC) AS rn
		FROM deployments d JOIN tasks t ON t.id = d.task_id JOIN releases r ON r.id = d.release_id WHERE d.runbook_id = ''`
	type row struct {
		model.DashboardDeployment
		projectID, envID string
	}
	read := func(query string, args ...any) ([]row, error) {
		rows, err := q.query(ctx, query, args...)
		if err != nil {
			return nil, fmt.Errorf("read the dashboard: %w", err)
		}
		return collect(rows, func(s scanner) (row, error) {
			var r row
			var created int64
			var completed *int64
			var rn int
			err := s.Scan(&r.DeploymentID, &r.TaskID, &r.ReleaseID, &r.Version, &r.State, &created, &completed, &r.projectID, &r.envID, &rn)
			r.CreatedAt = fromMicros(created)
			if completed != nil {
				t := fromMicros(*completed)
				r.CompletedAt = &t
			}
			return r, err
		})
	}
	latest, err := read(`SELECT * FROM (` + ranked + `) x WHERE rn = 1`)
	if err != nil {
		return nil, err
	}
	// The last few successes per cell: the newest, and the newest of
	// another release before it.
	successes, err := read(`SELECT * FROM (`+ranked+` AND t.state = ?) x WHERE rn <= 20 ORDER BY project_id, environment_id, rn`, model.TaskSuccess)
	if err != nil {
		return nil, err
	}
	cells := map[[2]string]*model.DashboardCell{}
	var order [][2]string
	cell := func(p, e string) *model.DashboardCell {
		k := [2]string{p, e}
		if c, ok := cells[k]; ok {
			return c
		}
		c := &model.DashboardCell{ProjectID: p, EnvironmentID: e}
		cells[k] = c
		order = append(order, k)
		return c
	}
	for _, r := range latest {
		d := r.DashboardDeployment
		cell(r.projectID, r.envID).Latest = &d
	}
	for _, r := range successes {
		c := cell(r.projectID, r.envID)
		d := r.DashboardDeployment
		switch {
		case c.Current == nil:
			c.Current = &d
		case c.Previous == nil && d.ReleaseID != c.Current.ReleaseID:
			c.Previous = &d
		}
	}
	out := make([]model.DashboardCell, 0, len(order))
	for _, k := range order {
		out = append(out, *cells[k])
	}
	return out, nil
}

// DashboardMarker changes whenever what the dashboard shows may have: a
// task queued or changing state, a project or environment added or
// removed. It costs a few counts, so pollers ask for it before the
// dashboard itself.
func (q *Queries) DashboardMarker(ctx context.Context) (string, error) {
	rows, err := q.query(ctx, `SELECT state, COUNT(*), COALESCE(MAX(seq), 0) FROM tasks GROUP BY state ORDER BY state`)
	if err != nil {
		return "", fmt.Errorf("dashboard marker: %w", err)
	}
	parts, err := collect(rows, func(s scanner) (string, error) {
		var state string
		var n, top int64
		err := s.Scan(&state, &n, &top)
		return fmt.Sprintf("%s:%d:%d", state, n, top), err
	})
	if err != nil {
		return "", fmt.Errorf("dashboard marker: %w", err)
	}
	var projects, envs int
	if projects, err = q.count(ctx, `SELECT COUNT(*) FROM projects`); err != nil {
		return "", err
	}
	if envs, err = q.count(ctx, `SELECT COUNT(*) FROM environments`); err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%v|%d|%d", parts, projects, envs)))
	return hex.EncodeToString(sum[:8]), nil
}

package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// RemovedRelease is a release retention deleted, and the tasks of its
// deployments, whose artifact folders the caller removes once the
// transaction commits.
type RemovedRelease struct {
	Release model.Release
	TaskIDs []string
}

// ApplyReleaseRetention deletes the releases of one project that their
// lifecycle's retention lets go, with their deployments, tasks and logs.
// A release counts in the furthest phase it reached (the lifecycle's own
// retention when it was never deployed), and is kept while it is among the
// phase's newest KeepReleases or younger than KeepDays. Kept whatever the
// policy: the project's newest release, every release current in an
// environment or current there before it (what a rollback deploys), and
// the releases a kept parent release deploys.
func (q *Queries) ApplyReleaseRetention(ctx context.Context, projectID string, now time.Time) ([]RemovedRelease, error) {
	project, err := q.GetProject(ctx, projectID)
	if err != nil {
		return nil, err
	}
	releases, _, err := q.ListReleases(ctx, ReleaseFilter{ProjectID: projectID}) // newest first
	if err != nil || len(releases) <= 1 {
		return nil, err
	}
	protected := map[string]bool{releases[0].ID: true}
	cells, err := q.Dashboard(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range cells {
		if c.ProjectID != projectID {
			continue
		}
		for _, d := range []*model.DashboardDeployment{c.Current, c.Previous, c.Latest} {
			if d != nil {
				protected[d.ReleaseID] = true
			}
		}
	}
	busy, err := q.query(ctx, `SELECT DISTINCT d.release_id FROM deployments d JOIN tasks t ON t.id = d.task_id
		WHERE d.project_id = ? AND t.state NOT IN (?, ?, ?)`, projectID, model.TaskSuccess, model.TaskFailed, model.TaskCanceled)
	if err != nil {
		return nil, err
	}
	unfinished, err := collect(busy, func(s scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	})
	if err != nil {
		return nil, err
	}
	for _, id := range unfinished {
		protected[id] = true // a deployment of it is still going
	}
	children, err := q.referencedChildren(ctx)
	if err != nil {
		return nil, err
	}
	lifecycles := map[string]model.Lifecycle{}
	lifecycleOf := func(r model.Release) (model.Lifecycle, error) {
		id := project.LifecycleID
		if r.ChannelID != "" {
			if ch, err := q.GetChannel(ctx, r.ChannelID); err == nil && ch.LifecycleID != "" {
				id = ch.LifecycleID
			}
		}
		if l, ok := lifecycles[id]; ok {
			return l, nil
		}
		l, err := q.GetLifecycle(ctx, id)
		lifecycles[id] = l
		return l, err
	}
	// Group by lifecycle and furthest phase, keeping the newest-first order.
	type group struct {
		retention model.Retention
		releases  []model.Release
	}
	groups := map[string]*group{}
	var keys []string
	for _, r := range releases {
		l, err := lifecycleOf(r)
		if err != nil {
			return nil, err
		}
		h, err := q.ReleaseHistory(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		phase := -1
		for i, ph := range l.Phases {
			for _, env := range ph.Environments() {
				if h.Succeeded[env] {
					phase = i
				}
			}
		}
		ret := l.ReleaseRetention
		if phase >= 0 && l.Phases[phase].ReleaseRetention != nil {
			ret = *l.Phases[phase].ReleaseRetention
		}
		key := fmt.Sprintf("%s/%d", l.ID, phase)
		g, ok := groups[key]
		if !ok {
			g = &group{retention: ret}
			groups[key] = g
			keys = append(keys, key)
		}
		g.releases = append(g.releases, r)
	}
	sort.Strings(keys)
	var removed []RemovedRelease
	for _, k := range keys {
		g := groups[k]
		if g.retention.KeepsAll() {
			continue
		}
		for i, r := range g.releases {
			young := g.retention.KeepDays > 0 && now.Sub(r.CreatedAt) < time.Duration(g.retention.KeepDays)*24*time.Hour
			if (g.retention.KeepReleases > 0 && i < g.retention.KeepReleases) || young || protected[r.ID] || children[r.ID] {
				continue
			}
			tasks, err := q.deleteRelease(ctx, r.ID)
			if err != nil {
				return removed, fmt.Errorf("delete release %s: %w", r.Version, err)
			}
			removed = append(removed, RemovedRelease{Release: r, TaskIDs: tasks})
		}
	}
	return removed, nil
}

// referencedChildren are the releases some release deploys as a child.
func (q *Queries) referencedChildren(ctx context.Context) (map[string]bool, error) {
	rows, err := q.query(ctx, `SELECT children FROM releases WHERE children <> '[]' AND children <> ''`)
	if err != nil {
		return nil, err
	}
	docs, err := collect(rows, func(s scanner) (string, error) {
		var v string
		return v, s.Scan(&v)
	})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, d := range docs {
		var kids []model.ReleaseChild
		if unmarshal(d, &kids) == nil {
			for _, k := range kids {
				out[k.ReleaseID] = true
			}
		}
	}
	return out, nil
}

// deleteRelease removes a release and everything its deployments left in
// the store, and returns the ids of their tasks.
func (q *Queries) deleteRelease(ctx context.Context, releaseID string) ([]string, error) {
	const tasksOf = `(SELECT task_id FROM deployments WHERE release_id = ?)`
	for _, stmt := range []string{
		`DELETE FROM task_log WHERE task_id IN ` + tasksOf,
		`DELETE FROM task_activities WHERE task_id IN ` + tasksOf,
		`DELETE FROM task_artifacts WHERE task_id IN ` + tasksOf,
		`DELETE FROM interruptions WHERE task_id IN ` + tasksOf,
	} {
		if _, err := q.exec(ctx, stmt, releaseID); err != nil {
			return nil, err
		}
	}
	taskRows, err := q.query(ctx, `SELECT task_id FROM deployments WHERE release_id = ?`, releaseID)
	if err != nil {
		return nil, err
	}
	taskIDs, err := collect(taskRows, func(s scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	})
	if err != nil {
		return nil, err
	}
	if _, err := q.exec(ctx, `DELETE FROM deployments WHERE release_id = ?`, releaseID); err != nil {
		return nil, err
	}
	for _, id := range taskIDs {
		if _, err := q.exec(ctx, `DELETE FROM tasks WHERE id = ?`, id); err != nil {
			return nil, err
		}
	}
	_, err = q.exec(ctx, `DELETE FROM releases WHERE id = ?`, releaseID)
	return taskIDs, err
}

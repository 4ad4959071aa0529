package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

const releaseColumns = `id, project_id, version, notes, created_at, created_by, process, variables, packages, children`

func scanRelease(s scanner) (model.Release, error) {
	var r model.Release
	var created int64
	var process, vars, packages, children string
	if err := s.Scan(&r.ID, &r.ProjectID, &r.Version, &r.Notes, &created, &r.CreatedBy, &process, &vars, &packages, &children); err != nil {
		return r, err
	}
	if children != "" && children != "[]" {
		if err := unmarshal(children, &r.Children); err != nil {
			return r, fmt.Errorf("read child releases of %s: %w", r.ID, err)
		}
	}
	if packages != "" && packages != "[]" {
		if err := unmarshal(packages, &r.Packages); err != nil {
			return r, fmt.Errorf("read packages of %s: %w", r.ID, err)
		}
	}
	r.CreatedAt = fromMicros(created)
	if err := unmarshal(process, &r.ProcessSnapshot); err != nil {
		return r, fmt.Errorf("read process snapshot of %s: %w", r.ID, err)
	}
	if err := unmarshal(vars, &r.VariableSnapshot); err != nil {
		return r, fmt.Errorf("read variable snapshot of %s: %w", r.ID, err)
	}
	return r, nil
}

// CreateRelease snapshots the project's current process and variables into
// a new release. Without a version it takes the next patch number.
func (q *Queries) CreateRelease(ctx context.Context, r *model.Release) error {
	project, err := q.GetProject(ctx, r.ProjectID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return &model.ValidationError{Subject: "release", Problems: []string{fmt.Sprintf("projectId: project %q does not exist", r.ProjectID)}}
		}
		return err
	}
	if r.Version == "" {
		versions, err := q.releaseVersions(ctx, r.ProjectID)
		if err != nil {
			return err
		}
		r.Version = model.NextVersion(versions)
	}
	process, err := q.GetProcess(ctx, r.ProjectID)
	if err != nil {
		return err
	}
	vars, err := q.releaseVariables(ctx, project)
	if err != nil {
		return err
	}
	r.ProcessSnapshot, r.VariableSnapshot = process, vars
	if err := r.Validate(); err != nil {
		return err
	}
	if err := q.choosePackages(ctx, r); err != nil {
		return err
	}
	if err := q.chooseChildren(ctx, r); err != nil {
		return err
	}
	var existing string
	err = q.queryRow(ctx, `SELECT id FROM releases WHERE project_id = ? AND version_key = ?`, r.ProjectID, strings.ToLower(r.Version)).Scan(&existing)
	switch {
	case err == nil:
		return conflict("release %s already exists in this project (%s); releases are immutable, so give the new one another version", r.Version, existing)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("create release: %w", err)
	}
	id, _, err := q.nextID(ctx, "Releases")
	if err != nil {
		return err
	}
	r.ID = id
	r.CreatedAt = q.now().UTC().Truncate(0)
	ps, err := marshal(r.ProcessSnapshot)
	if err != nil {
		return err
	}
	vs, err := marshal(r.VariableSnapshot)
	if err != nil {
		return err
	}
	pkgs := "[]"
	if len(r.Packages) > 0 {
		if pkgs, err = marshal(r.Packages); err != nil {
			return err
		}
	}
	kids := "[]"
	if len(r.Children) > 0 {
		if kids, err = marshal(r.Children); err != nil {
			return err
		}
	}
	_, err = q.exec(ctx, `INSERT INTO releases (`+releaseColumns+`, version_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.ProjectID, r.Version, r.Notes, toMicros(r.CreatedAt), r.CreatedBy, ps, vs, pkgs, kids, strings.ToLower(r.Version))
	if err != nil {
		return fmt.Errorf("create release: %w", err)
	}
	r.CreatedAt = fromMicros(toMicros(r.CreatedAt))
	return nil
}

func (q *Queries) releaseVersions(ctx context.Context, projectID string) ([]string, error) {
	rows, err := q.query(ctx, `SELECT version FROM releases WHERE project_id = ?`, projectID)
	if err != nil {
		return nil, fmt.Errorf("read release versions: %w", err)
	}
	return collect(rows, func(s scanner) (string, error) {
		var v string
		return v, s.Scan(&v)
	})
}

// GetRelease reads one release by id.
func (q *Queries) GetRelease(ctx context.Context, id string) (model.Release, error) {
	r, err := scanRelease(q.queryRow(ctx, `SELECT `+releaseColumns+` FROM releases WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, notFound("release", id)
	}
	return r, err
}

// FindRelease reads a project's release by version.
func (q *Queries) FindRelease(ctx context.Context, projectID, version string) (model.Release, error) {
	r, err := scanRelease(q.queryRow(ctx, `SELECT `+releaseColumns+` FROM releases WHERE project_id = ? AND version_key = ?`,
		projectID, strings.ToLower(version)))
	if errors.Is(err, sql.ErrNoRows) {
		return r, notFound("release", version)
	}
	return r, err
}

// ReleaseFilter narrows a release list.
type ReleaseFilter struct {
	Skip, Take int
	ProjectID  string
}

// ListReleases returns a page of releases, newest first, and the total.
func (q *Queries) ListReleases(ctx context.Context, f ReleaseFilter) ([]model.Release, int, error) {
	var where []string
	var args []any
	if f.ProjectID != "" {
		where, args = append(where, "project_id = ?"), append(args, f.ProjectID)
	}
	total, err := q.count(ctx, `SELECT COUNT(*) FROM releases`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list releases: %w", err)
	}
	page := ListOptions{Skip: f.Skip, Take: f.Take}.page()
	rows, err := q.query(ctx, `SELECT `+releaseColumns+` FROM releases`+whereClause(where)+` ORDER BY created_at DESC, id DESC`+page, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list releases: %w", err)
	}
	out, err := collect(rows, scanRelease)
	return out, total, err
}

// DeleteRelease removes a release and its deployments, unless one is in progress.
func (q *Queries) DeleteRelease(ctx context.Context, id string) error {
	r, err := q.GetRelease(ctx, id)
	if err != nil {
		return err
	}
	n, err := q.count(ctx, `SELECT COUNT(*) FROM deployments d JOIN tasks t ON t.id = d.task_id
		WHERE d.release_id = ? AND t.state IN (?, ?, ?)`, id, model.TaskQueued, model.TaskExecuting, model.TaskCanceling)
	if err != nil {
		return fmt.Errorf("delete release: %w", err)
	}
	if n > 0 {
		return conflict("release %s has %d deployments queued or running; cancel them or wait until they finish", r.Version, n)
	}
	if _, err := q.exec(ctx, `DELETE FROM deployments WHERE release_id = ?`, id); err != nil {
		return fmt.Errorf("delete release: %w", err)
	}
	res, err := q.exec(ctx, `DELETE FROM releases WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete release: %w", err)
	}
	return mustAffect(res, "release", id)
}

// chooseChildren fixes the release every deploy-a-release step deploys:
// the one asked for in r.Children (matched by step name, or by the child
// project's id or name), else the child project's newest release.
func (q *Queries) chooseChildren(ctx context.Context, r *model.Release) error {
	asked := r.Children
	r.Children = nil
	used := make([]bool, len(asked))
	var problems []string
	for _, step := range r.ProcessSnapshot.EnabledSteps() {
		dr := step.DeployRelease
		if dr == nil {
			continue
		}
		child, err := q.GetProject(ctx, dr.ProjectID)
		if errors.Is(err, ErrNotFound) {
			problems = append(problems, fmt.Sprintf("children: step %q deploys project %q, which no longer exists", step.Name, dr.ProjectID))
			continue
		}
		if err != nil {
			return err
		}
		version := ""
		for i, a := range asked {
			if model.SameName(a.StepName, step.Name) || a.ProjectID == child.ID || model.SameName(a.ProjectID, child.Name) {
				version, used[i] = a.Version, true
				break
			}
		}
		var rel model.Release
		if version == "" {
			latest, _, err := q.ListReleases(ctx, ReleaseFilter{ProjectID: child.ID, Take: 1})
			if err != nil {
				return err
			}
			if len(latest) == 0 {
				problems = append(problems, fmt.Sprintf("children: step %q deploys project %s, which has no release yet; create one first", step.Name, child.Name))
				continue
			}
			rel = latest[0]
		} else if rel, err = q.FindRelease(ctx, child.ID, version); errors.Is(err, ErrNotFound) {
			problems = append(problems, fmt.Sprintf("children: project %s has no release %s for step %q", child.Name, version, step.Name))
			continue
		} else if err != nil {
			return err
		}
		r.Children = append(r.Children, model.ReleaseChild{StepID: step.ID, StepName: step.Name, ProjectID: child.ID, ReleaseID: rel.ID, Version: rel.Version})
	}
	for i, a := range asked {
		if !used[i] {
			name := a.ProjectID
			if name == "" {
				name = a.StepName
			}
			problems = append(problems, fmt.Sprintf("children: no step deploys a release of %q", name))
		}
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: "release", Problems: problems}
	}
	return nil
}

// choosePackages fixes the package version of every step that takes a
// package (a package step, or a script kept in a package): the one
// asked for in r.Packages (matched by step name or package id), else the
// newest in the feed.
func (q *Queries) choosePackages(ctx context.Context, r *model.Release) error {
	asked := r.Packages
	r.Packages = nil
	used := make([]bool, len(asked))
	var problems []string
	for _, step := range r.ProcessSnapshot.EnabledSteps() {
		packageID := step.PackageID()
		if packageID == "" {
			continue
		}
		version := ""
		for i, a := range asked {
			if model.SameName(a.StepName, step.Name) || model.SameName(a.PackageID, step.Name) || strings.EqualFold(a.PackageID, packageID) {
				version, used[i] = a.Version, true
				break
			}
		}
		if version == "" {
			latest, _, err := q.ListPackages(ctx, PackageFilter{PackageID: packageID, ListOptions: ListOptions{Take: 1}})
			if err != nil {
				return err
			}
			if len(latest) == 0 {
				problems = append(problems, fmt.Sprintf("packages: step %q takes package %s, which the feed does not have; push it first", step.Name, packageID))
				continue
			}
			version = latest[0].Version
		} else if _, err := q.FindPackage(ctx, packageID, version); errors.Is(err, ErrNotFound) {
			problems = append(problems, fmt.Sprintf("packages: the feed has no %s %s for step %q", packageID, version, step.Name))
			continue
		} else if err != nil {
			return err
		}
		r.Packages = append(r.Packages, model.ReleasePackage{StepID: step.ID, StepName: step.Name, PackageID: packageID, Version: version})
	}
	for i, a := range asked {
		if !used[i] {
			problems = append(problems, fmt.Sprintf("packages: no step takes package %q", a.PackageID+a.StepName))
		}
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: "release", Problems: problems}
	}
	return nil
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/template"
)

const releaseColumns = `id, project_id, version, notes, created_at, created_by, process, variables, packages, children, channel_id, runbook_id`

func scanRelease(s scanner) (model.Release, error) {
	var r model.Release
	var created int64
	var process, vars, packages, children string
	if err := s.Scan(&r.ID, &r.ProjectID, &r.Version, &r.Notes, &created, &r.CreatedBy, &process, &vars, &packages, &children, &r.ChannelID, &r.RunbookID); err != nil {
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
// a new release. Without a version it takes the next patch number. A
// process taking packages of external feeds needs CreateReleaseFrom.
func (q *Queries) CreateRelease(ctx context.Context, r *model.Release) error {
	return q.CreateReleaseFrom(ctx, r, nil)
}

// CreateReleaseFrom is CreateRelease with the versions external feeds hold
// of the packages the process takes (read before the transaction).
func (q *Queries) CreateReleaseFrom(ctx context.Context, r *model.Release, feeds FeedVersions) error {
	project, err := q.GetProject(ctx, r.ProjectID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return &model.ValidationError{Subject: "release", Problems: []string{fmt.Sprintf("projectId: project %q does not exist", r.ProjectID)}}
		}
		return err
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
	if err := q.snapshotScriptModules(ctx, &r.ProcessSnapshot); err != nil {
		return err
	}
	channel, err := q.chooseChannel(ctx, r)
	if err != nil {
		return err
	}
	if err := q.choosePackages(ctx, r, channel, feeds); err != nil {
		return err
	}
	if err := q.chooseChildren(ctx, r); err != nil {
		return err
	}
	if r.Version == "" {
		if r.Version, err = q.nextReleaseVersion(ctx, project, r); err != nil {
			return err
		}
	}
	if err := r.Validate(); err != nil {
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
	if err := q.insertRelease(ctx, r, strings.ToLower(r.Version)); err != nil {
		return err
	}
	return q.linkWorkItems(ctx, r) // board.go
}

// insertRelease stores a release under a version key (the version; a
// runbook snapshot's own key, so it never clashes with a release).
func (q *Queries) insertRelease(ctx context.Context, r *model.Release, versionKey string) error {
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
	_, err = q.exec(ctx, `INSERT INTO releases (`+releaseColumns+`, version_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.ProjectID, r.Version, r.Notes, toMicros(r.CreatedAt), r.CreatedBy, ps, vs, pkgs, kids, r.ChannelID, r.RunbookID, versionKey)
	if err != nil {
		return fmt.Errorf("create release: %w", err)
	}
	r.CreatedAt = fromMicros(toMicros(r.CreatedAt))
	return nil
}

func (q *Queries) releaseVersions(ctx context.Context, projectID string) ([]string, error) {
	rows, err := q.query(ctx, `SELECT version FROM releases WHERE project_id = ? AND runbook_id = ''`, projectID)
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
	if err == nil {
		r.WorkItems, err = q.releaseWorkItems(ctx, r.ID)
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
	if err == nil {
		r.WorkItems, err = q.releaseWorkItems(ctx, r.ID)
	}
	return r, err
}

// ReleaseFilter narrows a release list.
type ReleaseFilter struct {
	Skip, Take int
	ProjectID  string
	// RunbookID lists a runbook's snapshots; without it, releases only.
	RunbookID string
	// Visible limits the list to what the reader may see.
	Visible *access.Filter
}

// ListReleases returns a page of releases, newest first, and the total.
func (q *Queries) ListReleases(ctx context.Context, f ReleaseFilter) ([]model.Release, int, error) {
	where, args := []string{"runbook_id = ?"}, []any{f.RunbookID}
	if f.ProjectID != "" {
		where, args = append(where, "project_id = ?"), append(args, f.ProjectID)
	}
	if cond, cargs := visibleWhere(f.Visible, "project_id", ""); cond != "" {
		where, args = append(where, cond), append(args, cargs...)
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

// nextReleaseVersion numbers a release created without a version: by the
// project's template, or the next patch number.
func (q *Queries) nextReleaseVersion(ctx context.Context, project model.Project, r *model.Release) (string, error) {
	versions, err := q.releaseVersions(ctx, r.ProjectID)
	if err != nil {
		return "", err
	}
	if project.ReleaseVersionTemplate == "" {
		return model.NextVersion(versions), nil
	}
	values := versionTemplateValues(versions, r, q.now())
	v, err := template.Evaluate(project.ReleaseVersionTemplate, values, template.Options{Now: q.now})
	if err != nil {
		return "", &model.ValidationError{Subject: "release", Problems: []string{fmt.Sprintf("the project's release version template: %v", err)}}
	}
	v = strings.TrimSpace(v)
	if err := model.ValidateVersion(v); err != nil {
		return "", &model.ValidationError{Subject: "release", Problems: []string{fmt.Sprintf("the project's release version template gave %q: %v", v, err)}}
	}
	return v, nil
}

// versionTemplateValues are what a version template may use: the last
// release's parts and the next ones (Octopus.Version.*), the date and
// time, and the chosen package versions (Octopus.Action[Step].Package.*).
func versionTemplateValues(versions []string, r *model.Release, now time.Time) mapLookup {
	var last model.Version
	for _, s := range versions {
		if v, ok := model.ParseVersion(s); ok && v.Compare(last) > 0 {
			last = v
		}
	}
	part := func(i int) int {
		if i < len(last.Numbers) {
			return last.Numbers[i]
		}
		return 0
	}
	vals := mapLookup{
		"octopus.version.lastmajor": fmt.Sprint(part(0)), "octopus.version.lastminor": fmt.Sprint(part(1)),
		"octopus.version.lastpatch": fmt.Sprint(part(2)), "octopus.version.lastbuild": fmt.Sprint(part(3)),
		"octopus.version.nextmajor": fmt.Sprint(part(0) + 1), "octopus.version.nextminor": fmt.Sprint(part(1) + 1),
		"octopus.version.nextpatch": fmt.Sprint(part(2) + 1), "octopus.version.nextbuild": fmt.Sprint(part(3) + 1),
		"octopus.version.lastprereleasetag": last.PreRelease,
		"octopus.date.year":                 now.Format("2006"), "octopus.date.month": now.Format("01"), "octopus.date.day": now.Format("02"),
		"octopus.date.dayofyear": fmt.Sprint(now.YearDay()), "octopus.time.hour": now.Format("15"), "octopus.time.minute": now.Format("04"),
	}
	for _, p := range r.Packages {
		for _, k := range []string{"PackageVersion", "NuGetPackageVersion"} {
			if p.Reference != "" {
				vals[strings.ToLower(fmt.Sprintf("Octopus.Action[%s].Package[%s].%s", p.StepName, p.Reference, k))] = p.Version
				continue
			}
			vals[strings.ToLower(fmt.Sprintf("Octopus.Action[%s].Package.%s", p.StepName, k))] = p.Version
		}
	}
	return vals
}

// mapLookup serves template values by lower-cased name.
type mapLookup map[string]string

func (m mapLookup) Get(name string) (string, bool) {
	v, ok := m[strings.ToLower(name)]
	return v, ok
}

// newestAccepted is the feed's newest version of a package that the
// channel takes, or "" and why there is none.
func (q *Queries) newestAccepted(ctx context.Context, packageID, stepName string, channel *model.Channel) (string, string, error) {
	versions, _, err := q.ListPackages(ctx, PackageFilter{PackageID: packageID})
	if err != nil {
		return "", "", err
	}
	if len(versions) == 0 {
		return "", "the feed does not have it; push it first", nil
	}
	for _, v := range versions { // newest first
		if channel == nil {
			return v.Version, "", nil
		}
		if ok, _ := channel.Accepts(packageID, stepName, v.Version); ok {
			return v.Version, "", nil
		}
	}
	return "", fmt.Sprintf("no version in the feed fits channel %s (newest: %s)", channel.Name, versions[0].Version), nil
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

// FeedPackage names a package of an external feed.
type FeedPackage struct{ FeedID, PackageID string }

// FeedVersions are the versions external feeds hold of the packages a
// process takes, read before the transaction that creates a release: no
// feed is waited on while the database is held.
type FeedVersions map[FeedPackage]FeedVersionList

// FeedVersionList is one package's versions in its feed, newest first, or
// why the feed could not list them.
type FeedVersionList struct {
	Feed     string // the feed's name, for messages
	Versions []string
	Err      error
}

// matchesAsked reports whether a version asked for (keyed by package id,
// step name, "step:reference" or reference name) is for this package.
func matchesAsked(a model.ReleasePackage, step model.Step, sp model.StepPackage) bool {
	if sp.Reference == "" {
		return model.SameName(a.StepName, step.Name) && a.Reference == "" || model.SameName(a.PackageID, step.Name) || strings.EqualFold(a.PackageID, sp.PackageID)
	}
	return model.SameName(a.StepName, step.Name) && model.SameName(a.Reference, sp.Reference) ||
		model.SameName(a.PackageID, step.Name+":"+sp.Reference) || model.SameName(a.PackageID, sp.Reference) || strings.EqualFold(a.PackageID, sp.PackageID)
}

// choosePackages fixes the package version of every package a step takes
// (a package step's, a script kept in a package, the packages a script
// refers to): the one asked for in r.Packages (matched by step name,
// reference name or package id), else the newest in its feed that the
// channel takes. External feeds' versions come from feeds.
func (q *Queries) choosePackages(ctx context.Context, r *model.Release, channel *model.Channel, feeds FeedVersions) error {
	asked := r.Packages
	r.Packages = nil
	used := make([]bool, len(asked))
	var problems []string
	for _, step := range r.ProcessSnapshot.EnabledSteps() {
		for _, sp := range step.Packages() {
			what := fmt.Sprintf("step %q takes package %s", step.Name, sp.PackageID)
			if sp.Reference != "" {
				what = fmt.Sprintf("step %q refers to package %s as %s", step.Name, sp.PackageID, sp.Reference)
			}
			version := ""
			for i, a := range asked {
				if matchesAsked(a, step, sp) {
					version, used[i] = a.Version, true
					break
				}
			}
			if version != "" && channel != nil {
				if ok, why := channel.Accepts(sp.PackageID, step.Name, version); !ok {
					problems = append(problems, fmt.Sprintf("packages: channel %s does not take it: %s", channel.Name, why))
					continue
				}
			}
			if sp.External() {
				v, why := chooseExternal(feeds, sp, step.Name, version, channel)
				if v == "" {
					problems = append(problems, fmt.Sprintf("packages: %s from feed %s: %s", what, feedName(feeds, sp), why))
					continue
				}
				r.Packages = append(r.Packages, model.ReleasePackage{StepID: step.ID, StepName: step.Name, Reference: sp.Reference,
					PackageID: sp.PackageID, FeedID: sp.FeedID, Version: v})
				continue
			}
			if version == "" {
				newest, why, err := q.newestAccepted(ctx, sp.PackageID, step.Name, channel)
				if err != nil {
					return err
				}
				version = newest
				if version == "" {
					problems = append(problems, fmt.Sprintf("packages: %s: %s", what, why))
					continue
				}
			}
			if _, err := q.FindPackage(ctx, sp.PackageID, version); errors.Is(err, ErrNotFound) {
				problems = append(problems, fmt.Sprintf("packages: the feed has no %s %s for step %q", sp.PackageID, version, step.Name))
				continue
			} else if err != nil {
				return err
			}
			r.Packages = append(r.Packages, model.ReleasePackage{StepID: step.ID, StepName: step.Name, Reference: sp.Reference,
				PackageID: sp.PackageID, Version: version})
		}
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

func feedName(feeds FeedVersions, sp model.StepPackage) string {
	if l, ok := feeds[FeedPackage{sp.FeedID, sp.PackageID}]; ok && l.Feed != "" {
		return l.Feed
	}
	return sp.FeedID
}

// chooseExternal checks a version asked for against the feed's list, or
// takes the newest the channel accepts; "" and why when there is none.
func chooseExternal(feeds FeedVersions, sp model.StepPackage, stepName, asked string, channel *model.Channel) (string, string) {
	l, ok := feeds[FeedPackage{sp.FeedID, sp.PackageID}]
	switch {
	case !ok:
		return "", "its versions were not read (the process changed while the release was being created); try again"
	case l.Err != nil:
		return "", l.Err.Error()
	case len(l.Versions) == 0:
		return "", "the feed has no version of it"
	}
	if asked != "" {
		for _, v := range l.Versions {
			if v == asked {
				return v, ""
			}
		}
		for _, v := range l.Versions {
			if strings.EqualFold(v, asked) {
				return v, ""
			}
		}
		return "", fmt.Sprintf("the feed has no version %s (newest: %s)", asked, l.Versions[0])
	}
	for _, v := range l.Versions {
		if channel == nil {
			return v, ""
		}
		if ok, _ := channel.Accepts(sp.PackageID, stepName, v); ok {
			return v, ""
		}
	}
	return "", fmt.Sprintf("no version in the feed fits channel %s (newest: %s)", channel.Name, l.Versions[0])
}

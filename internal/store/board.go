package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// BoardFilter narrows the release board.
type BoardFilter struct {
	ProjectID      string
	ProjectGroupID string
	EnvironmentID  string
	// Deployments limits the deployments that count to what the reader
	// may see (nil: all).
	Deployments *access.Filter
	// Project and Environment, when set, say which rows and columns the
	// reader may see.
	Project     func(id, groupID string) bool
	Environment func(id string) bool
}

// ReleaseBoard reads the board: every project (by group, then name) and
// environment (in their order), with the release live in each cell. It
// reads only versions, times, names, notes and work items, never the
// releases' variable snapshots.
func (q *Queries) ReleaseBoard(ctx context.Context, f BoardFilter) (model.Board, error) {
	b := model.Board{GeneratedAt: q.now().UTC(), Environments: []model.BoardEnvironment{}, Groups: []model.BoardGroup{}}
	envs, err := q.AllEnvironments(ctx)
	if err != nil {
		return b, err
	}
	for _, e := range envs {
		if (f.EnvironmentID == "" || e.ID == f.EnvironmentID) && (f.Environment == nil || f.Environment(e.ID)) {
			b.Environments = append(b.Environments, model.BoardEnvironment{ID: e.ID, Name: e.Name})
		}
	}
	where, args := []string{}, []any{}
	if f.ProjectID != "" {
		where, args = append(where, "p.id = ?"), append(args, f.ProjectID)
	}
	if f.ProjectGroupID != "" {
		where, args = append(where, "p.project_group_id = ?"), append(args, f.ProjectGroupID)
	}
	rows, err := q.query(ctx, `SELECT p.id, p.name, g.id, g.name FROM projects p JOIN project_groups g ON g.id = p.project_group_id`+
		whereClause(where)+` ORDER BY g.name_key, p.name_key`, args...)
	if err != nil {
		return b, fmt.Errorf("read the release board: %w", err)
	}
	type proj struct{ id, name, groupID, groupName string }
	projects, err := collect(rows, func(s scanner) (proj, error) {
		var p proj
		return p, s.Scan(&p.id, &p.name, &p.groupID, &p.groupName)
	})
	if err != nil {
		return b, fmt.Errorf("read the release board: %w", err)
	}
	cells, err := q.boardCells(ctx, f)
	if err != nil {
		return b, err
	}
	for _, p := range projects {
		if f.Project != nil && !f.Project(p.id, p.groupID) {
			continue
		}
		if n := len(b.Groups); n == 0 || b.Groups[n-1].ID != p.groupID {
			b.Groups = append(b.Groups, model.BoardGroup{ID: p.groupID, Name: p.groupName, Projects: []model.BoardProject{}})
		}
		row := model.BoardProject{ID: p.id, Name: p.name, Cells: make([]model.BoardCell, 0, len(b.Environments))}
		for _, e := range b.Environments {
			c := cells[[2]string{p.id, e.ID}]
			c.EnvironmentID = e.ID
			row.Cells = append(row.Cells, c)
		}
		g := &b.Groups[len(b.Groups)-1]
		g.Projects = append(g.Projects, row)
	}
	return b, nil
}

// boardCells reads, per project and environment, the newest successful
// deployment and a newer one that has not succeeded (under way, waiting,
// failed or canceled). Two ranked queries, whatever the history's length.
func (q *Queries) boardCells(ctx context.Context, f BoardFilter) (map[[2]string]model.BoardCell, error) {
	conds, args := []string{"d.runbook_id = ''"}, []any{}
	if f.ProjectID != "" {
		conds, args = append(conds, "d.project_id = ?"), append(args, f.ProjectID)
	}
	if f.ProjectGroupID != "" {
		conds, args = append(conds, "d.project_id IN (SELECT id FROM projects WHERE project_group_id = ?)"), append(args, f.ProjectGroupID)
	}
	if f.EnvironmentID != "" {
		conds, args = append(conds, "d.environment_id = ?"), append(args, f.EnvironmentID)
	}
	if cond, cargs := visibleWhere(f.Deployments, "d.project_id", "d.environment_id"); cond != "" {
		conds, args = append(conds, cond), append(args, cargs...)
	}
	type dep struct {
		taskID, releaseID, version, by, project, env string
		state                                        model.TaskState
		seq, created                                 int64
		completed                                    sql.NullInt64
	}
	read := func(extra string, extraArgs ...any) ([]dep, error) {
		ranked := `SELECT d.task_id, d.release_id, r.version, d.created_by, d.project_id, d.environment_id, t.state, t.seq, d.created_at, t.completed_at,
			ROW_NUMBER() OVER (PARTITION BY d.project_id, d.environment_id ORDER BY t.seq DESC) AS rn
			FROM deployments d JOIN tasks t ON t.id = d.task_id JOIN releases r ON r.id = d.release_id WHERE ` + strings.Join(conds, " AND ") + extra
		rows, err := q.query(ctx, `SELECT task_id, release_id, version, created_by, project_id, environment_id, state, seq, created_at, completed_at FROM (`+
			ranked+`) x WHERE rn = 1`, append(append([]any{}, args...), extraArgs...)...)
		if err != nil {
			return nil, fmt.Errorf("read the release board: %w", err)
		}
		return collect(rows, func(s scanner) (dep, error) {
			var d dep
			return d, s.Scan(&d.taskID, &d.releaseID, &d.version, &d.by, &d.project, &d.env, &d.state, &d.seq, &d.created, &d.completed)
		})
	}
	live, err := read(" AND t.state = ?", model.TaskSuccess)
	if err != nil {
		return nil, err
	}
	latest, err := read("")
	if err != nil {
		return nil, err
	}
	out := map[[2]string]model.BoardCell{}
	liveSeq := map[[2]string]int64{}
	var taskIDs, releaseIDs []string
	for _, d := range live {
		k := [2]string{d.project, d.env}
		at := fromMicros(d.created)
		if d.completed.Valid {
			at = fromMicros(d.completed.Int64)
		}
		out[k] = model.BoardCell{Live: &model.BoardRelease{ReleaseID: d.releaseID, Version: d.version, LiveSince: at, DeployedBy: d.by}}
		liveSeq[k] = d.seq
		taskIDs, releaseIDs = append(taskIDs, d.taskID), append(releaseIDs, d.releaseID)
	}
	for _, d := range latest {
		k := [2]string{d.project, d.env}
		if seq, ok := liveSeq[k]; ok && seq >= d.seq {
			continue
		}
		c := out[k]
		c.Newer = &model.BoardAttempt{Version: d.version, State: d.state, StartedAt: fromMicros(d.created), DeployedBy: d.by}
		out[k] = c
	}
	approvers, err := q.approvers(ctx, taskIDs)
	if err != nil {
		return nil, err
	}
	notes, err := q.releaseNotes(ctx, releaseIDs)
	if err != nil {
		return nil, err
	}
	items, err := q.workItemsOf(ctx, releaseIDs)
	if err != nil {
		return nil, err
	}
	for i, d := range live {
		k := [2]string{d.project, d.env}
		l := out[k].Live
		l.ApprovedBy, l.Notes, l.WorkItems = approvers[taskIDs[i]], notes[d.releaseID], items[d.releaseID]
	}
	return out, nil
}

// approvers reads, per task, who answered its manual interventions with
// Proceed, in the order they did.
func (q *Queries) approvers(ctx context.Context, taskIDs []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, chunk := range chunks(taskIDs) {
		rows, err := q.query(ctx, `SELECT task_id, answered_by FROM interruptions WHERE kind = ? AND answer = ? AND task_id IN (`+placeholders(len(chunk))+`)
			ORDER BY seq`, append([]any{model.InterruptionManual, model.AnswerProceed}, toAny(chunk)...)...)
		if err != nil {
			return nil, fmt.Errorf("read approvers: %w", err)
		}
		pairs, err := collect(rows, func(s scanner) ([2]string, error) {
			var p [2]string
			return p, s.Scan(&p[0], &p[1])
		})
		if err != nil {
			return nil, fmt.Errorf("read approvers: %w", err)
		}
		for _, p := range pairs {
			if p[1] != "" && !containsFold(out[p[0]], p[1]) {
				out[p[0]] = append(out[p[0]], p[1])
			}
		}
	}
	return out, nil
}

// releaseNotes reads the notes of releases by id.
func (q *Queries) releaseNotes(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, chunk := range chunks(ids) {
		rows, err := q.query(ctx, `SELECT id, notes FROM releases WHERE id IN (`+placeholders(len(chunk))+`)`, toAny(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("read release notes: %w", err)
		}
		pairs, err := collect(rows, func(s scanner) ([2]string, error) {
			var p [2]string
			return p, s.Scan(&p[0], &p[1])
		})
		if err != nil {
			return nil, fmt.Errorf("read release notes: %w", err)
		}
		for _, p := range pairs {
			out[p[0]] = p[1]
		}
	}
	return out, nil
}

// workItemsOf reads the work items of releases by id.
func (q *Queries) workItemsOf(ctx context.Context, ids []string) (map[string][]model.WorkItem, error) {
	out := map[string][]model.WorkItem{}
	for _, chunk := range chunks(ids) {
		rows, err := q.query(ctx, `SELECT release_id, items FROM release_work_items WHERE release_id IN (`+placeholders(len(chunk))+`)`, toAny(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("read work items: %w", err)
		}
		pairs, err := collect(rows, func(s scanner) ([2]string, error) {
			var p [2]string
			return p, s.Scan(&p[0], &p[1])
		})
		if err != nil {
			return nil, fmt.Errorf("read work items: %w", err)
		}
		for _, p := range pairs {
			var items []model.WorkItem
			if err := unmarshal(p[1], &items); err != nil {
				return nil, fmt.Errorf("read work items of %s: %w", p[0], err)
			}
			out[p[0]] = items
		}
	}
	return out, nil
}

// releaseWorkItems reads one release's work items.
func (q *Queries) releaseWorkItems(ctx context.Context, releaseID string) ([]model.WorkItem, error) {
	m, err := q.workItemsOf(ctx, []string{releaseID})
	return m[releaseID], err
}

// linkWorkItems fixes a new release's work items: those given (checked
// here), then those of its package versions' build information. They are
// kept with the release, so later pushes do not change what it delivered.
func (q *Queries) linkWorkItems(ctx context.Context, r *model.Release) error {
	given := r.WorkItems
	if err := model.ValidateWorkItems(given); err != nil {
		return err
	}
	r.WorkItems = nil
	for _, w := range given {
		w.ID, w.Title, w.URL, w.Source = strings.TrimSpace(w.ID), strings.TrimSpace(w.Title), strings.TrimSpace(w.URL), model.WorkItemFromRelease
		r.WorkItems = model.MergeWorkItems(r.WorkItems, w)
	}
	for _, p := range r.Packages {
		b, err := q.FindBuildInformation(ctx, p.PackageID, p.Version)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		for _, w := range b.WorkItems {
			w.Source = model.WorkItemFromBuild
			r.WorkItems = model.MergeWorkItems(r.WorkItems, w)
		}
	}
	if len(r.WorkItems) == 0 {
		return nil
	}
	doc, err := marshal(r.WorkItems)
	if err != nil {
		return err
	}
	if _, err := q.exec(ctx, `INSERT INTO release_work_items (release_id, items) VALUES (?, ?)`, r.ID, doc); err != nil {
		return fmt.Errorf("keep the work items of release %s: %w", r.Version, err)
	}
	return nil
}

// EnqueueBoardUpdate queues a release-board-updated event with the
// project's board rows for every subscription that wants one, in the
// caller's transaction (the one that records a finished deployment). A
// subscription limited to some environments gets only their columns: an
// outside page fed from it shows what it was meant to show.
func (q *Queries) EnqueueBoardUpdate(ctx context.Context, projectID, environmentID string) error {
	subs, _, err := q.ListSubscriptions(ctx, ListOptions{})
	if err != nil {
		return err
	}
	subs = slices.DeleteFunc(subs, func(s model.Subscription) bool {
		return !s.Wants(model.EventReleaseBoardUpdated, projectID, environmentID)
	})
	if len(subs) == 0 {
		return nil // the board costs a few queries: only when someone listens
	}
	b, err := q.ReleaseBoard(ctx, BoardFilter{ProjectID: projectID})
	if err != nil {
		return err
	}
	now := q.now()
	for _, s := range subs {
		envs, project := boardColumns(b, s.EnvironmentIDs)
		e := Event{Kind: model.EventReleaseBoardUpdated, ProjectID: projectID, EnvironmentID: environmentID,
			Payload: map[string]any{"environmentId": environmentID, "environments": envs, "project": project, "generatedAt": b.GeneratedAt}}
		if err := q.enqueueAll(ctx, s, e, now); err != nil {
			return err
		}
	}
	return nil
}

// boardColumns is a one-project board's environments and row, kept to the
// environments given (all when none are).
func boardColumns(b model.Board, environmentIDs []string) ([]model.BoardEnvironment, any) {
	keep := func(id string) bool { return len(environmentIDs) == 0 || slices.Contains(environmentIDs, id) }
	envs := []model.BoardEnvironment{}
	for _, e := range b.Environments {
		if keep(e.ID) {
			envs = append(envs, e)
		}
	}
	var project any
	for _, g := range b.Groups {
		for _, p := range g.Projects {
			cells := []model.BoardCell{}
			for _, c := range p.Cells {
				if keep(c.EnvironmentID) {
					cells = append(cells, c)
				}
			}
			project = map[string]any{"id": p.ID, "name": p.Name, "projectGroup": g.Name, "cells": cells}
		}
	}
	return envs, project
}

// chunks splits ids into lists short enough for one IN (...).
func chunks(ids []string) [][]string {
	var out [][]string
	for len(ids) > 0 {
		n := min(len(ids), 500)
		out, ids = append(out, ids[:n]), ids[n:]
	}
	return out
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// Build information.

// Overwrite modes of a build information push, as Octopus names them.
const (
	BuildInfoFailIfExists      = "FailIfExists"
	BuildInfoOverwriteExisting = "OverwriteExisting"
	BuildInfoIgnoreIfExists    = "IgnoreIfExists"
)

// buildDoc is the part of build information kept as JSON.
type buildDoc struct {
	BuildURL    string           `json:"buildUrl,omitempty"`
	BuildNumber string           `json:"buildNumber,omitempty"`
	Branch      string           `json:"branch,omitempty"`
	VcsType     string           `json:"vcsType,omitempty"`
	VcsRoot     string           `json:"vcsRoot,omitempty"`
	Commits     []model.Commit   `json:"commits,omitempty"`
	WorkItems   []model.WorkItem `json:"workItems,omitempty"`
}

const buildColumns = `id, package_id, version, doc, created_at, created_by`

func scanBuild(s scanner) (model.BuildInformation, error) {
	var b model.BuildInformation
	var doc string
	var created int64
	if err := s.Scan(&b.ID, &b.PackageID, &b.Version, &doc, &created, &b.CreatedBy); err != nil {
		return b, err
	}
	var d buildDoc
	if err := unmarshal(doc, &d); err != nil {
		return b, fmt.Errorf("read build information %s: %w", b.ID, err)
	}
	b.BuildURL, b.BuildNumber, b.Branch, b.VcsType, b.VcsRoot, b.Commits, b.WorkItems = d.BuildURL, d.BuildNumber, d.Branch, d.VcsType, d.VcsRoot, d.Commits, d.WorkItems
	b.CreatedAt = fromMicros(created)
	return b, nil
}

// PushBuildInformation records what CI tells of a package version. When
// the version already has some, mode says what happens: FailIfExists (the
// default) refuses, OverwriteExisting replaces it, IgnoreIfExists keeps
// the old and returns it. Releases made before keep their work items.
func (q *Queries) PushBuildInformation(ctx context.Context, b *model.BuildInformation, mode string) (existed bool, err error) {
	for i := range b.WorkItems {
		b.WorkItems[i].Source = ""
	}
	if err := b.Validate(); err != nil {
		return false, err
	}
	switch mode {
	case "", BuildInfoFailIfExists, BuildInfoOverwriteExisting, BuildInfoIgnoreIfExists:
	default:
		return false, &model.ValidationError{Subject: "build information", Problems: []string{
			fmt.Sprintf("overwriteMode: %q is not a mode: use FailIfExists, OverwriteExisting or IgnoreIfExists", mode)}}
	}
	old, err := q.FindBuildInformation(ctx, b.PackageID, b.Version)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return false, err
	case mode == BuildInfoIgnoreIfExists:
		*b = old
		return true, nil
	case mode == BuildInfoOverwriteExisting:
		existed = true
		if _, err := q.exec(ctx, `DELETE FROM build_information WHERE id = ?`, old.ID); err != nil {
			return false, fmt.Errorf("replace build information: %w", err)
		}
	default:
		return true, conflict("build information for %s %s is already there (%s); push with overwrite mode OverwriteExisting to replace it", b.PackageID, b.Version, old.ID)
	}
	doc, err := marshal(buildDoc{BuildURL: b.BuildURL, BuildNumber: b.BuildNumber, Branch: b.Branch, VcsType: b.VcsType, VcsRoot: b.VcsRoot,
		Commits: b.Commits, WorkItems: b.WorkItems})
	if err != nil {
		return false, err
	}
	if b.ID, _, err = q.nextID(ctx, "BuildInformation"); err != nil {
		return false, err
	}
	b.CreatedAt = fromMicros(toMicros(q.now()))
	_, err = q.exec(ctx, `INSERT INTO build_information (id, package_id, package_key, version, version_key, doc, created_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, b.ID, b.PackageID, strings.ToLower(b.PackageID), b.Version, strings.ToLower(b.Version), doc, toMicros(b.CreatedAt), b.CreatedBy)
	if err != nil {
		return false, fmt.Errorf("record build information: %w", err)
	}
	return existed, nil
}

// GetBuildInformation reads build information by id.
func (q *Queries) GetBuildInformation(ctx context.Context, id string) (model.BuildInformation, error) {
	b, err := scanBuild(q.queryRow(ctx, `SELECT `+buildColumns+` FROM build_information WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return b, notFound("build information", id)
	}
	return b, err
}

// FindBuildInformation reads a package version's build information.
func (q *Queries) FindBuildInformation(ctx context.Context, packageID, version string) (model.BuildInformation, error) {
	b, err := scanBuild(q.queryRow(ctx, `SELECT `+buildColumns+` FROM build_information WHERE package_key = ? AND version_key = ?`,
		strings.ToLower(packageID), strings.ToLower(version)))
	if errors.Is(err, sql.ErrNoRows) {
		return b, notFound("build information", packageID+" "+version)
	}
	return b, err
}

// ListBuildInformation returns build information, newest first, and the
// total; packageID narrows it to one package.
func (q *Queries) ListBuildInformation(ctx context.Context, packageID string, opts ListOptions) ([]model.BuildInformation, int, error) {
	var where []string
	var args []any
	if packageID != "" {
		where, args = append(where, "package_key = ?"), append(args, strings.ToLower(packageID))
	}
	total, err := q.count(ctx, `SELECT COUNT(*) FROM build_information`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list build information: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+buildColumns+` FROM build_information`+whereClause(where)+` ORDER BY created_at DESC, id DESC`+opts.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list build information: %w", err)
	}
	out, err := collect(rows, scanBuild)
	return out, total, err
}

// DeleteBuildInformation removes build information (releases keep the
// work items they took from it).
func (q *Queries) DeleteBuildInformation(ctx context.Context, id string) error {
	res, err := q.exec(ctx, `DELETE FROM build_information WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete build information: %w", err)
	}
	return mustAffect(res, "build information", id)
}

// Share links.

const shareColumns = `id, name, project_group_id, project_id, expires_at, revoked_at, revoked_by, created_at, created_by`

func scanShare(s scanner) (model.BoardShare, error) {
	var b model.BoardShare
	var expires, revoked, created int64
	err := s.Scan(&b.ID, &b.Name, &b.ProjectGroupID, &b.ProjectID, &expires, &revoked, &b.RevokedBy, &created, &b.CreatedBy)
	b.ExpiresAt, b.RevokedAt, b.CreatedAt = fromOptionalMicros(expires), fromOptionalMicros(revoked), fromMicros(created)
	return b, err
}

// HashShareToken is how a share link's token is kept and looked up.
func HashShareToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateBoardShare records a share link under the hash of its token (the
// caller makes the token and shows it once).
func (q *Queries) CreateBoardShare(ctx context.Context, s *model.BoardShare, token string) error {
	s.Name = strings.TrimSpace(s.Name)
	if err := s.Validate(q.now()); err != nil {
		return err
	}
	if s.ProjectID != "" {
		if _, err := q.GetProject(ctx, s.ProjectID); errors.Is(err, ErrNotFound) {
			return &model.ValidationError{Subject: "share link", Problems: []string{fmt.Sprintf("projectId: project %q does not exist", s.ProjectID)}}
		} else if err != nil {
			return err
		}
	}
	if s.ProjectGroupID != "" {
		if _, err := q.GetProjectGroup(ctx, s.ProjectGroupID); errors.Is(err, ErrNotFound) {
			return &model.ValidationError{Subject: "share link", Problems: []string{fmt.Sprintf("projectGroupId: project group %q does not exist", s.ProjectGroupID)}}
		} else if err != nil {
			return err
		}
	}
	id, _, err := q.nextID(ctx, "BoardShares")
	if err != nil {
		return err
	}
	s.ID, s.CreatedAt, s.RevokedAt, s.RevokedBy = id, fromMicros(toMicros(q.now())), nil, ""
	var expires int64
	if s.ExpiresAt != nil {
		t := fromMicros(toMicros(*s.ExpiresAt))
		s.ExpiresAt, expires = &t, toMicros(t)
	}
	_, err = q.exec(ctx, `INSERT INTO board_shares (id, name, token_hash, project_group_id, project_id, expires_at, created_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, s.ID, s.Name, HashShareToken(token), s.ProjectGroupID, s.ProjectID, expires, toMicros(s.CreatedAt), s.CreatedBy)
	if err != nil {
		return fmt.Errorf("create share link: %w", err)
	}
	return nil
}

// GetBoardShare reads a share link by id.
func (q *Queries) GetBoardShare(ctx context.Context, id string) (model.BoardShare, error) {
	s, err := scanShare(q.queryRow(ctx, `SELECT `+shareColumns+` FROM board_shares WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, notFound("share link", id)
	}
	return s, err
}

// ActiveBoardShare finds the link a token opens, if it still does: an
// unknown, revoked or expired token is not found (alike, so a visitor
// learns nothing from the difference).
func (q *Queries) ActiveBoardShare(ctx context.Context, token string) (model.BoardShare, error) {
	s, err := scanShare(q.queryRow(ctx, `SELECT `+shareColumns+` FROM board_shares WHERE token_hash = ?`, HashShareToken(token)))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !s.Active(q.now())) {
		return model.BoardShare{}, notFound("share link", "given")
	}
	return s, err
}

// ListBoardShares returns share links, newest first; visible, when set,
// says which the reader may see (by project and group).
func (q *Queries) ListBoardShares(ctx context.Context, visible func(model.BoardShare) bool) ([]model.BoardShare, error) {
	rows, err := q.query(ctx, `SELECT `+shareColumns+` FROM board_shares ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list share links: %w", err)
	}
	all, err := collect(rows, scanShare)
	if err != nil {
		return nil, fmt.Errorf("list share links: %w", err)
	}
	out := []model.BoardShare{}
	for _, s := range all {
		if visible == nil || visible(s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// RevokeBoardShare stops a share link working, at once and for good.
func (q *Queries) RevokeBoardShare(ctx context.Context, id, by string) (model.BoardShare, error) {
	s, err := q.GetBoardShare(ctx, id)
	if err != nil {
		return s, err
	}
	if s.RevokedAt != nil {
		return s, nil
	}
	if _, err := q.exec(ctx, `UPDATE board_shares SET revoked_at = ?, revoked_by = ? WHERE id = ?`, toMicros(q.now()), by, id); err != nil {
		return s, fmt.Errorf("revoke share link %s: %w", id, err)
	}
	return q.GetBoardShare(ctx, id)
}

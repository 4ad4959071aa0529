package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

const librarySetColumns = `id, name, description, variables, variables_version`

func scanLibrarySet(s scanner) (model.LibraryVariableSet, error) {
	var l model.LibraryVariableSet
	var vars string
	if err := s.Scan(&l.ID, &l.Name, &l.Description, &vars, &l.Version); err != nil {
		return l, err
	}
	return l, unmarshal(vars, &l.Variables)
}

// prepareLibrarySet validates, seals and numbers a set's variables.
func (q *Queries) prepareLibrarySet(ctx context.Context, l *model.LibraryVariableSet, old []model.Variable) error {
	if err := l.Validate(); err != nil {
		return err
	}
	vs := &model.VariableSet{OwnerID: l.ID, Variables: l.Variables}
	if err := q.prepareVariables(ctx, "library variable set", "", vs, old); err != nil {
		return err
	}
	l.Variables = vs.Variables
	return nil
}

// CreateLibrarySet stores a new library variable set.
func (q *Queries) CreateLibrarySet(ctx context.Context, l *model.LibraryVariableSet) error {
	if err := q.prepareLibrarySet(ctx, l, nil); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "library_variable_sets", "library variable set", l.Name, ""); err != nil {
		return err
	}
	id, _, err := q.nextID(ctx, "LibraryVariableSets")
	if err != nil {
		return err
	}
	l.ID, l.Version = id, 1
	vars, err := marshal(l.Variables)
	if err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO library_variable_sets (id, name, name_key, description, variables, variables_version) VALUES (?, ?, ?, ?, ?, ?)`,
		l.ID, l.Name, model.NameKey(l.Name), l.Description, vars, l.Version)
	if err != nil {
		return fmt.Errorf("create library variable set: %w", err)
	}
	return nil
}

// GetLibrarySet reads one set by id.
func (q *Queries) GetLibrarySet(ctx context.Context, id string) (model.LibraryVariableSet, error) {
	l, err := scanLibrarySet(q.queryRow(ctx, `SELECT `+librarySetColumns+` FROM library_variable_sets WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return l, notFound("library variable set", id)
	}
	return l, err
}

// FindLibrarySet reads one set by id or name.
func (q *Queries) FindLibrarySet(ctx context.Context, idOrName string) (model.LibraryVariableSet, error) {
	l, err := scanLibrarySet(q.queryRow(ctx, `SELECT `+librarySetColumns+` FROM library_variable_sets WHERE id = ? OR name_key = ?`,
		idOrName, model.NameKey(idOrName)))
	if errors.Is(err, sql.ErrNoRows) {
		return l, notFound("library variable set", idOrName)
	}
	return l, err
}

// ListLibrarySets returns a page of sets and the total.
func (q *Queries) ListLibrarySets(ctx context.Context, opts ListOptions) ([]model.LibraryVariableSet, int, error) {
	where, args := opts.nameFilter(nil, nil, "name_key")
	total, err := q.count(ctx, `SELECT COUNT(*) FROM library_variable_sets`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list library variable sets: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+librarySetColumns+` FROM library_variable_sets`+whereClause(where)+` ORDER BY name_key`+opts.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list library variable sets: %w", err)
	}
	out, err := collect(rows, scanLibrarySet)
	return out, total, err
}

// UpdateLibrarySet replaces a set; its version must be the one read.
// Releases keep the variables they snapshotted.
func (q *Queries) UpdateLibrarySet(ctx context.Context, l *model.LibraryVariableSet) error {
	old, err := q.GetLibrarySet(ctx, l.ID)
	if err != nil {
		return err
	}
	if err := q.prepareLibrarySet(ctx, l, old.Variables); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "library_variable_sets", "library variable set", l.Name, l.ID); err != nil {
		return err
	}
	vars, err := marshal(l.Variables)
	if err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE library_variable_sets SET name = ?, name_key = ?, description = ?, variables = ?, variables_version = variables_version + 1
		WHERE id = ? AND variables_version = ?`, l.Name, model.NameKey(l.Name), l.Description, vars, l.ID, l.Version)
	if err != nil {
		return fmt.Errorf("update library variable set: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return conflict("library variable set %q changed since version %d was read (it is now version %d); reload it and apply your change again", old.Name, l.Version, old.Version)
	}
	l.Version++
	return nil
}

// DeleteLibrarySet removes a set no project includes.
func (q *Queries) DeleteLibrarySet(ctx context.Context, id string) error {
	l, err := q.GetLibrarySet(ctx, id)
	if err != nil {
		return err
	}
	projects, _, err := q.ListProjects(ctx, ListOptions{})
	if err != nil {
		return err
	}
	for _, p := range projects {
		if slices.Contains(p.LibrarySetIDs, id) {
			return conflict("library variable set %q is included by project %q; remove it there first", l.Name, p.Name)
		}
	}
	_, err = q.exec(ctx, `DELETE FROM library_variable_sets WHERE id = ?`, id)
	return err
}

// ProjectAndLibraryVariables lists a project's variables now, with those of
// the library sets it includes (each marked with its set).
func (q *Queries) ProjectAndLibraryVariables(ctx context.Context, p model.Project) ([]model.Variable, error) {
	vs, _, err := q.withLibrarySets(ctx, p)
	return vs.Variables, err
}

// releaseVariables is what a new release of a project snapshots: the
// project's variables and those of the library sets it includes, each
// marked with its set. Values that refer to each other in a cycle across
// the project and its sets are refused: each was saved alone.
func (q *Queries) releaseVariables(ctx context.Context, p model.Project) (model.VariableSet, error) {
	vs, setNames, err := q.withLibrarySets(ctx, p)
	if err != nil {
		return vs, err
	}
	return vs, checkSnapshotCycles(p.Name, vs.Variables, setNames)
}

// withLibrarySets returns the project's variables and those of its library
// sets, each marked with its set, and the sets' names by id.
func (q *Queries) withLibrarySets(ctx context.Context, p model.Project) (model.VariableSet, map[string]string, error) {
	names := map[string]string{}
	vs, err := q.GetVariables(ctx, p.ID)
	if err != nil {
		return vs, names, err
	}
	for _, id := range p.LibrarySetIDs {
		l, err := q.GetLibrarySet(ctx, id)
		if err != nil {
			return vs, names, fmt.Errorf("library variable set %s: %w", id, err)
		}
		names[l.ID] = l.Name
		for _, v := range l.Variables {
			v.LibrarySetID = l.ID
			vs.Variables = append(vs.Variables, v)
		}
	}
	return vs, names, nil
}

// RefreshReleaseVariables takes a release's variables again from its
// project and library sets. Once the release has succeeded in an
// environment of its lifecycle's last phase it is settled, and this is
// refused.
func (q *Queries) RefreshReleaseVariables(ctx context.Context, releaseID string) (model.Release, error) {
	r, err := q.GetRelease(ctx, releaseID)
	if err != nil {
		return r, err
	}
	p, err := q.GetProject(ctx, r.ProjectID)
	if err != nil {
		return r, err
	}
	l, err := q.ReleaseLifecycle(ctx, p, r)
	if err != nil {
		return r, err
	}
	envs, err := q.AllEnvironments(ctx)
	if err != nil {
		return r, err
	}
	history, err := q.ReleaseHistory(ctx, r.ID)
	if err != nil {
		return r, err
	}
	phases := l.EffectivePhases(envs)
	if n := len(phases); n > 0 {
		for _, id := range phases[n-1].Environments {
			if history.Succeeded[id] {
				names := map[string]string{}
				for _, e := range envs {
					names[e.ID] = e.Name
				}
				return r, conflict("release %s has been deployed to %s, in its lifecycle's last phase; its variables no longer change (create a new release)", r.Version, names[id])
			}
		}
	}
	vars, err := q.releaseVariables(ctx, p)
	if err != nil {
		return r, err
	}
	text, err := marshal(vars)
	if err != nil {
		return r, err
	}
	if _, err := q.exec(ctx, `UPDATE releases SET variables = ? WHERE id = ?`, text, r.ID); err != nil {
		return r, fmt.Errorf("refresh release variables: %w", err)
	}
	r.VariableSnapshot = vars
	return r, nil
}

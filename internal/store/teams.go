package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// Roles: the built-in ones live in code, custom ones in the roles table.

func scanRole(s scanner) (model.Role, error) {
	var r model.Role
	var perms string
	if err := s.Scan(&r.ID, &r.Name, &r.Description, &perms); err != nil {
		return r, err
	}
	if err := unmarshal(perms, &r.Permissions); err != nil {
		return r, fmt.Errorf("read role %s: %w", r.ID, err)
	}
	return r, nil
}

// ListRoles returns the built-in roles, then the custom ones by name.
func (q *Queries) ListRoles(ctx context.Context) ([]model.Role, error) {
	rows, err := q.query(ctx, `SELECT id, name, description, permissions FROM roles ORDER BY name_key`)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	custom, err := collect(rows, scanRole)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	return append(model.BuiltInRoles(), custom...), nil
}

// RolesByID maps every role's id to the role.
func (q *Queries) RolesByID(ctx context.Context) (map[string]model.Role, error) {
	all, err := q.ListRoles(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]model.Role, len(all))
	for _, r := range all {
		m[r.ID] = r
	}
	return m, nil
}

// GetRole reads a role, built-in or custom, by id or name.
func (q *Queries) GetRole(ctx context.Context, idOrName string) (model.Role, error) {
	all, err := q.ListRoles(ctx)
	if err != nil {
		return model.Role{}, err
	}
	for _, r := range all {
		if r.ID == idOrName || model.SameName(r.Name, idOrName) {
			return r, nil
		}
	}
	return model.Role{}, notFound("role", idOrName)
}

func (q *Queries) checkRole(ctx context.Context, r *model.Role) error {
	r.BuiltIn = false
	if err := r.Validate(); err != nil {
		return err
	}
	for _, b := range model.BuiltInRoles() {
		if model.SameName(b.Name, r.Name) {
			return conflict("%q is a built-in role's name; choose another", r.Name)
		}
	}
	return q.checkNameFree(ctx, "roles", "role", r.Name, r.ID)
}

// CreateRole stores a custom role.
func (q *Queries) CreateRole(ctx context.Context, r *model.Role) error {
	if err := q.checkRole(ctx, r); err != nil {
		return err
	}
	id, _, err := q.nextID(ctx, "Roles")
	if err != nil {
		return err
	}
	r.ID = id
	perms, _ := marshal(r.Permissions)
	if _, err := q.exec(ctx, `INSERT INTO roles (id, name, name_key, description, permissions) VALUES (?, ?, ?, ?, ?)`,
		r.ID, r.Name, model.NameKey(r.Name), r.Description, perms); err != nil {
		return fmt.Errorf("create role: %w", err)
	}
	return nil
}

func refuseBuiltIn(id string) error {
	if strings.HasPrefix(id, "Roles-") {
		for _, b := range model.BuiltInRoles() {
			if b.ID == id {
				return &model.RefusedError{Reason: fmt.Sprintf("%q is a built-in role and cannot be changed; create a custom role instead", b.Name)}
			}
		}
	}
	return nil
}

// UpdateRole replaces a custom role.
func (q *Queries) UpdateRole(ctx context.Context, r *model.Role) error {
	if err := refuseBuiltIn(r.ID); err != nil {
		return err
	}
	if err := q.checkRole(ctx, r); err != nil {
		return err
	}
	perms, _ := marshal(r.Permissions)
	res, err := q.exec(ctx, `UPDATE roles SET name = ?, name_key = ?, description = ?, permissions = ? WHERE id = ?`,
		r.Name, model.NameKey(r.Name), r.Description, perms, r.ID)
	if err != nil {
		return fmt.Errorf("update role: %w", err)
	}
	return mustAffect(res, "role", r.ID)
}

// DeleteRole removes a custom role no team holds.
func (q *Queries) DeleteRole(ctx context.Context, id string) error {
	if err := refuseBuiltIn(id); err != nil {
		return err
	}
	teams, _, err := q.ListTeams(ctx, ListOptions{})
	if err != nil {
		return err
	}
	for _, t := range teams {
		for _, g := range t.Roles {
			if g.RoleID == id {
				return conflict("team %q holds role %s; take it from the team first", t.Name, id)
			}
		}
	}
	res, err := q.exec(ctx, `DELETE FROM roles WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete role: %w", err)
	}
	return mustAffect(res, "role", id)
}

// Teams.

func (q *Queries) scanTeams(ctx context.Context, rows *sql.Rows) ([]model.Team, error) {
	teams, err := collect(rows, func(s scanner) (model.Team, error) {
		var t model.Team
		var grants string
		if err := s.Scan(&t.ID, &t.Name, &t.Description, &grants); err != nil {
			return t, err
		}
		return t, unmarshal(grants, &t.Roles)
	})
	if err != nil {
		return nil, fmt.Errorf("read teams: %w", err)
	}
	if len(teams) == 0 {
		return teams, nil
	}
	// Every team's members in one query, not one per team: this runs on
	// every request (a user's rights come from their teams).
	index := make(map[string]int, len(teams))
	ids := make([]any, 0, len(teams))
	for i := range teams {
		index[teams[i].ID] = i
		ids = append(ids, teams[i].ID)
		teams[i].MemberIDs = []string{}
		if teams[i].Roles == nil {
			teams[i].Roles = []model.RoleGrant{}
		}
	}
	mrows, err := q.query(ctx, `SELECT team_id, user_id FROM team_members WHERE team_id IN (`+placeholders(len(ids))+`) ORDER BY team_id, user_id`, ids...)
	if err != nil {
		return nil, fmt.Errorf("read team members: %w", err)
	}
	if _, err := collect(mrows, func(s scanner) (struct{}, error) {
		var team, user string
		err := s.Scan(&team, &user)
		if i, ok := index[team]; ok && err == nil {
			teams[i].MemberIDs = append(teams[i].MemberIDs, user)
		}
		return struct{}{}, err
	}); err != nil {
		return nil, fmt.Errorf("read team members: %w", err)
	}
	return teams, nil
}

const teamColumns = `id, name, description, grants`

// ListTeams returns a page of teams by name and the total.
func (q *Queries) ListTeams(ctx context.Context, opts ListOptions) ([]model.Team, int, error) {
	where, args := opts.nameFilter(nil, nil, "name_key")
	total, err := q.count(ctx, `SELECT COUNT(*) FROM teams`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list teams: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+teamColumns+` FROM teams`+whereClause(where)+` ORDER BY name_key`+opts.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list teams: %w", err)
	}
	teams, err := q.scanTeams(ctx, rows)
	return teams, total, err
}

// TeamsOf returns the teams a user is a member of.
func (q *Queries) TeamsOf(ctx context.Context, userID string) ([]model.Team, error) {
	rows, err := q.query(ctx, `SELECT `+teamColumns+` FROM teams WHERE id IN (SELECT team_id FROM team_members WHERE user_id = ?) ORDER BY name_key`, userID)
	if err != nil {
		return nil, fmt.Errorf("teams of %s: %w", userID, err)
	}
	return q.scanTeams(ctx, rows)
}

// GetTeam reads one team by id.
func (q *Queries) GetTeam(ctx context.Context, id string) (model.Team, error) {
	rows, err := q.query(ctx, `SELECT `+teamColumns+` FROM teams WHERE id = ?`, id)
	if err != nil {
		return model.Team{}, fmt.Errorf("get team: %w", err)
	}
	teams, err := q.scanTeams(ctx, rows)
	if err != nil {
		return model.Team{}, err
	}
	if len(teams) == 0 {
		return model.Team{}, notFound("team", id)
	}
	return teams[0], nil
}

// checkTeam validates a team and what it refers to.
func (q *Queries) checkTeam(ctx context.Context, t *model.Team) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "teams", "team", t.Name, t.ID); err != nil {
		return err
	}
	var problems []string
	for _, id := range t.MemberIDs {
		if _, err := q.GetUser(ctx, id); errors.Is(err, ErrNotFound) {
			problems = append(problems, fmt.Sprintf("memberIds: user %q does not exist", id))
		} else if err != nil {
			return err
		}
	}
	roles, err := q.RolesByID(ctx)
	if err != nil {
		return err
	}
	exists := func(kind, table, id string) error {
		n, err := q.count(ctx, `SELECT COUNT(*) FROM `+table+` WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n == 0 {
			problems = append(problems, fmt.Sprintf("roles: %s %q does not exist", kind, id))
		}
		return nil
	}
	for _, g := range t.Roles {
		if _, ok := roles[g.RoleID]; !ok {
			problems = append(problems, fmt.Sprintf("roles: role %q does not exist; GET /api/v1/roles lists them", g.RoleID))
		}
		for _, id := range g.ProjectIDs {
			if err := exists("project", "projects", id); err != nil {
				return err
			}
		}
		for _, id := range g.ProjectGroupIDs {
			if err := exists("project group", "project_groups", id); err != nil {
				return err
			}
		}
		for _, id := range g.EnvironmentIDs {
			if err := exists("environment", "environments", id); err != nil {
				return err
			}
		}
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: fmt.Sprintf("team %q", t.Name), Problems: problems}
	}
	return nil
}

func (q *Queries) writeMembers(ctx context.Context, t *model.Team) error {
	if _, err := q.exec(ctx, `DELETE FROM team_members WHERE team_id = ?`, t.ID); err != nil {
		return fmt.Errorf("save members of %s: %w", t.Name, err)
	}
	for _, id := range t.MemberIDs {
		if _, err := q.exec(ctx, `INSERT INTO team_members (team_id, user_id) VALUES (?, ?)`, t.ID, id); err != nil {
			return fmt.Errorf("save members of %s: %w", t.Name, err)
		}
	}
	return nil
}

// CreateTeam stores a new team with its members and roles.
func (q *Queries) CreateTeam(ctx context.Context, t *model.Team) error {
	if err := q.checkTeam(ctx, t); err != nil {
		return err
	}
	id, _, err := q.nextID(ctx, "Teams")
	if err != nil {
		return err
	}
	t.ID = id
	if t.Roles == nil {
		t.Roles = []model.RoleGrant{}
	}
	grants, _ := marshal(t.Roles)
	if _, err := q.exec(ctx, `INSERT INTO teams (id, name, name_key, description, grants) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.Name, model.NameKey(t.Name), t.Description, grants); err != nil {
		return fmt.Errorf("create team: %w", err)
	}
	return q.writeMembers(ctx, t)
}

// UpdateTeam replaces a team's name, members and roles.
func (q *Queries) UpdateTeam(ctx context.Context, t *model.Team) error {
	if err := q.checkTeam(ctx, t); err != nil {
		return err
	}
	if t.Roles == nil {
		t.Roles = []model.RoleGrant{}
	}
	grants, _ := marshal(t.Roles)
	res, err := q.exec(ctx, `UPDATE teams SET name = ?, name_key = ?, description = ?, grants = ? WHERE id = ?`,
		t.Name, model.NameKey(t.Name), t.Description, grants, t.ID)
	if err != nil {
		return fmt.Errorf("update team: %w", err)
	}
	if err := mustAffect(res, "team", t.ID); err != nil {
		return err
	}
	return q.writeMembers(ctx, t)
}

// DeleteTeam removes a team; its members keep their other teams.
func (q *Queries) DeleteTeam(ctx context.Context, id string) error {
	if _, err := q.exec(ctx, `DELETE FROM team_members WHERE team_id = ?`, id); err != nil {
		return fmt.Errorf("delete team: %w", err)
	}
	res, err := q.exec(ctx, `DELETE FROM teams WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete team: %w", err)
	}
	return mustAffect(res, "team", id)
}

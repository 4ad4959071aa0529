// Package access decides what a user may do: it turns the roles their teams
// hold, each within a scope of projects, project groups and environments,
// into answers to "may they do P to this thing?" and "which things may they
// see?". It is pure: the caller loads users, teams and roles.
package access

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// Scope is where a thing lives: the project it belongs to (and that
// project's group) and the environments it touches. Empty fields mean the
// thing has no such dimension.
type Scope struct {
	ProjectID      string
	ProjectGroupID string
	EnvironmentIDs []string
	// Anywhere is the scope of shared things (machine policies, freezes):
	// holding the permission for anything at all is enough.
	Anywhere bool
}

// Project is a scope of one project.
func Project(p model.Project) Scope {
	return Scope{ProjectID: p.ID, ProjectGroupID: p.ProjectGroupID}
}

// In adds environments to a scope.
func (s Scope) In(environmentIDs ...string) Scope {
	s.EnvironmentIDs = append(slices.Clone(s.EnvironmentIDs), environmentIDs...)
	return s
}

// Rule is one grant's reach for one permission: things in any of the
// projects or project groups (all when both are empty) and environments
// (all when empty).
type Rule struct {
	ProjectIDs      []string
	ProjectGroupIDs []string
	EnvironmentIDs  []string
}

// Filter is what a user may see of a kind of thing: everything, or what
// matches any rule.
type Filter struct {
	All   bool
	Rules []Rule
}

// None reports whether the filter lets nothing through.
func (f Filter) None() bool { return !f.All && len(f.Rules) == 0 }

// grant is a role held in a scope.
type grant struct {
	perms map[model.Permission]bool
	rule  Rule
}

// Rights are what one user may do.
type Rights struct {
	Admin  bool
	grants []grant
}

// For works out a user's rights from their teams and the roles those hold.
// Grants of roles that no longer exist give nothing.
func For(u model.User, teams []model.Team, roles map[string]model.Role) Rights {
	r := Rights{Admin: u.IsAdmin}
	for _, t := range teams {
		if !slices.Contains(t.MemberIDs, u.ID) {
			continue
		}
		for _, g := range t.Roles {
			role, ok := roles[g.RoleID]
			if !ok {
				continue
			}
			perms := make(map[model.Permission]bool, len(role.Permissions))
			for _, p := range role.Permissions {
				perms[p] = true
			}
			if perms[model.AdministerSystem] && len(g.ProjectIDs)+len(g.ProjectGroupIDs)+len(g.EnvironmentIDs) == 0 {
				r.Admin = true
			}
			r.grants = append(r.grants, grant{perms: perms,
				rule: Rule{ProjectIDs: g.ProjectIDs, ProjectGroupIDs: g.ProjectGroupIDs, EnvironmentIDs: g.EnvironmentIDs}})
		}
	}
	return r
}

// Allows reports whether the user may do p to a thing in scope s.
func (r Rights) Allows(p model.Permission, s Scope) bool {
	if r.Admin {
		return true
	}
	if s.Anywhere {
		return r.Anywhere(p)
	}
	info, ok := model.LookupPermission(p)
	if !ok {
		return false
	}
	for _, g := range r.grants {
		if g.perms[p] && g.rule.matches(info, s) {
			return true
		}
	}
	return false
}

// Anywhere reports whether the user holds p for at least something: lists
// are open to them, filtered by Filter.
func (r Rights) Anywhere(p model.Permission) bool {
	if r.Admin {
		return true
	}
	info, ok := model.LookupPermission(p)
	if !ok {
		return false
	}
	for _, g := range r.grants {
		if g.perms[p] && (info.Dims != 0 || g.rule.matches(info, Scope{})) {
			return true
		}
	}
	return false
}

// Filter says which things the user may see with permission p. Rule
// dimensions the permission is not scoped by are dropped, so a project
// viewer limited to some projects still sees every environment.
func (r Rights) Filter(p model.Permission) Filter {
	if r.Admin {
		return Filter{All: true}
	}
	info, ok := model.LookupPermission(p)
	if !ok {
		return Filter{}
	}
	var f Filter
	for _, g := range r.grants {
		if !g.perms[p] {
			continue
		}
		rule := g.rule
		if !rule.matches(info, Scope{}) && info.Dims == 0 {
			continue
		}
		if info.Dims&model.ByProject == 0 {
			rule.ProjectIDs, rule.ProjectGroupIDs = nil, nil
		}
		if info.Dims&model.ByEnvironment == 0 {
			rule.EnvironmentIDs = nil
		}
		if len(rule.ProjectIDs)+len(rule.ProjectGroupIDs)+len(rule.EnvironmentIDs) == 0 {
			return Filter{All: true}
		}
		f.Rules = append(f.Rules, rule)
	}
	return f
}

// Allows reports whether a thing in scope s passes the filter, for the
// view permission the filter was made for.
func (f Filter) Allows(s Scope) bool {
	if f.All || s.Anywhere && len(f.Rules) > 0 {
		return true
	}
	view := model.PermissionInfo{Dims: model.ByProject | model.ByEnvironment, View: true}
	for _, rule := range f.Rules {
		if rule.matches(view, s) {
			return true
		}
	}
	return false
}

// matches reports whether a thing in scope s is within the rule for a
// permission described by info.
func (rule Rule) matches(info model.PermissionInfo, s Scope) bool {
	scoped := len(rule.ProjectIDs)+len(rule.ProjectGroupIDs)+len(rule.EnvironmentIDs) > 0
	if scoped && info.Dims == 0 && !info.View && info.Name != model.FeedPush {
		// A grant limited to some projects or environments must not hand
		// out server-wide powers (users, teams, configuration): those need
		// an unlimited grant. Seeing shared things (lifecycles, the feed)
		// and pushing packages are fine.
		return false
	}
	if info.Dims&model.ByProject != 0 && len(rule.ProjectIDs)+len(rule.ProjectGroupIDs) > 0 {
		in := (s.ProjectID != "" && slices.Contains(rule.ProjectIDs, s.ProjectID)) ||
			(s.ProjectGroupID != "" && slices.Contains(rule.ProjectGroupIDs, s.ProjectGroupID))
		if !in {
			return false
		}
	}
	if info.Dims&model.ByEnvironment != 0 && len(rule.EnvironmentIDs) > 0 {
		if len(s.EnvironmentIDs) == 0 {
			return false
		}
		inside := 0
		for _, e := range s.EnvironmentIDs {
			if slices.Contains(rule.EnvironmentIDs, e) {
				inside++
			}
		}
		// Seeing needs one environment in reach; acting needs all of them,
		// so nobody changes a machine that also serves an environment they
		// may not touch.
		if info.View && inside == 0 || !info.View && inside < len(s.EnvironmentIDs) {
			return false
		}
	}
	return true
}

// DeniedError is a refused action: who lacks which permission where.
type DeniedError struct {
	Permission model.Permission
	Scope      Scope
	// What names the scope for people ("project shop in environment
	// Production"); the ids when empty.
	What string
}

func (e *DeniedError) Error() string {
	where := e.What
	if where == "" {
		var parts []string
		if e.Scope.ProjectID != "" {
			parts = append(parts, "project "+e.Scope.ProjectID)
		} else if e.Scope.ProjectGroupID != "" {
			parts = append(parts, "project group "+e.Scope.ProjectGroupID)
		}
		if len(e.Scope.EnvironmentIDs) > 0 {
			parts = append(parts, "environment "+strings.Join(e.Scope.EnvironmentIDs, ", "))
		}
		where = strings.Join(parts, " in ")
	}
	msg := fmt.Sprintf("you lack the %s permission", e.Permission)
	if where != "" {
		msg += " for " + where
	}
	return msg + "; ask an administrator for a team role that has it"
}

package access

import (
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

func roles() map[string]model.Role {
	m := map[string]model.Role{}
	for _, r := range model.BuiltInRoles() {
		m[r.ID] = r
	}
	return m
}

func TestRightsFollowRolesAndTheirScopes(t *testing.T) {
	alice := model.User{ID: "Users-2"}
	team := func(g ...model.RoleGrant) model.Team {
		return model.Team{Name: "t", MemberIDs: []string{alice.ID}, Roles: g}
	}
	shop := Scope{ProjectID: "Projects-1", ProjectGroupID: "ProjectGroups-1"}
	blog := Scope{ProjectID: "Projects-2", ProjectGroupID: "ProjectGroups-2"}
	tests := []struct {
		name  string
		user  model.User
		teams []model.Team
		perm  model.Permission
		scope Scope
		want  bool
	}{
		{"no team, nothing", alice, nil, model.ProjectView, shop, false},
		{"administrator, everything", model.User{ID: "Users-1", IsAdmin: true}, nil, model.DeploymentCreate, shop.In("Environments-3"), true},
		{"team without the user gives nothing", alice, []model.Team{{Name: "t", Roles: []model.RoleGrant{{RoleID: model.RoleProjectDeployer}}}}, model.ProjectView, shop, false},
		{"unscoped viewer sees any project", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectViewer})}, model.ProjectView, blog, true},
		{"viewer cannot deploy", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectViewer})}, model.DeploymentCreate, shop.In("Environments-1"), false},
		{"viewer of A does not see B", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectViewer, ProjectIDs: []string{"Projects-1"}})}, model.ProjectView, blog, false},
		{"viewer of A sees A", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectViewer, ProjectIDs: []string{"Projects-1"}})}, model.ProjectView, shop, true},
		{"project group reaches its projects", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectViewer, ProjectGroupIDs: []string{"ProjectGroups-2"}})}, model.ProjectView, blog, true},
		{"project group does not reach others", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectViewer, ProjectGroupIDs: []string{"ProjectGroups-2"}})}, model.ProjectView, shop, false},
		{"deployer for Dev deploys to Dev", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectDeployer, EnvironmentIDs: []string{"Environments-1"}})}, model.DeploymentCreate, shop.In("Environments-1"), true},
		{"deployer for Dev cannot deploy to Production", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectDeployer, EnvironmentIDs: []string{"Environments-1"}})}, model.DeploymentCreate, shop.In("Environments-3"), false},
		{"environment scope does not restrict project-only permissions", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectDeployer, EnvironmentIDs: []string{"Environments-1"}})}, model.ReleaseCreate, shop, true},
		{"project scope does not restrict environment-only permissions", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectViewer, ProjectIDs: []string{"Projects-1"}})}, model.EnvironmentView, Scope{EnvironmentIDs: []string{"Environments-3"}}, true},
		{"project-scoped grant cannot act on a thing without a project", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectDeployer, ProjectIDs: []string{"Projects-1"}})}, model.ProjectCreate, Scope{ProjectGroupID: "ProjectGroups-1"}, false},
		{"creating projects in a granted group", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleSystemAdministrator, ProjectGroupIDs: []string{"ProjectGroups-1"}})}, model.ProjectCreate, Scope{ProjectGroupID: "ProjectGroups-1"}, true},
		{"seeing a machine needs one of its environments", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleEnvironmentManager, EnvironmentIDs: []string{"Environments-1"}})}, model.MachineView, Scope{EnvironmentIDs: []string{"Environments-1", "Environments-3"}}, true},
		{"changing a machine needs all its environments", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleEnvironmentManager, EnvironmentIDs: []string{"Environments-1"}})}, model.MachineEdit, Scope{EnvironmentIDs: []string{"Environments-1", "Environments-3"}}, false},
		{"environment-scoped grant cannot act on a thing without environments", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectDeployer, EnvironmentIDs: []string{"Environments-1"}})}, model.TaskCancel, shop, false},
		{"grants add up", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectViewer}), team(model.RoleGrant{RoleID: model.RoleProjectDeployer, EnvironmentIDs: []string{"Environments-1"}})}, model.DeploymentCreate, shop.In("Environments-1"), true},
		{"a deleted role gives nothing", alice, []model.Team{team(model.RoleGrant{RoleID: "Roles-99"})}, model.ProjectView, shop, false},
		{"a scoped grant gives no server-wide powers", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleSystemAdministrator, ProjectIDs: []string{"Projects-1"}})}, model.UserEdit, Scope{}, false},
		{"a scoped grant still shows shared things", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectViewer, ProjectIDs: []string{"Projects-1"}})}, model.LifecycleView, Scope{}, true},
		{"a scoped grant still pushes packages", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectLead, ProjectIDs: []string{"Projects-1"}})}, model.FeedPush, Scope{}, true},
		{"nobody without a role edits users", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleReleaseManager})}, model.UserEdit, Scope{}, false},
		{"release manager deploys anywhere", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleReleaseManager})}, model.DeploymentCreate, shop.In("Environments-3"), true},
		{"release manager does not edit processes", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleReleaseManager})}, model.ProcessEdit, shop, false},
		{"project lead creates releases but does not deploy", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectLead})}, model.DeploymentCreate, shop.In("Environments-1"), false},
		{"contributor edits variables", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectContributor})}, model.VariableEdit, shop, true},
		{"contributor does not create releases", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectContributor})}, model.ReleaseCreate, shop, false},
		{"unknown permission is never allowed", alice, []model.Team{team(model.RoleGrant{RoleID: model.RoleProjectViewer})}, "Teleport", shop, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := For(tt.user, tt.teams, roles())
			if got := r.Allows(tt.perm, tt.scope); got != tt.want {
				t.Errorf("Allows(%s, %+v) = %v, want %v", tt.perm, tt.scope, got, tt.want)
			}
		})
	}
}

func TestScopedAdministratorRoleIsNotServerWide(t *testing.T) {
	u := model.User{ID: "Users-2"}
	r := For(u, []model.Team{{MemberIDs: []string{u.ID}, Roles: []model.RoleGrant{{RoleID: model.RoleSystemAdministrator, ProjectIDs: []string{"Projects-1"}}}}}, roles())
	if r.Admin {
		t.Fatal("a system administrator role limited to a project made the user a server administrator")
	}
	if r.Allows(model.ProjectEdit, Scope{ProjectID: "Projects-2"}) {
		t.Error("the project-limited grant reached another project")
	}
}

func TestFiltersKeepOnlyTheDimensionsAPermissionHas(t *testing.T) {
	u := model.User{ID: "Users-2"}
	teams := []model.Team{{MemberIDs: []string{u.ID}, Roles: []model.RoleGrant{
		{RoleID: model.RoleProjectViewer, ProjectIDs: []string{"Projects-1"}, EnvironmentIDs: []string{"Environments-1"}},
	}}}
	r := For(u, teams, roles())
	tests := []struct {
		name  string
		perm  model.Permission
		scope Scope
		want  bool
	}{
		{"project in reach", model.ProjectView, Scope{ProjectID: "Projects-1"}, true},
		{"project out of reach", model.ProjectView, Scope{ProjectID: "Projects-2"}, false},
		{"environments are seen whatever the project", model.EnvironmentView, Scope{EnvironmentIDs: []string{"Environments-1"}}, true},
		{"environment out of reach", model.EnvironmentView, Scope{EnvironmentIDs: []string{"Environments-2"}}, false},
		{"deployment in both", model.DeploymentView, Scope{ProjectID: "Projects-1", EnvironmentIDs: []string{"Environments-1"}}, true},
		{"deployment in another environment", model.DeploymentView, Scope{ProjectID: "Projects-1", EnvironmentIDs: []string{"Environments-2"}}, false},
		{"lifecycles are not scoped", model.LifecycleView, Scope{}, true},
		{"permission not held", model.UserView, Scope{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Filter(tt.perm).Allows(tt.scope); got != tt.want {
				t.Errorf("Filter(%s).Allows(%+v) = %v, want %v", tt.perm, tt.scope, got, tt.want)
			}
			if got := r.Allows(tt.perm, tt.scope); got != tt.want {
				t.Errorf("Allows(%s, %+v) = %v, want %v: filter and check disagree", tt.perm, tt.scope, got, tt.want)
			}
		})
	}
}

func TestBuiltInRolesAreValid(t *testing.T) {
	for _, r := range model.BuiltInRoles() {
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
	}
}

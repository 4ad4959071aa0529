package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// world is a server with two projects, two environments and one user per
// built-in role (some limited in scope), each with an API key.
type world struct {
	s             *testServer
	dev, prod     model.Environment
	shop, blog    model.Project
	shopRel       model.Release
	keys          map[string]string // user name -> API key
	users         map[string]model.User
	machine       model.Machine
	approvers     model.Team
	approverTeams []string
}

// as sends a request with a user's API key.
func (w *world) as(t *testing.T, user, method, path, body string) (int, []byte) {
	t.Helper()
	status, _, raw := w.s.call(t, method, path, body, map[string]string{"Authorization": "Bearer " + w.keys[user]})
	return status, raw
}

// adminDo sends a request as the administrator and decodes the answer.
func (w *world) adminDo(t *testing.T, method, path string, in, out any) {
	t.Helper()
	body := ""
	if in != nil {
		b, _ := json.Marshal(in)
		body = string(b)
	}
	status, eb, raw := w.s.call(t, method, path, body, nil)
	if status >= 300 {
		t.Fatalf("%s %s: %d %s %v", method, path, status, eb.Error, eb.Details)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// addUser creates a person with a key, in a team holding one role grant.
func (w *world) addUser(t *testing.T, name string, grant *model.RoleGrant) {
	t.Helper()
	var u model.User
	w.adminDo(t, "POST", "/api/v1/users", wire.CreateUserRequest{Username: name, Password: "correct horse battery " + name}, &u)
	var key wire.CreatedAPIKey
	w.adminDo(t, "POST", "/api/v1/users/"+u.ID+"/apikeys", wire.CreateAPIKeyRequest{Purpose: "tests"}, &key)
	w.keys[name], w.users[name] = key.APIKey, u
	if grant != nil {
		w.adminDo(t, "POST", "/api/v1/teams", model.Team{Name: name + " team", MemberIDs: []string{u.ID}, Roles: []model.RoleGrant{*grant}}, nil)
	}
}

func newWorld(t *testing.T, s *testServer) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{s: s, keys: map[string]string{}, users: map[string]model.User{}}
	var err error
	if w.dev, err = s.client.CreateEnvironment(ctx, model.Environment{Name: "Dev"}); err != nil {
		t.Fatal(err)
	}
	if w.prod, err = s.client.CreateEnvironment(ctx, model.Environment{Name: "Production"}); err != nil {
		t.Fatal(err)
	}
	var group model.ProjectGroup
	w.adminDo(t, "POST", "/api/v1/projectgroups", model.ProjectGroup{Name: "Blogs"}, &group)
	var anyOrder model.Lifecycle
	w.adminDo(t, "POST", "/api/v1/lifecycles", model.Lifecycle{Name: "Any order", Phases: []model.Phase{
		{Name: "All", ManualEnvironments: []string{w.dev.ID, w.prod.ID}}}}, &anyOrder)
	w.shop, _ = s.client.CreateProject(ctx, model.Project{Name: "shop", LifecycleID: anyOrder.ID})
	w.blog, _ = s.client.CreateProject(ctx, model.Project{Name: "blog", ProjectGroupID: group.ID, LifecycleID: anyOrder.ID})
	for _, p := range []model.Project{w.shop, w.blog} {
		if _, err := s.client.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{
			{Name: "Approve", Manual: &model.ManualAction{Instructions: "Look", ResponsibleTeams: []string{"Approvers"}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.client.SaveVariables(ctx, model.VariableSet{OwnerID: w.shop.ID, Variables: []model.Variable{
		{Name: "DbPassword", Value: "hunter2-very-secret", Sensitive: true}, {Name: "Colour", Value: "blue"}}}); err != nil {
		t.Fatal(err)
	}
	res, err := s.client.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: w.shop.ID, Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	w.shopRel = res.Release
	if _, err := s.client.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: w.blog.ID, Version: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	w.adminDo(t, "POST", "/api/v1/machines", model.Machine{Name: "web-dev", Kind: model.MachineListening, Usage: model.UsageTarget, Address: "127.0.0.1:1",
		Thumbprint: strings.Repeat("AB", 32), EnvironmentIDs: []string{w.dev.ID}, Roles: []string{"web"}}, &w.machine)

	var custom model.Role
	w.adminDo(t, "POST", "/api/v1/roles", model.Role{Name: "Machine tender", Permissions: []model.Permission{model.MachineView, model.MachineEdit}}, &custom)

	w.addUser(t, "nobody", nil)
	w.addUser(t, "shopviewer", &model.RoleGrant{RoleID: model.RoleProjectViewer, ProjectIDs: []string{w.shop.ID}})
	w.addUser(t, "blogsviewer", &model.RoleGrant{RoleID: model.RoleProjectViewer, ProjectGroupIDs: []string{group.ID}})
	w.addUser(t, "contributor", &model.RoleGrant{RoleID: model.RoleProjectContributor})
	w.addUser(t, "lead", &model.RoleGrant{RoleID: model.RoleProjectLead})
	w.addUser(t, "devdeployer", &model.RoleGrant{RoleID: model.RoleProjectDeployer, EnvironmentIDs: []string{w.dev.ID}})
	w.addUser(t, "releasemanager", &model.RoleGrant{RoleID: model.RoleReleaseManager})
	w.addUser(t, "envviewer", &model.RoleGrant{RoleID: model.RoleEnvironmentViewer})
	w.addUser(t, "envmanager", &model.RoleGrant{RoleID: model.RoleEnvironmentManager})
	w.addUser(t, "devenvmanager", &model.RoleGrant{RoleID: model.RoleEnvironmentManager, EnvironmentIDs: []string{w.dev.ID}})
	w.addUser(t, "tender", &model.RoleGrant{RoleID: custom.ID})
	w.addUser(t, "approver", &model.RoleGrant{RoleID: model.RoleProjectDeployer})
	w.adminDo(t, "POST", "/api/v1/teams", model.Team{Name: "Approvers", MemberIDs: []string{w.users["approver"].ID}}, &w.approvers)
	w.keys["admin"] = adminKey
	return w
}

func TestPermissionMatrix(t *testing.T) {
	eachDatabase(t, func(t *testing.T, s *testServer) {
		w := newWorld(t, s)
		deploy := func(env model.Environment) string {
			return fmt.Sprintf(`{"releaseId":%q,"environmentId":%q}`, w.shopRel.ID, env.ID)
		}
		variables := `{"version":1,"variables":[{"name":"Colour","value":"green"}]}`
		machineURL := "/api/v1/machines/" + w.machine.ID
		n := 0
		// Each change starts from the machine as it is now, so the order
		// of the actions does not matter.
		retag := func(trust bool) func() string {
			return func() string {
				var m model.Machine
				w.adminDo(t, "GET", machineURL, nil, &m)
				roles := "api"
				if slices.Contains(m.Roles, "api") {
					roles = "web"
				}
				if trust {
					roles = m.Roles[0]
					n++
					m.Thumbprint = fmt.Sprintf("%064X", n)
				}
				return fmt.Sprintf(`{"name":"web-dev","kind":"listening","usage":"target","address":"127.0.0.1:1","thumbprint":%q,"environmentIds":[%q],"roles":[%q]}`,
					m.Thumbprint, w.dev.ID, roles)
			}
		}
		newTarget := func(name string, env model.Environment) string {
			return fmt.Sprintf(`{"name":%q,"kind":"listening","usage":"target","address":"127.0.0.1:2","thumbprint":%q,"environmentIds":[%q]}`, name, strings.Repeat("CD", 32), env.ID)
		}
		type action struct {
			name, method, path string
			body               func() string
		}
		fixed := func(s string) func() string { return func() string { return s } }
		unique := func(f string) func() string { return func() string { n++; return fmt.Sprintf(f, n) } }
		actions := map[string]action{
			"see shop":                  {"see shop", "GET", "/api/v1/projects/" + w.shop.ID, nil},
			"see blog":                  {"see blog", "GET", "/api/v1/projects/" + w.blog.ID, nil},
			"read shop variables":       {"read shop variables", "GET", "/api/v1/projects/" + w.shop.ID + "/variables", nil},
			"edit shop variables":       {"edit shop variables", "PUT", "/api/v1/projects/" + w.shop.ID + "/variables", fixed(variables)},
			"edit shop process":         {"edit shop process", "PUT", "/api/v1/projects/" + w.shop.ID + "/process", fixed(`{"version":999,"steps":[]}`)},
			"create a shop release":     {"create a shop release", "POST", "/api/v1/releases", unique(`{"projectId":"` + w.shop.ID + `","version":"2.0.%d"}`)},
			"deploy shop to Dev":        {"deploy shop to Dev", "POST", "/api/v1/deployments", fixed(deploy(w.dev))},
			"deploy shop to Prod":       {"deploy shop to Prod", "POST", "/api/v1/deployments", fixed(deploy(w.prod))},
			"create an environment":     {"create an environment", "POST", "/api/v1/environments", unique(`{"name":"Env %d"}`)},
			"add a target to Dev":       {"add a target to Dev", "POST", "/api/v1/machines", unique("")},
			"add a target to Prod":      {"add a target to Prod", "POST", "/api/v1/machines", unique("")},
			"change a target's roles":   {"change a target's roles", "PUT", machineURL, retag(false)},
			"change a target's trust":   {"change a target's trust", "PUT", machineURL, retag(true)},
			"create a user":             {"create a user", "POST", "/api/v1/users", unique(`{"username":"someone%d","password":"long enough password"}`)},
			"create a team":             {"create a team", "POST", "/api/v1/teams", unique(`{"name":"Team %d"}`)},
			"read the audit log":        {"read the audit log", "GET", "/api/v1/audit", nil},
			"apply configuration":       {"apply configuration", "POST", "/api/v1/apply?dryRun=true", fixed(`{}`)},
			"push a package":            {"push a package", "POST", "/api/v1/packages?fileName=app.1.0.0.zip", fixed("not a zip")},
			"list users":                {"list users", "GET", "/api/v1/users", nil},
			"create a lifecycle":        {"create a lifecycle", "POST", "/api/v1/lifecycles", unique(`{"name":"L%d"}`)},
			"freeze deployments":        {"freeze deployments", "POST", "/api/v1/deploymentfreezes", unique(`{"name":"F%d","start":"2030-01-01T00:00:00Z","end":"2030-01-02T00:00:00Z"}`)},
			"see the Dev target":        {"see the Dev target", "GET", machineURL, nil},
			"see a shop deployment log": {"see a shop deployment log", "GET", "", nil},
			"create a shop staging":     {"create a shop staging", "POST", "/api/v1/stagings", fixed(`{"projectId":"` + w.shop.ID + `","name":"feature-x"}`)},
			"set the staging scripts":   {"set the staging scripts", "PUT", "/api/v1/projects/" + w.shop.ID + "/staging-template", fixed(`{}`)},
		}
		actions["add a target to Dev"] = action{"add a target to Dev", "POST", "/api/v1/machines", func() string { n++; return newTarget(fmt.Sprintf("t%d", n), w.dev) }}
		actions["add a target to Prod"] = action{"add a target to Prod", "POST", "/api/v1/machines", func() string { n++; return newTarget(fmt.Sprintf("t%d", n), w.prod) }}
		d, err := s.client.Deploy(context.Background(), wire.CreateDeploymentRequest{ReleaseID: w.shopRel.ID, EnvironmentID: w.dev.ID})
		if err != nil {
			t.Fatal(err)
		}
		logAction := actions["see a shop deployment log"]
		logAction.path = "/api/v1/tasks/" + d.TaskID + "/log"
		actions["see a shop deployment log"] = logAction

		// Allowed actions per user; every other action must be refused
		// with 403. (A 4xx other than 403 means the permission passed and
		// the input was then refused, which counts as allowed.)
		allowed := map[string][]string{
			"nobody":      {},
			"shopviewer":  {"see shop", "read shop variables", "see the Dev target", "see a shop deployment log", "read the audit log"},
			"blogsviewer": {"see blog", "see the Dev target", "read the audit log"},
			"contributor": {"see shop", "see blog", "read shop variables", "edit shop variables", "edit shop process", "see the Dev target", "see a shop deployment log", "read the audit log",
				"create a shop staging"},
			"lead": {"see shop", "see blog", "read shop variables", "edit shop variables", "edit shop process", "create a shop release", "push a package", "see the Dev target", "see a shop deployment log", "read the audit log",
				"create a shop staging", "set the staging scripts"},
			"devdeployer": {"see shop", "see blog", "read shop variables", "edit shop variables", "edit shop process", "create a shop release", "push a package", "deploy shop to Dev", "see the Dev target", "see a shop deployment log", "read the audit log",
				"create a shop staging", "set the staging scripts"},
			"releasemanager": {"see shop", "see blog", "read shop variables", "create a shop release", "push a package", "deploy shop to Dev", "deploy shop to Prod", "freeze deployments", "see the Dev target", "see a shop deployment log", "read the audit log"},
			"envviewer":      {"see the Dev target"},
			"envmanager":     {"create an environment", "add a target to Dev", "add a target to Prod", "change a target's roles", "change a target's trust", "create a lifecycle", "see the Dev target"},
			"devenvmanager":  {"add a target to Dev", "change a target's roles", "change a target's trust", "see the Dev target"},
			"tender":         {"change a target's roles", "see the Dev target"},
		}
		for user, ok := range allowed {
			for _, act := range actions {
				t.Run(user+"/"+act.name, func(t *testing.T) {
					body := ""
					if act.body != nil {
						body = act.body()
					}
					status, raw := w.as(t, user, act.method, act.path, body)
					want := slices.Contains(ok, act.name)
					switch {
					case want && status == http.StatusForbidden:
						t.Fatalf("%s may %s but got 403: %s", user, act.name, raw)
					case !want && status != http.StatusForbidden:
						t.Fatalf("%s may not %s but got %d: %s", user, act.name, status, raw)
					case !want && !strings.Contains(string(raw), "permission"):
						t.Fatalf("the refusal does not say which permission is missing: %s", raw)
					}
				})
			}
		}
		// The administrator may do everything.
		for _, act := range actions {
			body := ""
			if act.body != nil {
				body = act.body()
			}
			if status, raw := w.as(t, "admin", act.method, act.path, body); status == http.StatusForbidden {
				t.Errorf("admin was refused %s: %s", act.name, raw)
			}
		}
	})
}

func TestListsShowOnlyWhatTheCallerMaySee(t *testing.T) {
	s := start(t, "")
	w := newWorld(t, s)
	ctx := context.Background()
	for _, p := range []model.Project{w.shop, w.blog} {
		rels, _ := s.client.Releases(ctx, client.ListOptions{Filters: map[string]string{"projectId": p.ID}})
		for _, env := range []model.Environment{w.dev, w.prod} {
			if _, err := s.client.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: rels.Items[0].ID, EnvironmentID: env.ID, OverrideFreeze: true}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Wait until every deployment waits for its approval, so tasks,
	// deployments and interruptions all exist.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var page wire.Page[model.Interruption]
		w.adminDo(t, "GET", "/api/v1/interruptions?pending=true", nil, &page)
		if page.Total == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 4 deployments are waiting for approval", page.Total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	names := func(user, path string, field string) []string {
		t.Helper()
		status, raw := w.as(t, user, "GET", path, "")
		if status != 200 {
			t.Fatalf("%s GET %s: %d %s", user, path, status, raw)
		}
		var page struct {
			Items []map[string]any `json:"items"`
			Total int              `json:"total"`
		}
		json.Unmarshal(raw, &page)
		if page.Total != len(page.Items) {
			t.Errorf("%s GET %s: total %d but %d items: totals must count only what is visible", user, path, page.Total, len(page.Items))
		}
		var out []string
		for _, it := range page.Items {
			out = append(out, fmt.Sprint(it[field]))
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		user, path, field string
		want              []string
	}{
		{"shopviewer", "/api/v1/projects", "name", []string{"shop"}},
		{"blogsviewer", "/api/v1/projects", "name", []string{"blog"}},
		{"contributor", "/api/v1/projects", "name", []string{"blog", "shop"}},
		{"shopviewer", "/api/v1/releases", "projectId", []string{w.shop.ID}},
		{"shopviewer", "/api/v1/deployments", "projectId", []string{w.shop.ID, w.shop.ID}},
		{"devdeployer", "/api/v1/deployments", "environmentId", []string{w.dev.ID, w.dev.ID}},
		{"releasemanager", "/api/v1/deployments", "environmentId", []string{w.dev.ID, w.dev.ID, w.prod.ID, w.prod.ID}},
		{"shopviewer", "/api/v1/tasks", "projectId", []string{w.shop.ID, w.shop.ID}},
		{"blogsviewer", "/api/v1/interruptions", "taskId", nil},
		{"devenvmanager", "/api/v1/environments", "name", []string{"Dev"}},
		{"envviewer", "/api/v1/environments", "name", []string{"Dev", "Production"}},
		{"devenvmanager", "/api/v1/machines", "name", []string{"web-dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.user+" "+tt.path, func(t *testing.T) {
			got := names(tt.user, tt.path, tt.field)
			if tt.path == "/api/v1/interruptions" {
				if len(got) != 2 {
					t.Errorf("blogs viewer sees %d interruptions, want blog's 2", len(got))
				}
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// Someone allowed nothing on lists gets 403, not an empty list.
	if status, _ := w.as(t, "nobody", "GET", "/api/v1/projects", ""); status != http.StatusForbidden {
		t.Errorf("nobody listing projects: %d, want 403", status)
	}
	// The dashboard shows only what is in reach.
	var dash wire.Dashboard
	status, raw := w.as(t, "shopviewer", "GET", "/api/v1/dashboard", "")
	if status != 200 {
		t.Fatalf("dashboard: %d %s", status, raw)
	}
	json.Unmarshal(raw, &dash)
	for _, c := range dash.Cells {
		if c.ProjectID != w.shop.ID {
			t.Errorf("the shop viewer's dashboard shows a %s deployment", c.ProjectID)
		}
	}
	if len(dash.Projects) != 1 {
		t.Errorf("the shop viewer's dashboard shows %d projects", len(dash.Projects))
	}
}

func TestOnlyResponsibleTeamsAnswerAManualIntervention(t *testing.T) {
	s := start(t, "")
	w := newWorld(t, s)
	d, err := s.client.Deploy(context.Background(), wire.CreateDeploymentRequest{ReleaseID: w.shopRel.ID, EnvironmentID: w.dev.ID})
	if err != nil {
		t.Fatal(err)
	}
	var i model.Interruption
	deadline := time.Now().Add(30 * time.Second)
	for {
		var page wire.Page[model.Interruption]
		w.adminDo(t, "GET", "/api/v1/interruptions?pending=true&taskId="+d.TaskID, nil, &page)
		if len(page.Items) == 1 {
			i = page.Items[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deployment never asked for approval")
		}
		time.Sleep(20 * time.Millisecond)
	}
	answer := `{"answer":"Proceed","notes":"fine"}`
	if status, raw := w.as(t, "shopviewer", "POST", "/api/v1/interruptions/"+i.ID+"/answer", answer); status != 403 {
		t.Fatalf("a viewer answered: %d %s", status, raw)
	}
	status, raw := w.as(t, "devdeployer", "POST", "/api/v1/interruptions/"+i.ID+"/answer", answer)
	if status != 403 || !strings.Contains(string(raw), "only members of Approvers") {
		t.Fatalf("a deployer outside the responsible team answered: %d %s", status, raw)
	}
	if status, raw := w.as(t, "approver", "POST", "/api/v1/interruptions/"+i.ID+"/answer", answer); status != 200 {
		t.Fatalf("the approver was refused: %d %s", status, raw)
	}
	end := follow(t, s, d.TaskID)
	if end.State != model.TaskSuccess {
		t.Fatalf("deployment ended %s", end.State)
	}
}

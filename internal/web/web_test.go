package web

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// Every page draws from the data its handler gives it.
func TestEveryPageRenders(t *testing.T) {
	p, err := New(http.NotFoundHandler(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	code := 0
	rel := model.Release{ID: "Releases-1", ProjectID: "Projects-1", Version: "1.0.0", Notes: "first",
		Packages:        []model.ReleasePackage{{StepName: "Site", PackageID: "app", Version: "1.0.0"}},
		ProcessSnapshot: model.DeploymentProcess{Steps: []model.Step{{ID: "s1", Name: "Run", Script: &model.ScriptAction{Body: "echo"}}}}}
	progress := []model.EnvironmentProgress{{EnvironmentID: "Environments-1", Environment: "Dev", CanDeploy: true},
		{EnvironmentID: "Environments-2", Environment: "Prod", Reason: "Dev first", LastState: model.TaskFailed}}
	pages := map[string]any{
		"login":     loginData{Next: "/"},
		"error":     nil,
		"dashboard": dashData{Environments: []model.Environment{{ID: "Environments-1", Name: "Dev"}}, Groups: []dashGroup{{Name: "G", Rows: []dashRow{{Project: model.Project{ID: "Projects-1", Name: "web"}, Cells: []*model.DashboardCell{{Latest: &model.DashboardDeployment{TaskID: "Tasks-1", Version: "1.0.0", State: model.TaskSuccess, CreatedAt: now}}}}}}}},
		"environments": envData{Items: []model.Environment{{ID: "Environments-1", Name: "Dev"}, {ID: "Environments-2", Name: "Prod"}},
			Health: map[string]map[model.HealthStatus]int{"Environments-1": {model.HealthHealthy: 2, model.HealthUnavailable: 1}}},
		"projects": projectsData{Items: []model.Project{{ID: "Projects-1", Name: "web"}}, Lifecycles: []model.Lifecycle{{ID: "Lifecycles-1", Name: "Default"}}},
		"project": projectData{Project: model.Project{ID: "Projects-1", Name: "web"}, Releases: []releaseRow{{Release: rel, Progress: progress}},
			Process: model.DeploymentProcess{Steps: []model.Step{{ID: "s1", Name: "Run", Script: &model.ScriptAction{Body: "echo"}, TargetRoles: []string{"web"}},
				{ID: "s2", Name: "Approve", Manual: &model.ManualAction{Instructions: "look", ResponsibleTeams: []string{"Ops"}}, Disabled: true},
				{ID: "s3", Name: "Site", Package: &model.PackageAction{PackageID: "app"}},
				{ID: "s4", Name: "Migrate", Script: &model.ScriptAction{FromPackage: &model.ScriptPackage{PackageID: "tools", File: "m.sh"}}, StartWithPrevious: true},
				{ID: "s5", Name: "API", DeployRelease: &model.DeployReleaseAction{ProjectID: "Projects-2"}}}},
			ProjectNames: map[string]string{"Projects-2": "api"}, ChildReleases: map[string][]string{"Projects-2": {"2.0.0"}},
			Channels: []model.Channel{{ID: "Channels-1", Name: "Default"}, {ID: "Channels-2", Name: "Beta"}},
			Versions: map[string][]string{"app": {"1.0.0"}}, Packages: []model.Package{{PackageID: "app"}}},
		"release": releaseData{Release: rel, Project: model.Project{Name: "web"}, Progress: progress,
			Deploys: []model.Deployment{{EnvironmentID: "Environments-1", TaskID: "Tasks-1", State: model.TaskSuccess}}, EnvNames: map[string]string{"Environments-1": "Dev"},
			Prompts:  []model.Variable{{ID: "v1", Name: "Ticket", Prompt: &model.Prompt{Label: "Change ticket", Required: true}}, {ID: "v2", Name: "Pin", Sensitive: true, Prompt: &model.Prompt{}}},
			Machines: []model.Machine{{ID: "Machines-1", Name: "web-01", Roles: []string{"web"}}}},
		"task": taskData{Log: wire.TaskLog{Task: model.Task{ID: "Tasks-1", Description: "Deploy", State: model.TaskExecuting, StartedAt: &now}},
			Tree: buildTree([]model.Activity{{ID: 1, Name: "Run", State: model.ActivityRunning, StartedAt: &now, ExitCode: &code}},
				[]model.LogLine{{ActivityID: 1, Level: model.LevelInfo, Text: "hello"}}),
			Interruptions: []model.Interruption{{ID: "Interruptions-1", Title: "Approve", Answers: []string{"Proceed", "Abort"}}},
			Artifacts:     []model.Artifact{{TaskID: "Tasks-1", ID: 1, Name: "report.txt"}}},
	}
	pages["infrastructure"] = infraData{Machines: []model.Machine{{ID: "Machines-1", Name: "web-01", Kind: model.MachineListening,
		EnvironmentIDs: []string{"Environments-1"}, Roles: []string{"web"}, Health: model.Health{Status: model.HealthUnavailable, Reason: "refused"}}},
		Environments: []model.Environment{{ID: "Environments-1", Name: "Dev"}}, EnvNames: map[string]string{"Environments-1": "Dev"}, ServerURL: "http://x"}
	pages["audit"] = auditData{Page: wire.Page[model.AuditEvent]{Items: []model.AuditEvent{{Actor: "admin", Action: "create", Summary: "created x", OccurredAt: now}}, Total: 2}, Next: "/audit?skip=1"}
	pages["nodes"] = nodesData{Nodes: []model.Node{{Name: "a", Alive: true, Tasks: []string{"Tasks-1"}, Slots: 5}}, Queue: []model.Task{{ID: "Tasks-1", State: model.TaskQueued}}}
	pages["profile"] = profileData{Keys: []model.APIKey{{ID: "APIKeys-1", Purpose: "CI", ExpiresAt: &now}}, NewKey: "API-X"}
	pages["variables"] = variablesData{Project: model.Project{ID: "Projects-1", Name: "web"}, Set: model.VariableSet{Variables: []model.Variable{
		{ID: "v1", Name: "Db", Sensitive: true}, {ID: "v2", Name: "Colour", Value: "blue", Scope: model.Scope{Environments: []string{"Environments-1"}, Roles: []string{"web"}}}}},
		Environments: []model.Environment{{ID: "Environments-1", Name: "Dev"}}, EnvNames: map[string]string{"Environments-1": "Dev"}}
	pages["people"] = peopleData{Users: []model.User{{ID: "Users-1", Username: "admin", IsAdmin: true}, {ID: "Users-2", Username: "ci", IsService: true, Disabled: true}},
		Teams: []model.Team{{Name: "Ops", MemberIDs: []string{"Users-1"}, Roles: []model.RoleGrant{{RoleID: model.RoleProjectDeployer, EnvironmentIDs: []string{"Environments-1"}}}}},
		Roles: model.BuiltInRoles(), Names: map[string]string{"Users-1": "admin"}, Permissions: model.Permissions()}
	pages["packages"] = packagesData{Latest: []model.Package{{ID: "packages-app.1.0.0", PackageID: "app", Version: "1.0.0"}}, Selected: "app",
		Versions: []model.Package{{ID: "packages-app.1.0.0", PackageID: "app", Version: "1.0.0", SHA256: "ab"}}}
	pages["lifecycles"] = lifecyclesData{Items: []model.Lifecycle{{ID: "Lifecycles-1", Name: "Default"}, {ID: "Lifecycles-2", Name: "Two",
		Phases: []model.Phase{{Name: "Dev", AutomaticEnvironments: []string{"Environments-1"}}, {Name: "Prod", ManualEnvironments: []string{"Environments-2"}, Optional: true}}}},
		Environments: []model.Environment{{ID: "Environments-1", Name: "Dev"}}, EnvNames: map[string]string{"Environments-1": "Dev", "Environments-2": "Prod"}}
	pages["operations"] = operationsData{Project: model.Project{ID: "Projects-1", Name: "web", LifecycleID: "Lifecycles-1"},
		Channels:   []model.Channel{{Name: "Beta", IsDefault: true, Rules: []model.ChannelRule{{Packages: []string{"app"}, Tag: "^beta"}}}},
		Triggers:   []model.Trigger{{ID: "Triggers-1", Name: "Nightly", Kind: model.TriggerSchedule, Cron: "0 3 * * *", TargetEnvironmentIDs: []string{"Environments-1"}, LastRunAt: &now}},
		Runbooks:   []model.Runbook{{ID: "Runbooks-1", Name: "Restart", PublishedSnapshotID: "Releases-9"}},
		Lifecycles: []model.Lifecycle{{ID: "Lifecycles-1", Name: "Default"}}, Environments: []model.Environment{{ID: "Environments-1", Name: "Dev"}},
		Names: map[string]string{"Environments-1": "Dev"}}
	pages["variablesets"] = []model.LibraryVariableSet{{ID: "LibraryVariableSets-1", Name: "Shared", Variables: []model.Variable{{Name: "Db", Sensitive: true}, {Name: "Host", Value: "db"}}}}
	pages["step"] = stepEditData{Project: model.Project{ID: "Projects-1", Name: "web"}, Environments: []model.Environment{{ID: "Environments-1", Name: "Dev"}},
		Step: model.Step{ID: "s1", Name: "Run", Script: &model.ScriptAction{Body: "echo"}, Environments: []string{"Environments-1"}, Condition: model.ConditionVariable, Retries: 2}}
	pages["subscriptions"] = subscriptionsData{Items: []model.Subscription{{ID: "Subscriptions-1", Name: "Chat", Events: []model.EventKind{model.EventDeploymentFailed},
		WebhookURL: "https://x", HasSecret: true}}, Deliveries: map[string][]model.Delivery{"Subscriptions-1": {{Event: model.EventPing, State: "Delivered", Attempts: 1, LastStatus: 200}}},
		Events: model.EventKinds}
	for name, data := range pages {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := p.pages[name].Execute(&b, &view{Title: name, User: &model.User{Username: "admin"}, CSRF: "token", Data: data}); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, step := range []model.Step{{ID: "s2", Name: "Approve", Manual: &model.ManualAction{Instructions: "look"}},
		{ID: "s3", Name: "Site", Package: &model.PackageAction{PackageID: "app", SubstituteFiles: []string{"*.json"}, Deploy: &model.ScriptAction{Body: "x"}}},
		{ID: "s4", Name: "Migrate", Script: &model.ScriptAction{FromPackage: &model.ScriptPackage{PackageID: "tools", File: "m.sh"}}},
		{ID: "s5", Name: "API", DeployRelease: &model.DeployReleaseAction{ProjectID: "Projects-2", Mode: model.DeployIfNewer}}} {
		var b bytes.Buffer
		if err := p.pages["step"].Execute(&b, &view{Title: "step", User: &model.User{}, Data: stepEditData{Step: step}}); err != nil {
			t.Errorf("step page for %s: %v", step.Name, err)
		}
	}
	if len(pages) != len(p.pages) {
		t.Errorf("%d pages tested of %d", len(pages), len(p.pages))
	}
}

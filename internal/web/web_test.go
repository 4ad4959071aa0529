package web

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
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
			PackageChoices: []packageChoice{{Key: "Install", Label: "app (Install)", Versions: []string{"1.0.0"}},
				{Key: "Run:web", Label: "team/web (Run, web)", Error: "feed Registry: 401 Unauthorized"}}, Packages: []model.Package{{PackageID: "app"}}},
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
	pages["steptemplates"] = stepTemplatesData{MayEdit: true, Rows: []stepTemplateRow{{Template: model.StepTemplate{ID: "ActionTemplates-1", Name: "Notify", Version: 2,
		Parameters: []model.StepTemplateParameter{{Name: "Mode", Control: model.ControlSelect, Options: []string{"a", "b"}}}},
		Usage: []model.StepTemplateUsage{{ProjectID: "Projects-1", ProjectName: "web", StepID: "step-1", StepName: "Tell", Version: 1, Latest: 2, Behind: true}}}}}
	pages["scriptmodules"] = scriptModulesData{MayEdit: true, Items: []model.ScriptModule{{ID: "ScriptModules-1", Name: "common", Syntax: model.SyntaxBash, Body: "say() { :; }"}},
		Form: model.ScriptModule{ID: "ScriptModules-1", Name: "common", Syntax: model.SyntaxPython, Body: "def say(): pass"}}
	pages["steptemplate"] = stepTemplateSample() // each state: TestStepTemplatePagesRenderEachState
	pages["variablesets"] = []model.LibraryVariableSet{{ID: "LibraryVariableSets-1", Name: "Shared", Variables: []model.Variable{{Name: "Db", Sensitive: true}, {Name: "Host", Value: "db"}}}}
	pages["step"] = stepEditData{Project: model.Project{ID: "Projects-1", Name: "web"}, Environments: []model.Environment{{ID: "Environments-1", Name: "Dev"}},
		Step: model.Step{ID: "s1", Name: "Run", Script: &model.ScriptAction{Body: "echo", Packages: []model.PackageReference{
			{Name: "web", PackageID: "team/web", FeedID: "Feeds-1", Acquisition: model.AcquireNone}, {Name: "tools", PackageID: "tools", Extract: true}}},
			Environments: []string{"Environments-1"}, Condition: model.ConditionVariable, Retries: 2, ScriptModules: []string{"common"}},
		FeedNames: map[string]string{"Feeds-1": "Registry"}, Modules: []model.ScriptModule{{Name: "common", Syntax: model.SyntaxBash}, {Name: "py", Syntax: model.SyntaxPython}}}
	pages["subscriptions"] = subscriptionsData{Items: []model.Subscription{{ID: "Subscriptions-1", Name: "Chat", Events: []model.EventKind{model.EventDeploymentFailed},
		WebhookURL: "https://x", HasSecret: true}}, Deliveries: map[string][]model.Delivery{"Subscriptions-1": {{Event: model.EventPing, State: "Delivered", Attempts: 1, LastStatus: 200}}},
		Events: model.EventKinds}
	pages["feeds"] = feedsData{Items: []model.Feed{model.BuiltInFeed(), {ID: "Feeds-1", Name: "Registry", Type: model.FeedDocker, URL: "https://r", Username: "ci", HasPassword: true}},
		Types: model.ExternalFeedTypes, Form: model.Feed{ID: "Feeds-1", Name: "Registry", Type: model.FeedDocker, HasPassword: true},
		Browse: model.Feed{ID: "Feeds-1", Name: "Registry"}, PackageID: "team/web", Versions: []string{"1.1.0", "1.0.0"}, VersionsTotal: 3}
	pages["board"] = boardSample(now) // board_test.go
	pages["machine"] = machineData{Machine: model.Machine{ID: "Machines-1", Name: "web-01", Kind: model.MachineListening, Usage: model.UsageTarget,
		Address: "web-01:10933", Thumbprint: "AB", EnvironmentIDs: []string{"Environments-1"}, Roles: []string{"web"}, PolicyID: "MachinePolicies-1",
		Health: model.Health{Status: model.HealthUnavailable, Reason: "refused", CheckedAt: &now, UnavailableSince: &now}},
		Form:         machineEdit{Name: "web-01", Roles: "web", EnvironmentIDs: []string{"Environments-1"}, PolicyID: "MachinePolicies-1", Enabled: true},
		Environments: []model.Environment{{ID: "Environments-1", Name: "Dev"}}, Policies: []model.MachinePolicy{{ID: "MachinePolicies-1", Name: "Default"}},
		PolicyName: "Default"}
	pages["workerpool"] = poolData{Pool: model.WorkerPool{ID: "WorkerPools-2", Name: "Linux"}, Form: model.WorkerPool{Name: "Linux"},
		Workers:   []model.Machine{{ID: "Machines-2", Name: "w-01", Kind: model.MachinePolling, Usage: model.UsageWorker, Health: model.Health{Status: model.HealthHealthy}}},
		ServerURL: "http://x"}
	pages["machinepolicy"] = policyData{Policy: model.MachinePolicy{ID: "MachinePolicies-2", Name: "Quick"},
		Form:     policyForm{Name: "Quick", Interval: "soon", Script: "echo ok", WhenUnavailable: "skip", DeleteAfter: "0"},
		Machines: []model.Machine{{ID: "Machines-1", Name: "web-01"}}}
	tmpl := &model.StagingTemplate{ProjectID: "Projects-1", NamePattern: model.DefaultStagingNamePattern, TagKey: "app.tag", IdleExpiry: model.Duration{D: 72 * time.Hour},
		Defaults: model.StagingConfig{App: map[string]string{"replicas": "1", "password": model.StagingMask}}, SensitiveKeys: []string{"app.password"}}
	tag := "ab12cd"
	running := model.Staging{ID: "Stagings-1", ProjectID: "Projects-1", Name: "feature-a", State: model.StagingRunning, UpdatedBy: "admin", UpdatedAt: now,
		Links: []model.StagingLink{{Name: "web", URL: "https://feature-a.example.com"}}, Overrides: model.StagingOverrides{App: map[string]*string{"tag": &tag}},
		ExpiresAt: &now}
	pages["stagings"] = stagingsData{Project: &model.Project{ID: "Projects-1", Name: "web"}, Template: tmpl, Rows: []stagingRow{rowOf(running, "web")},
		Defaults: configRows(*tmpl, model.StagingOverrides{}, tmpl.Defaults), Archived: 1}
	pages["staging"] = stagingData{Staging: wire.StagingDetail{Staging: running, Effective: model.StagingConfig{App: map[string]string{"tag": tag, "replicas": "1", "password": model.StagingMask}},
		Actions: []model.StagingActionRecord{{Action: model.StagingCreate, TaskID: "Tasks-1", By: "admin", At: now, State: model.TaskSuccess, Summary: "set app.tag"}}},
		Project: model.Project{ID: "Projects-1", Name: "web"}, Template: *tmpl, HasTemplate: true, Tag: tag, Can: actionsFor(running, tag),
		Config: configRows(*tmpl, running.Overrides, model.StagingConfig{App: map[string]string{"tag": tag, "replicas": "1", "password": model.StagingMask}})}
	pages["stagingtemplate"] = stagingTemplateData{Project: model.Project{ID: "Projects-1", Name: "web"}, Exists: true, Form: templateFormOf(*tmpl),
		Pools: []model.WorkerPool{{ID: "WorkerPools-1", Name: "Default"}}}
	pages["archives"] = archivesData{Projects: []model.Project{{ID: "Projects-1", Name: "web"}}} // each state: TestArchivePageRendersEachState
	cert := model.Certificate{ID: "Certificates-1", Name: "Site", Subject: "CN=site", Issuer: "CN=site", Thumbprint: "AB12", NotAfter: now,
		EnvironmentIDs: []string{"Environments-1"}, ExpiringSoon: true, HasPrivateKey: true, SubjectAlternativeNames: []string{"DNS:site"}, ReplacedAt: now}
	pages["certificates"] = certificatesData{Items: []model.Certificate{cert, {ID: "Certificates-2", Name: "Old", Expired: true, Archived: true}},
		EnvNames: map[string]string{"Environments-1": "Dev"}, Environments: []model.Environment{{ID: "Environments-1", Name: "Dev"}}}
	pages["certificate"] = certificateData{Certificate: cert, Usage: []model.CertificateUse{{Owner: "project", OwnerID: "Projects-1", OwnerName: "web", Variable: "SiteCert"}}}
	pages["runbook"] = runbookSample(now) // each state: TestRunbookPageShowsItsDraftAndRuns
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

// The infrastructure pages draw every kind of machine, pool and policy, and
// put the API's complaints next to the fields of the form that was sent.
func TestInfrastructurePagesRenderEachCase(t *testing.T) {
	p, err := New(http.NotFoundHandler(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	refused := &apiError{Status: http.StatusBadRequest, Message: "invalid", Details: []string{"name: is required", "roles[0]: \"a b\" is not a role name"}}
	pools := []model.WorkerPool{{ID: "WorkerPools-1", Name: "Default Worker Pool", IsDefault: true}, {ID: "WorkerPools-2", Name: "Linux"}}
	worker := model.Machine{ID: "Machines-2", Name: "w-01", Kind: model.MachinePolling, Usage: model.UsageWorker, Thumbprint: "AB",
		WorkerPoolIDs: []string{"WorkerPools-2"}, PolicyID: "MachinePolicies-1", Disabled: true}
	ssh := model.Machine{ID: "Machines-3", Name: "db-01", Kind: model.MachineSSH, Usage: model.UsageTarget, Address: "db:22",
		SSH: &model.SSHEndpoint{User: "deploy", HostKeyFingerprint: "SHA256:x", AuthMethod: "key", Home: ".pulpo"}, PolicyID: "MachinePolicies-9"}
	for _, tt := range []struct {
		name, page   string
		err          error
		data         any
		want, banned []string
	}{
		{"worker", "machine", nil, machineData{Machine: worker, Form: machineEditOf(worker), Pools: pools},
			[]string{`name="pool" value="WorkerPools-2" checked`, "Polling agent", `name="back" value="/machines/Machines-2"`}, []string{`name="environment"`, `name="enabled" value="on" checked`}},
		{"ssh target refused", "machine", refused, machineData{Machine: ssh, Form: machineEditOf(ssh)},
			[]string{"deploy@", "SHA256:x", "a private key", `is not a role name`, `<option value="MachinePolicies-9" selected>`}, []string{"Thumbprint"}},
		{"default pool without workers", "workerpool", nil, poolData{Pool: pools[0], Form: pools[0]},
			[]string{"built-in worker until", "cannot be deleted", "checked disabled"}, []string{`action="/workerpools/WorkerPools-1/delete"`}},
		{"default policy", "machinepolicy", nil, policyData{Policy: model.MachinePolicy{ID: "MachinePolicies-1", Name: model.DefaultMachinePolicyName}, IsDefault: true,
			Form: policyFormOf(model.MachinePolicy{HealthCheckInterval: model.Duration{D: time.Hour}, WhenUnavailable: model.UnavailableSkip, HealthCheckScript: "\necho ok"})},
			[]string{`value="1h"`, `<option value="skip" selected>`, "cannot be deleted", "No machine follows", "\n\necho ok</textarea>"}, []string{`/delete"`}},
		{"pool form refused", "infrastructure", refused, infraData{Failed: "pool", PoolForm: model.WorkerPool{Description: "kept"}, PolicyForm: newPolicyForm,
			Policies: []policyRow{{MachinePolicy: model.MachinePolicy{ID: "MachinePolicies-1", Name: "P"}, Every: "0", DeleteAfter: "0"}}},
			[]string{`value="kept"`, `<span class="field-error">is required</span>`, "no scheduled checks", `href="/machinepolicies/MachinePolicies-1"`,
				"<details open><summary>Add a worker pool"}, []string{"<details open><summary>Add a machine policy"}},
		{"policy form refused", "infrastructure", refused, infraData{Failed: "policy", PolicyForm: policyForm{Name: "Q", Interval: "soon"}},
			[]string{`value="soon"`, `<span class="field-error">is required</span>`, "<details open><summary>Add a machine policy"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := p.pages[tt.page].Execute(&b, &view{Title: tt.name, User: &model.User{Username: "admin"}, CSRF: "token", Error: tt.err, Data: tt.data}); err != nil {
				t.Fatal(err)
			}
			html := b.String()
			for _, w := range tt.want {
				if !strings.Contains(html, w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			for _, w := range tt.banned {
				if strings.Contains(html, w) {
					t.Errorf("the page has %q", w)
				}
			}
			if n := strings.Count(html, `class="field-error"`); tt.err != nil && n != 1+strings.Count(tt.name, "ssh") {
				t.Errorf("%d field errors shown; want them on the sent form only", n)
			}
		})
	}
}

func TestPolicyFormDurations(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		text string
	}{{0, "0"}, {time.Hour, "1h"}, {90 * time.Minute, "1h30m"}, {15 * time.Minute, "15m"}, {10 * time.Second, "10s"}, {90 * time.Second, "1m30s"}, {48 * time.Hour, "48h"}} {
		if got := formDuration(tt.d); got != tt.text {
			t.Errorf("formDuration(%v) = %q, want %q", tt.d, got, tt.text)
		}
		if back, err := parseFormDuration(tt.text); err != nil || back != tt.d {
			t.Errorf("parseFormDuration(%q) = %v, %v", tt.text, back, err)
		}
	}
	if d, err := parseFormDuration("90"); err != nil || d != 90*time.Second {
		t.Errorf("whole seconds: %v %v", d, err)
	}
	var mp model.MachinePolicy
	err := policyForm{Name: "", Interval: "soon", DeleteAfter: "1h", WhenUnavailable: "fail"}.into(&mp)
	interval, name := errorsUnder(err, "healthCheckInterval"), errorsUnder(err, "name")
	if len(interval) != 1 || !strings.Contains(interval[0], `"soon" is not a duration`) || len(name) != 1 || name[0] != "is required" || len(err.(*apiError).Details) != 2 {
		t.Errorf("a bad interval and a missing name: %v", err)
	}
	if mp.DeleteUnavailableAfter.D != time.Hour {
		t.Errorf("the readable duration was not kept: %v", mp.DeleteUnavailableAfter)
	}
}

func TestLocalPath(t *testing.T) {
	for back, want := range map[string]string{"/machines/Machines-1": "/machines/Machines-1", "": "", "//evil.example/x": "",
		"https://evil.example/": "", `/\evil.example`: "", "/machines/1?done=x": "", "machines/1": "", "/a b": "/a%20b"} {
		got, ok := localPath(back)
		if got != want || ok != (want != "") {
			t.Errorf("localPath(%q) = %q, %v; want %q", back, got, ok, want)
		}
	}
}

// The staging pages draw each state a staging can be in, offer only the
// actions that state allows, and put refusals next to their fields.
func TestStagingPagesRenderEachCase(t *testing.T) {
	p, err := New(http.NotFoundHandler(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	proj := model.Project{ID: "Projects-1", Name: "web"}
	tmpl := model.StagingTemplate{ProjectID: proj.ID, NamePattern: model.DefaultStagingNamePattern, TagKey: "app.tag",
		Defaults:      model.StagingConfig{App: map[string]string{"replicas": "1", "password": model.StagingMask}, Deployment: map[string]string{"cpu": "500m"}},
		SensitiveKeys: []string{"app.password"}, ArchiveRetention: model.Duration{D: 336 * time.Hour}}
	tag, secret := "ab12cd", model.StagingMask
	effective := model.StagingConfig{App: map[string]string{"tag": tag, "password": model.StagingMask}, Deployment: map[string]string{"cpu": "500m"}}
	running := model.Staging{ID: "Stagings-1", ProjectID: proj.ID, Name: "feature-a", State: model.StagingRunning, UpdatedBy: "admin", UpdatedAt: now,
		Links:     []model.StagingLink{{Name: "web", URL: "https://feature-a.example.com"}},
		Overrides: model.StagingOverrides{App: map[string]*string{"tag": &tag, "password": &secret, "replicas": nil}}}
	busy := running
	busy.State, busy.TaskID = model.StagingUpdatePending, "Tasks-2"
	archived := running
	archived.State, archived.ArchivedAt, archived.CleanupAt = model.StagingArchived, &now, &now
	failed := running
	failed.State, failed.Reason, failed.Message = model.StagingFailure, model.FailureAction, "the create script failed (exit 1):\nimage ab12cd not found"
	never := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	running.KeepUntil = &never
	detail := func(st model.Staging) stagingData {
		return stagingData{Staging: wire.StagingDetail{Staging: st, Effective: effective,
			Actions: []model.StagingActionRecord{{Action: model.StagingCreate, TaskID: "Tasks-1", By: "admin", At: now, State: model.TaskSuccess, Summary: "set app.tag"}}},
			Project: proj, Template: tmpl, HasTemplate: true, Tag: tag, Can: actionsFor(st, tag), Config: configRows(tmpl, st.Overrides, effective),
			Busy: st.TaskID != "", Keep: keepText(st.KeepUntil)}
	}
	refusedCreate := &apiError{Status: http.StatusBadRequest, Message: "staging feature-b configuration is invalid",
		Details: []string{"config_check: tag bad-1 is not in the registry\ntry another"}}
	refusedTemplate := &apiError{Status: http.StatusBadRequest, Message: "staging template is invalid",
		Details: []string{"scripts.create: is required: the script that does create", `scriptTimeout: "soon" is not a duration`}}
	actionForms := []string{`/update"`, `/keep"`, `/archive"`, `/restore"`, `/cleanup"`, `/delete"`, `/promote"`}
	only := func(allowed ...string) (want, banned []string) {
		for _, f := range actionForms {
			if has := slices.Contains(allowed, f); has {
				want = append(want, `action="/stagings/Stagings-1`+f)
			} else {
				banned = append(banned, `action="/stagings/Stagings-1`+f)
			}
		}
		return want, banned
	}
	type tc struct {
		name, page   string
		err          error
		data         any
		want, banned []string
	}
	tests := []tc{
		{"a project without a template", "stagings", nil, stagingsData{Project: &proj},
			[]string{"No staging template yet", `href="/projects/Projects-1/staging-template"`, "Staging template edit permission"}, []string{`id="new-staging"`, "No stagings"}},
		{"a project without stagings", "stagings", nil, stagingsData{Project: &proj, Template: &tmpl, Defaults: configRows(tmpl, model.StagingOverrides{}, tmpl.Defaults), Archived: 2},
			[]string{"No stagings besides archived ones yet", `pulpo staging create NAME --project "web" --set app.tag=…`, `id="new-staging"`,
				"<code>app.replicas=1</code>", "<code>app.password=sensitive: set</code>", "<code>deployment.cpu=500m</code>", `href="?archived=1"`, "Show archived stagings (2)"},
			[]string{"<table"}},
		{"a project's stagings", "stagings", nil, stagingsData{Project: &proj, Template: &tmpl, Rows: []stagingRow{rowOf(running, "web"), rowOf(archived, "web")}, ShowArchived: true, Archived: 1},
			[]string{`href="/stagings/Stagings-1"`, `<a href="https://feature-a.example.com" target="_blank" rel="noopener">web</a>`, "staging-running", ">Running<",
				"<code>app.password (sensitive)</code>", "<code>app.replicas removed</code>", "<code>app.tag=ab12cd</code>", "kept: never expires", "Hide archived", ">Archived<", "cleanup 2"},
			[]string{`<th scope="col">Project</th>`}},
		{"every project's stagings", "stagings", nil, stagingsData{Rows: []stagingRow{rowOf(busy, "web")}},
			[]string{"<h1>Stagings</h1>", `<th scope="col">Project</th>`, `href="/projects/Projects-1/stagings"`, "Updating…", `href="/tasks/Tasks-2"`},
			[]string{`id="new-staging"`, "No staging template"}},
		{"a refused create", "stagings", refusedCreate, stagingsData{Project: &proj, Template: &tmpl, Form: stagingCreateForm{Name: "feature-b", Config: "app.tag=bad-1"},
			Redacted: []string{"app.password"}},
			[]string{`<pre class="script field-error" aria-label="What the config check said">tag bad-1 is not in the registry` + "\ntry another</pre>", `value="feature-b"`,
				"\napp.tag=bad-1</textarea>", "type app.password again"}, nil},
	}
	want, banned := only(`/update"`, `/keep"`, `/archive"`, `/promote"`)
	tests = append(tests, tc{"a running staging", "staging", nil, detail(running),
		append(want, `<span class="badge staging-running" id="staging-state" role="status">Running</span>`, "<strong>overridden</strong>", "<strong>set here</strong>",
			"<strong>removed here</strong>", `<span class="badge">sensitive: set</span>`, `name="reset" value="app.tag"`, `href="/tasks/Tasks-1"`, "never expires",
			`target="_blank" rel="noopener"`),
		append(banned, "data-busy", "Watch the log", model.StagingMask+"</code>")})
	want, banned = only()
	tests = append(tests, tc{"a busy staging", "staging", nil, detail(busy),
		append(want, "data-busy", `<a href="/tasks/Tasks-2" class="button small">Watch the log</a>`, "Updating…"), banned})
	want, banned = only(`/restore"`, `/cleanup"`, `/delete"`)
	tests = append(tests, tc{"an archived staging", "staging", nil, detail(archived),
		append(want, ">Archived<", `name="confirm" value="yes" required`, "then the create script", "Cleaned up</dt><dd>at "), append(banned, "data-busy")})
	want, banned = only(`/update"`, `/keep"`, `/archive"`, `/delete"`)
	tests = append(tests, tc{"a failed staging", "staging", refusedCreate, func() stagingData {
		d := detail(failed)
		d.Failed, d.Update = "update", stagingUpdateForm{Set: "app.tag=bad-1", Reset: []string{"app.tag"}}
		return d
	}(),
		append(want, "Failed: a script failed", `<pre class="script message" aria-label="What the scripts said">the create script failed (exit 1):`+"\nimage ab12cd not found</pre>",
			`tag bad-1 is not in the registry`, `name="reset" value="app.tag" checked`, "\napp.tag=bad-1</textarea>"), banned})
	tests = append(tests,
		tc{"a new template", "stagingtemplate", nil, stagingTemplateData{Project: proj, Form: newTemplateForm},
			[]string{"has no staging template yet", `name="scriptTimeout" value="30m"`, `name="archiveRetention" value="336h"`, `name="checkInterval" value="15s"`,
				`<option value="pulpo" selected>`, `--project-name P --base-domain D --namespace N --name NAME`, "0 healthy, 2 partly available, 3 tag mismatch",
				`<label for="script-configCheck">Config check</label>`, `<label for="script-create">Create (required)</label>`},
			[]string{"field-error"}},
		tc{"a refused template", "stagingtemplate", refusedTemplate, stagingTemplateData{Project: proj, Exists: true,
			Form:  templateForm{ScriptTimeout: "soon", Defaults: "app.password=" + model.StagingMask + "\n", Arguments: "octopod", WorkerPoolID: "WorkerPools-2", Version: 3},
			Pools: []model.WorkerPool{{ID: "WorkerPools-1", Name: "Default"}, {ID: "WorkerPools-2", Name: "Linux"}}},
			[]string{`<span class="field-error">is required: the script that does create</span>`, `<span class="field-error">&#34;soon&#34; is not a duration</span>`,
				`name="version" value="3"`, `<option value="octopod" selected>`, `<option value="WorkerPools-2" selected>`, "\napp.password=********\n</textarea>"},
			[]string{"has no staging template yet", "as it is now"}},
		tc{"a template changed meanwhile", "stagingtemplate", &apiError{Status: http.StatusConflict, Message: "the staging template changed since you read it"},
			stagingTemplateData{Project: proj, Exists: true, Form: templateFormOf(tmpl)},
			[]string{"Open the template as it is now"}, nil},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := p.pages[tt.page].Execute(&b, &view{Title: tt.name, User: &model.User{Username: "admin"}, CSRF: "token", Error: tt.err, Data: tt.data}); err != nil {
				t.Fatal(err)
			}
			html := b.String()
			for _, w := range tt.want {
				if !strings.Contains(html, w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			for _, w := range tt.banned {
				if strings.Contains(html, w) {
					t.Errorf("the page has %q", w)
				}
			}
		})
	}
}

func TestStagingFormParsing(t *testing.T) {
	set, problems := parseConfigLines("config", "app.tag=ab12cd\r\n\r\n# a comment\nreplicas = 2\ndeployment.url=http://x/?a=b\nnonsense\napp.tag=again\nempty=")
	if set["app.tag"] != "ab12cd" || set["replicas"] != "2" || set["deployment.url"] != "http://x/?a=b" || set["empty"] != "" || len(set) != 4 {
		t.Errorf("read %v", set)
	}
	if len(problems) != 2 || !strings.HasPrefix(problems[0], `config: line 6, "nonsense", is not KEY=VALUE`) || !strings.Contains(problems[1], "line 7 gives app.tag a second time") {
		t.Errorf("problems %q", problems)
	}
	if keys := splitKeys("app.a, deployment.b\napp.c  d"); strings.Join(keys, "|") != "app.a|deployment.b|app.c|d" {
		t.Errorf("keys %q", keys)
	}
	tmpl := &model.StagingTemplate{SensitiveKeys: []string{"app.password"}}
	kept, dropped := withoutSensitive(tmpl, "app.tag=x\r\npassword=s3cret\napp.password=again")
	if kept != "app.tag=x" || strings.Join(dropped, ",") != "password,app.password" {
		t.Errorf("without sensitive: %q %q", kept, dropped)
	}

	form := templateFormOf(model.StagingTemplate{Scripts: model.StagingScripts{Create: "echo ok"}, ScriptTimeout: model.Duration{D: 90 * time.Second},
		Defaults: model.StagingConfig{App: map[string]string{"tag": "latest"}, Deployment: map[string]string{"replicas": "1"}}, SensitiveKeys: []string{"app.a", "deployment.b"}, Version: 4})
	if form.Defaults != "app.tag=latest\ndeployment.replicas=1\n" || form.SensitiveKeys != "app.a, deployment.b" || form.ScriptTimeout != "1m30s" {
		t.Errorf("form %+v", form)
	}
	var back model.StagingTemplate
	if err := form.into(&back); err != nil || back.Defaults.App["tag"] != "latest" || back.Defaults.Deployment["replicas"] != "1" || back.Version != 4 ||
		back.ScriptTimeout.D != 90*time.Second || len(back.SensitiveKeys) != 2 {
		t.Errorf("back: %v %+v", err, back)
	}
	// What does not read is refused with the template's own problems, once
	// each.
	form.ScriptTimeout, form.Defaults = "soon", "tag=a\napp.tag=b\nno pair"
	err := form.into(&back)
	for field, want := range map[string]string{"scriptTimeout": `"soon" is not a duration`, "defaults": "is given twice", "scripts.update": "is required"} {
		if got := strings.Join(errorsUnder(err, field), " | "); !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}
	if n := len(errorsUnder(err, "scriptTimeout")); n != 1 {
		t.Errorf("scriptTimeout reported %d times", n)
	}
}

package server_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	octoclient "github.com/OctopusDeploy/go-octopusdeploy/v2/pkg/client"
	"github.com/OctopusDeploy/go-octopusdeploy/v2/pkg/core"
	"github.com/OctopusDeploy/go-octopusdeploy/v2/pkg/deployments"
	"github.com/OctopusDeploy/go-octopusdeploy/v2/pkg/environments"
	"github.com/OctopusDeploy/go-octopusdeploy/v2/pkg/machines"
	"github.com/OctopusDeploy/go-octopusdeploy/v2/pkg/packages"
	"github.com/OctopusDeploy/go-octopusdeploy/v2/pkg/projects"
	"github.com/OctopusDeploy/go-octopusdeploy/v2/pkg/releases"
	"github.com/OctopusDeploy/go-octopusdeploy/v2/pkg/tasks"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// octopus connects Octopus's own Go client library to the test server, as
// the `octopus` CLI and the plugins built on it do.
func octopus(t *testing.T, s *testServer, space string) *octoclient.Client {
	t.Helper()
	u, err := url.Parse(s.url)
	if err != nil {
		t.Fatal(err)
	}
	c, err := octoclient.NewClient(nil, u, adminKey, space)
	if err != nil {
		t.Fatalf("Octopus's client could not connect: %v", err)
	}
	return c
}

// apiStatus is the HTTP status of an error Octopus's client returned.
func apiStatus(err error) int {
	var ae *core.APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// tarGzOf builds a package whose files hold the given text.
func tarGzOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// waitForTask polls as `octopus task wait` does, until the task completes.
func waitForTask(t *testing.T, c *octoclient.Client, id string) *tasks.Task {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		page, err := c.Tasks.Get(tasks.TasksQuery{IDs: []string{id}})
		if err != nil {
			t.Fatalf("read task %s: %v", id, err)
		}
		all, err := page.GetAllPages(c.Tasks.GetClient())
		if err != nil || len(all) != 1 || all[0].ID != id {
			t.Fatalf("tasks?ids=%s gave %d tasks (%v)", id, len(all), err)
		}
		if all[0].IsCompleted != nil && *all[0].IsCompleted {
			return all[0]
		}
		if time.Now().After(deadline) {
			d, _ := tasks.GetDetails(c, c.GetSpaceID(), id)
			var text string
			if d != nil {
				text = activityText(d.ActivityLogs)
			}
			t.Fatalf("task %s did not complete: %s\n%s", id, all[0].State, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A pipeline written for Octopus drives Pulpo unchanged: Octopus's client
// finds the space, creates environments and a project, uploads a package,
// creates a release from it, deploys it in lifecycle order, waits for the
// tasks, reads their logs, and cancels a running one.
func TestOctopusClientDrivesADeploymentThroughPulpo(t *testing.T) {
	eachDatabase(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		octo := octopus(t, s, "")
		if octo.GetSpaceID() != "Spaces-1" {
			t.Fatalf("the default space is %q", octo.GetSpaceID())
		}
		sid := octo.GetSpaceID()
		me, err := octo.Users.GetMe()
		if err != nil || me.Username != "admin" || !me.IsActive {
			t.Fatalf("users/me: %+v %v", me, err)
		}

		// Feeds: the built-in one and those of Octopus's types (a plain
		// HTTP folder has no Octopus type), passwords never sent.
		if _, err := s.client.CreateFeed(ctx, model.Feed{Name: "Registry", Type: model.FeedDocker, URL: "https://registry.example.com", Username: "ci", Password: "reg-Pa55"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.client.CreateFeed(ctx, model.Feed{Name: "Files", Type: model.FeedHTTP, URL: "https://files.example.com/"}); err != nil {
			t.Fatal(err)
		}
		allFeeds, err := octo.Feeds.GetAll()
		if err != nil || len(allFeeds) != 2 || allFeeds[0].GetID() != "feeds-builtin" || allFeeds[0].GetFeedType() != "BuiltIn" ||
			allFeeds[1].GetName() != "Registry" || allFeeds[1].GetFeedType() != "Docker" {
			t.Fatalf("feeds: %+v %v", allFeeds, err)
		}
		if status, _, body := s.call(t, "GET", "/api/Spaces-1/feeds?feedType=Docker", "", nil); status != 200 || !strings.Contains(string(body), `"Registry"`) ||
			strings.Contains(string(body), "reg-Pa55") || strings.Contains(string(body), "feeds-builtin") {
			t.Fatalf("feeds of one type: %d %s", status, body)
		}

		// Environments.
		env := map[string]*environments.Environment{}
		for _, name := range []string{"Dev", "Test", "Production"} {
			e, err := octo.Environments.Add(environments.NewEnvironment(name))
			if err != nil {
				t.Fatalf("create %s: %v", name, err)
			}
			if !strings.HasPrefix(e.ID, "Environments-") || e.Name != name || e.SpaceID != sid {
				t.Fatalf("created %+v", e)
			}
			env[name] = e
		}
		if _, err := octo.Environments.Add(environments.NewEnvironment("Dev")); err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Errorf("a second Dev: %v", err)
		}
		page, err := octo.Environments.Get(environments.EnvironmentsQuery{Take: 2})
		if err != nil || len(page.Items) != 2 || page.TotalResults != 3 || page.Links.PageNext == "" {
			t.Fatalf("first page of two: %+v %v", page, err)
		}
		all, err := page.GetAllPages(octo.Environments.GetClient())
		if err != nil || len(all) != 3 {
			t.Fatalf("every page: %d %v", len(all), err)
		}
		if got, err := octo.Environments.GetByName("test"); err != nil || len(got) != 1 || got[0].ID != env["Test"].ID {
			t.Errorf("by name: %v %v", got, err)
		}
		if got, err := octo.Environments.GetByPartialName("uct"); err != nil || len(got) != 1 || got[0].Name != "Production" {
			t.Errorf("by partial name: %v %v", got, err)
		}
		if got, err := octo.Environments.GetByIDs([]string{env["Dev"].ID, env["Production"].ID}); err != nil || len(got) != 2 {
			t.Errorf("by ids: %v %v", got, err)
		}
		if got, err := octo.Environments.GetByID(env["Test"].ID); err != nil || got.Name != "Test" {
			t.Errorf("by id: %+v %v", got, err)
		}
		if _, err := octo.Environments.GetByID("Environments-999"); apiStatus(err) != 404 {
			t.Errorf("an unknown environment: %v", err)
		}

		// A lifecycle made in Pulpo, found by Octopus's lookups by name.
		lc, err := s.client.CreateLifecycle(ctx, model.Lifecycle{Name: "Standard", Phases: []model.Phase{
			{Name: "Development", ManualEnvironments: []string{env["Dev"].ID}},
			{Name: "Testing", ManualEnvironments: []string{env["Test"].ID}},
			{Name: "Production", ManualEnvironments: []string{env["Production"].ID}}}})
		if err != nil {
			t.Fatal(err)
		}
		found, err := octo.Lifecycles.GetByIDOrName("standard")
		if err != nil || found.ID != lc.ID || len(found.Phases) != 3 {
			t.Fatalf("lifecycle by name: %+v %v", found, err)
		}
		group, err := octo.ProjectGroups.GetByIDOrName(model.DefaultProjectGroupName)
		if err != nil || group.Name != model.DefaultProjectGroupName {
			t.Fatalf("project group by name: %+v %v", group, err)
		}

		// Projects.
		p, err := octo.Projects.Add(projects.NewProject("Web App", found.ID, group.ID))
		if err != nil {
			t.Fatalf("create project: %v", err)
		}
		if !strings.HasPrefix(p.ID, "Projects-") || p.Slug != "web-app" || p.LifecycleID != lc.ID || p.ProjectGroupID != group.ID {
			t.Fatalf("created %+v", p)
		}
		for _, x := range []string{p.ID, "web-app", "Web App"} {
			if got, err := projects.GetByIdentifier(octo, sid, x); err != nil || got.ID != p.ID {
				t.Errorf("project by %q: %+v %v", x, got, err)
			}
		}
		if list, err := octo.Projects.GetAll(); err != nil || len(list) != 1 {
			t.Errorf("all projects: %v %v", list, err)
		}

		// Its process and variables are Pulpo's own.
		if _, err := s.client.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{
			{Name: "Install", RunOnServer: true, Package: &model.PackageAction{PackageID: "webapp"}}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.client.SaveVariables(ctx, model.VariableSet{OwnerID: p.ID, Variables: []model.Variable{
			{Name: "Greeting", Value: "hello"},
			{Name: "Greeting", Value: "hi, developers", Scope: model.Scope{Environments: []string{env["Dev"].ID}}},
			{Name: "Reason", Value: "routine", Prompt: &model.Prompt{Label: "Why?"}}}}); err != nil {
			t.Fatal(err)
		}

		// The package, uploaded as `octopus package upload` does.
		pkg := tarGzOf(t, map[string]string{"Deploy.sh": `echo "deployed $(get_octopusvariable Octopus.Release.Number) to $(get_octopusvariable Octopus.Environment.Name): $(get_octopusvariable Greeting) ($(get_octopusvariable Reason))"` + "\n"})
		upload := func(mode packages.OverwriteMode) (*packages.PackageUploadResponseV2, error) {
			return packages.UploadV2(octo, sid, "webapp.1.0.0.tar.gz", bytes.NewReader(pkg), mode, false)
		}
		up, err := upload(packages.OverwriteModeFailIfExists)
		if err != nil || !up.CreatedNewFile || up.PackageUploadResponse.PackageId != "webapp" || up.PackageUploadResponse.Version != "1.0.0" {
			t.Fatalf("upload: %+v %v", up, err)
		}
		if _, err := upload(packages.OverwriteModeFailIfExists); err == nil || !strings.Contains(err.Error(), "already") {
			t.Errorf("the same version again: %v", err)
		}
		if up, err := upload(packages.OverwriteModeIgnoreIfExists); err != nil || up.CreatedNewFile {
			t.Errorf("ignore if it exists: %+v %v", up, err)
		}
		if up, err := upload(packages.OverwriteModeOverwriteExisting); err != nil || !up.CreatedNewFile {
			t.Errorf("overwrite: %+v %v", up, err)
		}

		// A release of it, as `octopus release create` does.
		cmd := releases.NewCreateReleaseCommandV1(sid, "Web App")
		cmd.ReleaseVersion, cmd.PackageVersion, cmd.ReleaseNotes = "1.0.0", "1.0.0", "The first"
		created, err := releases.CreateReleaseV1(octo, cmd)
		if err != nil || created.ReleaseVersion != "1.0.0" {
			t.Fatalf("create release: %+v %v", created, err)
		}
		rel, err := octo.Releases.GetByID(created.ReleaseID)
		if err != nil || rel.Version != "1.0.0" || rel.ReleaseNotes != "The first" || rel.ProjectID != p.ID ||
			len(rel.SelectedPackages) != 1 || rel.SelectedPackages[0].Version != "1.0.0" {
			t.Fatalf("the release: %+v %v", rel, err)
		}
		ch, err := octo.Channels.GetByID(rel.ChannelID)
		if err != nil || ch.Name != "Default" || !ch.IsDefault {
			t.Fatalf("its channel: %+v %v", ch, err)
		}
		cmd.IgnoreIfAlreadyExists = true
		if again, err := releases.CreateReleaseV1(octo, cmd); err != nil || again.ReleaseID != created.ReleaseID {
			t.Errorf("ignoreIfAlreadyExists: %+v %v", again, err)
		}
		cmd.IgnoreIfAlreadyExists = false
		if _, err := releases.CreateReleaseV1(octo, cmd); err == nil || !strings.Contains(err.Error(), "1.0.0") {
			t.Errorf("the same version twice: %v", err)
		}
		if byVersion, err := releases.GetReleaseInProject(octo, sid, p.ID, "1.0.0"); err != nil || byVersion.ID != created.ReleaseID {
			t.Errorf("release by project and version: %+v %v", byVersion, err)
		}

		// Deployments follow the lifecycle: not to Test before Dev.
		deploy := func(version string, envs ...string) (*deployments.CreateDeploymentResponseV1, error) {
			d := deployments.NewCreateDeploymentUntenantedCommandV1(sid, "Web App")
			d.ReleaseVersion, d.EnvironmentNames = version, envs
			d.Variables = map[string]string{"Reason": "testing " + strings.Join(envs, "+")}
			return deployments.CreateDeploymentUntenantedV1(octo, d)
		}
		if _, err := deploy("1.0.0", "Test"); apiStatus(err) != 409 || !strings.Contains(err.Error(), "Development") {
			t.Fatalf("deploy to Test first: %v", err)
		}
		if _, err := deploy("1.0.0", "Dev", "Test"); apiStatus(err) != 409 || !strings.Contains(err.Error(), "nothing was deployed") {
			t.Fatalf("Dev and Test at once: %v", err)
		}
		for _, name := range []string{"Dev", "Test"} {
			res, err := deploy("1.0.0", name)
			if err != nil || len(res.DeploymentServerTasks) != 1 {
				t.Fatalf("deploy to %s: %+v %v", name, res, err)
			}
			id := res.DeploymentServerTasks[0].ServerTaskID
			if !strings.HasPrefix(id, "ServerTasks-") {
				t.Errorf("task id %q is not Octopus's form", id)
			}
			done := waitForTask(t, octo, id)
			if done.State != "Success" || done.FinishedSuccessfully == nil || !*done.FinishedSuccessfully || done.StartTime == nil || done.CompletedTime == nil {
				t.Fatalf("the %s deployment: %+v", name, done)
			}
			details, err := tasks.GetDetails(octo, sid, id)
			if err != nil || len(details.ActivityLogs) != 1 || details.Progress.ProgressPercentage != 100 {
				t.Fatalf("details: %+v %v", details, err)
			}
			greeting := map[string]string{"Dev": "hi, developers", "Test": "hello"}[name]
			want := "deployed 1.0.0 to " + name + ": " + greeting + " (testing " + name + ")"
			if text := activityText(details.ActivityLogs); !strings.Contains(text, want) {
				t.Errorf("the %s log lacks %q:\n%s", name, want, text)
			}
			if step := details.ActivityLogs[0].Children; len(step) != 1 || step[0].Name != "Step 1: Install" || step[0].Status != "Success" {
				t.Errorf("the step activity: %d %q %q", len(step), step[0].Name, step[0].Status)
			}
		}

		// A release numbered by the server, from the project's template.
		cmd = releases.NewCreateReleaseCommandV1(sid, p.ID)
		cmd.Packages = []string{"webapp:1.0.0"}
		numbered, err := releases.CreateReleaseV1(octo, cmd)
		if err != nil || numbered.ReleaseVersion != "1.0.1" {
			t.Errorf("a release without a version: %+v %v", numbered, err)
		}
	})
}

// activityText is every log line of an activity tree.
func activityText(list []*tasks.ActivityElement) string {
	var b strings.Builder
	for _, a := range list {
		for _, l := range a.LogElements {
			b.WriteString(l.Category + " " + l.MessageText + "\n")
		}
		b.WriteString(activityText(a.Children))
	}
	return b.String()
}

// Cancelling a running task through Octopus's client stops its script.
func TestOctopusClientCancelsARunningTask(t *testing.T) {
	s := start(t, "")
	ctx := context.Background()
	octo := octopus(t, s, "Spaces-1")
	dev, err := s.client.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.client.CreateProject(ctx, model.Project{Name: "Slow"})
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	if _, err := s.client.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Wait", RunOnServer: true,
		Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo $$ > " + pidFile + "\nsleep 300\n"}}}}); err != nil {
		t.Fatal(err)
	}
	cmd := releases.NewCreateReleaseCommandV1("Spaces-1", "Slow")
	cmd.ReleaseVersion = "1.0.0"
	if _, err := releases.CreateReleaseV1(octo, cmd); err != nil {
		t.Fatal(err)
	}
	d := deployments.NewCreateDeploymentUntenantedCommandV1("Spaces-1", "Slow")
	d.ReleaseVersion, d.EnvironmentNames = "1.0.0", []string{dev.Name}
	res, err := deployments.CreateDeploymentUntenantedV1(octo, d)
	if err != nil {
		t.Fatal(err)
	}
	id := res.DeploymentServerTasks[0].ServerTaskID
	pid := 0
	for deadline := time.Now().Add(30 * time.Second); pid == 0; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if time.Now().After(deadline) {
			t.Fatal("the script did not start")
		}
	}
	running, err := octo.Tasks.Get(tasks.TasksQuery{IDs: []string{id}})
	if err != nil || len(running.Items) != 1 || running.Items[0].State != "Executing" || *running.Items[0].IsCompleted {
		t.Fatalf("the running task: %+v %v", running, err)
	}
	if _, err := tasks.Cancel(octo, "Spaces-1", id); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	done := waitForTask(t, octo, id)
	if done.State != "Canceled" || done.FinishedSuccessfully == nil || *done.FinishedSuccessfully {
		t.Fatalf("after the cancel: %+v", done)
	}
	if processAlive(pid) {
		t.Errorf("the script (pid %d) still runs after the task was canceled", pid)
	}
}

// The listings `octopus deployment-target list`, `worker list`,
// `worker-pool list` and `tenant list` read, with each machine's
// communication style.
func TestOctopusClientListsMachinesPoolsAndTenants(t *testing.T) {
	s := start(t, "")
	ctx := context.Background()
	octo := octopus(t, s, "Spaces-1")
	dev, err := s.client.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
	if err != nil {
		t.Fatal(err)
	}
	thumb := strings.Repeat("AB", 32)
	mustMachine := func(m model.Machine) model.Machine {
		t.Helper()
		m, err := s.client.CreateMachine(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	listening := mustMachine(model.Machine{Name: "web-1", Kind: model.MachineListening, Usage: model.UsageTarget, Address: "web-1:10933",
		Thumbprint: thumb, EnvironmentIDs: []string{dev.ID}, Roles: []string{"web"}})
	polling := mustMachine(model.Machine{Name: "web-2", Kind: model.MachinePolling, Usage: model.UsageTarget,
		Thumbprint: strings.Repeat("CD", 32), EnvironmentIDs: []string{dev.ID}, Roles: []string{"web"}})
	sshm := mustMachine(model.Machine{Name: "db-1", Kind: model.MachineSSH, Usage: model.UsageTarget, Address: "db-1:2222",
		SSH: &model.SSHEndpoint{User: "deploy", HostKeyFingerprint: "SHA256:abc"}, Credentials: &model.SSHCredentials{Password: "pw"},
		EnvironmentIDs: []string{dev.ID}, Roles: []string{"db"}})
	pools, err := octo.WorkerPools.GetAll()
	if err != nil || len(pools) != 1 || !pools[0].IsDefault || pools[0].WorkerPoolType != "StaticWorkerPool" {
		t.Fatalf("worker pools: %+v %v", pools, err)
	}
	mustMachine(model.Machine{Name: "builder-1", Kind: model.MachinePolling, Usage: model.UsageWorker,
		Thumbprint: strings.Repeat("EF", 32), WorkerPoolIDs: []string{pools[0].ID}})

	page, err := octo.Machines.Get(machines.MachinesQuery{Take: math.MaxInt32})
	if err != nil || len(page.Items) != 3 {
		t.Fatalf("targets: %+v %v", page, err)
	}
	styles := map[string]string{}
	for _, m := range page.Items {
		styles[m.Name] = m.Endpoint.GetCommunicationStyle()
		if len(m.EnvironmentIDs) != 1 || m.EnvironmentIDs[0] != dev.ID {
			t.Errorf("%s environments: %v", m.Name, m.EnvironmentIDs)
		}
	}
	want := map[string]string{listening.Name: "TentaclePassive", polling.Name: "TentacleActive", sshm.Name: "Ssh"}
	for name, style := range want {
		if styles[name] != style {
			t.Errorf("%s is %q, want %q", name, styles[name], style)
		}
	}
	if web, err := octo.Machines.Get(machines.MachinesQuery{Roles: []string{"web"}, Take: 100}); err != nil || len(web.Items) != 2 {
		t.Errorf("targets in role web: %v %v", web, err)
	}
	workers, err := octo.Workers.GetAll()
	if err != nil || len(workers) != 1 || workers[0].Name != "builder-1" || len(workers[0].WorkerPoolIDs) != 1 {
		t.Fatalf("workers: %+v %v", workers, err)
	}
	if _, err := octo.Machines.GetByID(workers[0].ID); apiStatus(err) != 404 {
		t.Errorf("a worker read as a deployment target: %v", err)
	}
	if got, err := octo.Workers.GetByID(workers[0].ID); err != nil || got.Name != "builder-1" {
		t.Errorf("the worker by id: %+v %v", got, err)
	}
	if tenants, err := octo.Tenants.GetAll(); err != nil || len(tenants) != 0 {
		t.Errorf("tenants: %v %v", tenants, err)
	}
	if got, err := octo.Environments.GetAll(); err != nil || len(got) != 1 {
		t.Errorf("environments: %v %v", got, err)
	}
}

// processAlive reports whether a process with the pid still exists.
func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// The deployment command's options reach the engine: skipped steps,
// guided failure, a start time and an expiry, a channel chosen by name,
// and projects found by part of their name.
func TestOctopusClientDeploymentOptions(t *testing.T) {
	s := start(t, "")
	ctx := context.Background()
	octo := octopus(t, s, "Default")
	sid := octo.GetSpaceID()
	dev, err := s.client.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.client.CreateProject(ctx, model.Project{Name: "Shop Frontend"})
	if err != nil {
		t.Fatal(err)
	}
	script := func(name, body string) model.Step {
		return model.Step{Name: name, RunOnServer: true, Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: body}}
	}
	if _, err := s.client.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{
		script("One", "echo one ran"), script("Two", "echo two ran"), script("Check", `[ "$(get_octopusvariable Mode)" != broken ] || exit 3`)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.SaveVariables(ctx, model.VariableSet{OwnerID: p.ID, Variables: []model.Variable{
		{Name: "Mode", Value: "fine", Prompt: &model.Prompt{Label: "Mode"}}}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Main", "Hotfix"} {
		if _, err := s.client.CreateChannel(ctx, model.Channel{ProjectID: p.ID, Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := octo.Projects.Get(projects.ProjectsQuery{PartialName: "front"}); err != nil || len(got.Items) != 1 || got.Items[0].ID != p.ID {
		t.Fatalf("projects by part of the name: %+v %v", got, err)
	}

	cmd := releases.NewCreateReleaseCommandV1(sid, "shop frontend")
	cmd.ReleaseVersion, cmd.ChannelIDOrName = "2.0.0", "hotfix"
	created, err := releases.CreateReleaseV1(octo, cmd)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := octo.Releases.GetByID(created.ReleaseID)
	if err != nil {
		t.Fatal(err)
	}
	if ch, err := octo.Channels.GetByID(rel.ChannelID); err != nil || ch.Name != "Hotfix" || ch.ProjectID != p.ID {
		t.Fatalf("the release's channel: %+v %v", ch, err)
	}

	deploy := func(edit func(d *deployments.CreateDeploymentUntenantedCommandV1)) string {
		t.Helper()
		d := deployments.NewCreateDeploymentUntenantedCommandV1(sid, "Shop Frontend")
		d.ReleaseVersion, d.EnvironmentNames = "2.0.0", []string{"dev"}
		edit(d)
		res, err := deployments.CreateDeploymentUntenantedV1(octo, d)
		if err != nil {
			t.Fatalf("deploy: %v", err)
		}
		return res.DeploymentServerTasks[0].ServerTaskID
	}

	// Skipped steps do not run.
	id := deploy(func(d *deployments.CreateDeploymentUntenantedCommandV1) { d.SkipStepNames = []string{"Two"} })
	if done := waitForTask(t, octo, id); done.State != "Success" {
		t.Fatalf("with a skipped step: %s", done.State)
	}
	details, err := tasks.GetDetails(octo, sid, id)
	if err != nil {
		t.Fatal(err)
	}
	if text := activityText(details.ActivityLogs); !strings.Contains(text, "one ran") || strings.Contains(text, "two ran") {
		t.Errorf("step Two was not skipped:\n%s", text)
	}

	// Guided failure: the failed step waits for someone instead of failing
	// the task, which Octopus shows as executing with an interruption.
	yes := true
	id = deploy(func(d *deployments.CreateDeploymentUntenantedCommandV1) {
		d.UseGuidedFailure = &yes
		d.Variables = map[string]string{"Mode": "broken"}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		page, err := octo.Tasks.Get(tasks.TasksQuery{IDs: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		if task := page.Items[0]; task.HasPendingInterruptions {
			if task.State != "Executing" || *task.IsCompleted {
				t.Errorf("waiting for guidance: %+v", task)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("guided failure never asked: %+v", page.Items[0])
		}
	}
	if _, err := tasks.Cancel(octo, sid, id); err != nil {
		t.Fatal(err)
	}
	if done := waitForTask(t, octo, id); done.State != "Canceled" {
		t.Errorf("after cancelling the guided failure: %s", done.State)
	}

	// A deployment for later waits in the queue until its time; it expires
	// after noRunAfter.
	runAt := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	id = deploy(func(d *deployments.CreateDeploymentUntenantedCommandV1) {
		d.RunAt = runAt.Format(time.RFC3339)
		d.NoRunAfter = runAt.Add(30 * time.Minute).Format(time.RFC3339)
	})
	page, err := octo.Tasks.Get(tasks.TasksQuery{IDs: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	task := page.Items[0]
	if task.State != "Queued" || task.QueueTime == nil || !task.QueueTime.Equal(runAt) ||
		task.QueueTimeExpiry == nil || !task.QueueTimeExpiry.Equal(runAt.Add(30*time.Minute)) {
		t.Errorf("a scheduled deployment: state %s, queue time %v, expiry %v", task.State, task.QueueTime, task.QueueTimeExpiry)
	}
	if queued, err := octo.Tasks.Get(tasks.TasksQuery{States: []string{"Queued"}}); err != nil || len(queued.Items) != 1 || queued.Items[0].ID != id {
		t.Errorf("queued tasks: %+v %v", queued, err)
	}
	_ = dev
}

// Bad input through the Octopus layer gets Octopus's error document: a
// status that says whose mistake it is, ErrorMessage always, Errors with
// 400 only; never a 500, never an empty body.
func TestOctopusAPIErrors(t *testing.T) {
	s := start(t, "")
	ctx := context.Background()
	if _, err := s.client.CreateEnvironment(ctx, model.Environment{Name: "Dev"}); err != nil {
		t.Fatal(err)
	}
	p, err := s.client.CreateProject(ctx, model.Project{Name: "Shop"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Hi", RunOnServer: true,
		Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo hi"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID, Version: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	multipart := func(field, file, body string) (string, map[string]string) {
		b := "--XyZ\r\nContent-Disposition: form-data; name=\"" + field + "\""
		if file != "" {
			b += "; filename=\"" + file + "\""
		}
		return b + "\r\n\r\n" + body + "\r\n--XyZ--\r\n", map[string]string{"Content-Type": "multipart/form-data; boundary=XyZ"}
	}
	noFile, mp := multipart("note", "", "hello")
	badName, _ := multipart("file", "notes.txt", "hello")
	deployBody := func(extra string) string {
		return `{"spaceId":"Spaces-1","projectName":"Shop","releaseVersion":"1.0.0","environmentNames":["Dev"]` + extra + `}`
	}
	cases := []struct {
		name, method, path, body string
		headers                  map[string]string
		status                   int
		says                     string
	}{
		{"an unknown space", "GET", "/api/Spaces-9/environments", "", nil, 404, "one space"},
		{"an unknown environment", "GET", "/api/Spaces-1/environments/Environments-99", "", nil, 404, "Environments-99"},
		{"an endpoint Pulpo does not serve", "GET", "/api/Spaces-1/runbooks", "", nil, 404, "does not serve"},
		{"a method a collection does not take", "DELETE", "/api/Spaces-1/environments", "", nil, 405, "not allowed"},
		{"no API key", "GET", "/api/Spaces-1/environments", "", map[string]string{"Authorization": ""}, 401, "API key"},
		{"a body that is not JSON", "POST", "/api/Spaces-1/environments", "{nope", nil, 400, "not valid JSON"},
		{"an environment without a name", "POST", "/api/Spaces-1/environments", `{"Name":""}`, nil, 400, "name"},
		{"a taken environment name", "POST", "/api/Spaces-1/environments", `{"Name":"dev"}`, nil, 409, "already exists"},
		{"a project without its lifecycle", "POST", "/api/Spaces-1/projects", `{"Name":"X","LifecycleId":"Lifecycles-99","ProjectGroupId":"ProjectGroups-1"}`, nil, 400, "Lifecycles-99"},
		{"paging that is not a number", "GET", "/api/Spaces-1/environments?take=lots", "", nil, 400, "take"},
		{"a task state that does not exist", "GET", "/api/Spaces-1/tasks?states=Sleeping", "", nil, 400, "Sleeping"},
		{"a release for no project", "POST", "/api/Spaces-1/releases/create/v1", `{"spaceId":"Spaces-1"}`, nil, 400, "projectName"},
		{"a release of an unknown project", "POST", "/api/Spaces-1/releases/create/v1", `{"projectName":"Nope"}`, nil, 400, "Nope"},
		{"a release in an unknown channel", "POST", "/api/Spaces-1/releases/create/v1", `{"projectName":"Shop","channelName":"Beta"}`, nil, 400, "Beta"},
		{"a package spec without a version", "POST", "/api/Spaces-1/releases/create/v1", `{"projectName":"Shop","packages":["web"]}`, nil, 400, "StepOrPackageId:Version"},
		{"a version-controlled release", "POST", "/api/Spaces-1/releases/create/v1", `{"projectName":"Shop","gitRef":"main"}`, nil, 400, "gitRef"},
		{"a release version taken", "POST", "/api/Spaces-1/releases/create/v1", `{"projectName":"Shop","releaseVersion":"1.0.0"}`, nil, 409, "already exists"},
		{"a deployment missing everything", "POST", "/api/Spaces-1/deployments/create/untenanted/v1", `{}`, nil, 400, "releaseVersion"},
		{"a deployment of an unknown release", "POST", "/api/Spaces-1/deployments/create/untenanted/v1", `{"projectName":"Shop","releaseVersion":"9.9.9","environmentNames":["Dev"]}`, nil, 400, "no release 9.9.9"},
		{"a deployment to an unknown environment", "POST", "/api/Spaces-1/deployments/create/untenanted/v1", `{"projectName":"Shop","releaseVersion":"1.0.0","environmentNames":["Mars"]}`, nil, 400, "Mars"},
		{"a start time that is not a time", "POST", "/api/Spaces-1/deployments/create/untenanted/v1", deployBody(`,"runAt":"tomorrow"`), nil, 400, "runAt"},
		{"an unknown machine", "POST", "/api/Spaces-1/deployments/create/untenanted/v1", deployBody(`,"specificMachineNames":["ghost"]`), nil, 400, "ghost"},
		{"a frozen deployment without a reason", "POST", "/api/Spaces-1/deployments/create/untenanted/v1", deployBody(`,"deploymentFreezeNames":["Xmas"]`), nil, 400, "say why"},
		{"a tenanted deployment", "POST", "/api/Spaces-1/deployments/create/tenanted/v1", deployBody(""), nil, 400, "tenants"},
		{"an upload that is not multipart", "POST", "/api/Spaces-1/packages/raw", "raw bytes", nil, 400, "multipart"},
		{"an upload without a file", "POST", "/api/Spaces-1/packages/raw", noFile, mp, 400, `"file"`},
		{"an upload whose name is no package", "POST", "/api/Spaces-1/packages/raw", badName, mp, 400, "notes.txt"},
		{"an upload of an unknown overwrite mode", "POST", "/api/Spaces-1/packages/raw?overwriteMode=Sometimes", badName, mp, 400, "Sometimes"},
		{"details of an unknown task", "GET", "/api/tasks/ServerTasks-999/details", "", nil, 404, "Tasks-999"},
		{"cancelling an unknown task", "POST", "/api/spaces/Spaces-1/tasks/ServerTasks-999/cancel", "", nil, 404, "Tasks-999"},
		{"an unknown channel", "GET", "/api/Spaces-1/channels/Channels-Default-Projects-99", "", nil, 404, "Projects-99"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			headers := map[string]string{"X-Octopus-ApiKey": adminKey, "Authorization": ""}
			for k, v := range tt.headers {
				headers[k] = v
			}
			if tt.status == 401 {
				headers["X-Octopus-ApiKey"] = ""
			}
			status, _, raw := s.call(t, tt.method, tt.path, tt.body, headers)
			var body struct {
				ErrorMessage string
				Errors       []string
			}
			if err := json.Unmarshal(raw, &body); err != nil || body.ErrorMessage == "" {
				t.Fatalf("%d with a body that is not Octopus's error document: %q", status, raw)
			}
			if status != tt.status {
				t.Errorf("status %d, want %d: %s", status, tt.status, raw)
			}
			if (status == 400) != (len(body.Errors) > 0) {
				t.Errorf("Errors must come with a 400 and only then: %d %s", status, raw)
			}
			if text := body.ErrorMessage + " " + strings.Join(body.Errors, " "); !strings.Contains(text, tt.says) {
				t.Errorf("the error does not say %q: %s", tt.says, raw)
			}
		})
	}
}

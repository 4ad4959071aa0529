package server_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/server"
	"github.com/pulpo-deploy/pulpo/internal/testutil/archivetest"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// A test clock: real time plus an offset the test moves on.
type movableClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *movableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *movableClock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// The control scripts of the tests: each staging is a real HTTP server
// (python3) on a free port, serving a page with its tag; its files live
// under the deployment setting "state".
const stagingArgs = `
while [ $# -gt 0 ]; do
  case "$1" in
    --name) NAME=$2 ;;
    --app-config|--application-config) case "$2" in tag=*) TAG=${2#tag=} ;; password=*) PASSWORD=${2#password=} ;; esac ;;
    --deployment-config) case "$2" in state=*) STATE=${2#state=} ;; esac ;;
  esac
  shift 2
done
DIR="$STATE/$NAME"
`

const stagingStart = `
mkdir -p "$DIR/www"
echo "tag $TAG" > "$DIR/www/index.html"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "$PORT" > "$DIR/port"
setsid python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$DIR/www" >"$DIR/server.log" 2>&1 < /dev/null &
echo $! > "$DIR/pid"
for i in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && break; sleep 0.05; done
echo "started $NAME on port $PORT"
`

func stagingTemplate(state string) model.StagingTemplate {
	return model.StagingTemplate{
		Scripts: model.StagingScripts{
			ConfigCheck: stagingArgs + `
if [ -z "$TAG" ]; then echo "app.tag is required: the image tag to run"; exit 1; fi
case "$TAG" in *bad*) echo "tag $TAG is not in the registry"; exit 1 ;; esac`,
			Create: stagingArgs + `echo "password is $PASSWORD"` + stagingStart,
			Update: stagingArgs + `
while [ -e "$STATE/hold" ]; do sleep 0.02; done
echo "tag $TAG" > "$DIR/www/index.html"
echo "updated $NAME to $TAG"`,
			Info: stagingArgs + `echo "web,http://127.0.0.1:$(cat "$DIR/port")/"`,
			Check: stagingArgs + `
body=$(curl -fsS "http://127.0.0.1:$(cat "$DIR/port")/") || exit 1
[ "$body" = "tag $TAG" ] || exit 3`,
			Archive:      stagingArgs + `kill "$(cat "$DIR/pid")"; echo "stopped $NAME"`,
			ArchiveCheck: stagingArgs + `! curl -fsS "http://127.0.0.1:$(cat "$DIR/port")/" >/dev/null 2>&1`,
			Restore:      stagingArgs + `echo "password length ${#PASSWORD}"` + stagingStart,
			Cleanup: stagingArgs + `
if [ -e "$STATE/fail-cleanup" ]; then echo "the volume is still attached"; exit 1; fi
rm -rf "$DIR"; echo "removed $NAME"`,
		},
		Defaults:         model.StagingConfig{Deployment: map[string]string{"state": state}, App: map[string]string{"replicas": "1"}},
		SensitiveKeys:    []string{"app.password"},
		CheckInterval:    model.Duration{D: time.Second},
		ScriptTimeout:    model.Duration{D: 20 * time.Second},
		IdleExpiry:       model.Duration{D: time.Hour},
		ArchiveRetention: model.Duration{D: 2 * time.Hour},
	}
}

type stagingEnv struct {
	t     *testing.T
	hs    *httptest.Server
	clock *movableClock
}

func startStagings(t *testing.T, databaseURL ...string) *stagingEnv {
	t.Helper()
	clock := &movableClock{}
	dataDir := t.TempDir()
	stopLeftoverWebServers(t, filepath.Dir(dataDir))
	n, err := server.New(context.Background(), server.Config{DataDir: dataDir, DatabaseURL: strings.Join(databaseURL, ""), AdminAPIKey: adminKey, NodeName: "test", Version: "test",
		Clock: clock.Now, StagingCheckTick: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(n.Handler())
	t.Cleanup(func() { hs.CloseClientConnections(); hs.Close(); n.Close() })
	return &stagingEnv{t: t, hs: hs, clock: clock}
}

// stopLeftoverWebServers stops, when the test ends, the web servers of
// stagings it left running: each wrote its pid under the test's temporary
// folders (root), and only a process that is still that server is stopped.
func stopLeftoverWebServers(t *testing.T, root string) {
	t.Cleanup(func() {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "pid" {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid <= 0 {
				return nil
			}
			cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err == nil && strings.Contains(string(cmdline), "http.server") && strings.Contains(string(cmdline), filepath.Dir(path)) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			return nil
		})
	})
}

func (e *stagingEnv) api(method, path string, in, out any) int {
	e.t.Helper()
	return admin(e.t, e.hs, method, "/api/v1"+path, in, out)
}

// waitFor polls a staging until cond holds, or fails after a deadline.
func (e *stagingEnv) waitFor(id, what string, cond func(wire.StagingDetail) bool) wire.StagingDetail {
	e.t.Helper()
	var d wire.StagingDetail
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		d = wire.StagingDetail{}
		st := e.api("GET", "/stagings/"+id, nil, &d)
		if st == 200 && cond(d) {
			return d
		}
		if time.Now().After(deadline) {
			var log wire.TaskLog
			if len(d.Actions) > 0 {
				e.api("GET", "/tasks/"+d.Actions[0].TaskID+"/log", nil, &log)
			}
			e.t.Fatalf("staging %s never became %s: status %d, state %s, message %q, check %v, last action's task: %+v", id, what, st, d.State, d.Message, d.LastCheckCode, log)
		}
	}
}

func (e *stagingEnv) state(id string, want model.StagingState) wire.StagingDetail {
	e.t.Helper()
	return e.waitFor(id, string(want), func(d wire.StagingDetail) bool { return d.State == want && d.TaskID == "" })
}

func get(t *testing.T, url string) (string, error) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), nil
}

func (e *stagingEnv) project(name string, t model.StagingTemplate) model.Project {
	e.t.Helper()
	var p model.Project
	if st := e.api("POST", "/projects", model.Project{Name: name}, &p); st != 201 {
		e.t.Fatalf("create project: %d", st)
	}
	var body map[string]any
	if st := e.api("PUT", "/projects/"+p.ID+"/staging-template", t, &body); st != 200 {
		e.t.Fatalf("set the staging template: %d %v", st, body)
	}
	return p
}

// A staging's whole life with real control scripts and a real server
// process: create, check turns it Running, its URL answers; update with a
// new tag; archive stops it; restore; idle expiry and retention with a
// moved clock.
func TestAStagingsLifeWithRealControlScripts(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			url := ""
			if dialect == "postgres" {
				url = pg.Database(t)
			}
			aStagingsLife(t, startStagings(t, url))
		})
	}
}

func aStagingsLife(t *testing.T, e *stagingEnv) {
	state := t.TempDir()
	p := e.project("shop", stagingTemplate(state))

	var created wire.StagingResult
	if st := e.api("POST", "/stagings", wire.StagingRequest{ProjectID: p.ID, Name: "feature-a",
		Set: map[string]string{"app.tag": "ab12cd", "app.password": "s3cr3t-xyz"}}, &created); st != 202 {
		t.Fatalf("create: %d", st)
	}
	if created.TaskID == "" || created.Staging.State != model.StagingCreatePending {
		t.Fatalf("create answered %+v", created)
	}
	d := e.state(created.Staging.ID, model.StagingRunning)
	if len(d.Links) != 1 || !strings.HasPrefix(d.Links[0].URL, "http://127.0.0.1:") {
		t.Fatalf("links from info: %+v", d.Links)
	}
	url := d.Links[0].URL
	if body, err := get(t, url); err != nil || body != "tag ab12cd" {
		t.Fatalf("the staging's URL: %q %v", body, err)
	}
	if d.Effective.App["tag"] != "ab12cd" || d.Effective.App["replicas"] != "1" || d.Effective.Deployment["state"] != state {
		t.Errorf("effective configuration: %+v", d.Effective)
	}
	if len(d.Overrides.App) != 2 || d.Overrides.Deployment != nil {
		t.Errorf("overrides hold more than the differences: %+v", d.Overrides)
	}

	// The secret is masked in the log and never comes back from the API.
	var log wire.TaskLog
	e.api("GET", "/tasks/"+created.TaskID+"/log", nil, &log)
	logText := fmt.Sprint(log)
	if strings.Contains(logText, "s3cr3t-xyz") || !strings.Contains(logText, "password is ***") {
		t.Errorf("the create log does not mask the password:\n%s", logText)
	}
	raw := rawGet(t, e.hs, "/api/v1/stagings/"+created.Staging.ID)
	if strings.Contains(raw, "s3cr3t-xyz") || !strings.Contains(raw, model.StagingMask) {
		t.Errorf("the API shows the password:\n%s", raw)
	}

	// While an update runs, a second action is refused with a clear 409.
	os.WriteFile(filepath.Join(state, "hold"), nil, 0o644)
	var upd wire.StagingResult
	// The mask sent back (as a form that shows it would) keeps the secret.
	if st := e.api("POST", "/stagings/"+created.Staging.ID+"/update", wire.StagingRequest{Set: map[string]string{"tag": "ef34gh", "app.password": model.StagingMask}}, &upd); st != 202 {
		t.Fatalf("update: %d", st)
	}
	var busy wire.ErrorBody
	if st := e.api("POST", "/stagings/"+created.Staging.ID+"/archive", nil, &busy); st != http.StatusConflict || !strings.Contains(busy.Error, "busy") {
		t.Errorf("a concurrent archive: %d %q", st, busy.Error)
	}
	os.Remove(filepath.Join(state, "hold"))
	d = e.state(created.Staging.ID, model.StagingRunning)
	if body, _ := get(t, url); body != "tag ef34gh" {
		t.Errorf("after the update the URL says %q", body)
	}

	// Archive stops the server; archive_check confirms it.
	var arch wire.StagingResult
	if st := e.api("POST", "/stagings/"+created.Staging.ID+"/archive", nil, &arch); st != 202 {
		t.Fatalf("archive: %d", st)
	}
	d = e.state(created.Staging.ID, model.StagingArchived)
	if _, err := get(t, url); err == nil {
		t.Error("the archived staging still answers")
	}
	if d.CleanupAt == nil || d.ArchivedAt == nil || !d.CleanupAt.Equal(d.ArchivedAt.Add(2*time.Hour)) {
		t.Errorf("cleanup planned at %v for archived at %v", d.CleanupAt, d.ArchivedAt)
	}

	// Restore brings it back, on a new port.
	if st := e.api("POST", "/stagings/"+created.Staging.ID+"/restore", nil, nil); st != 202 {
		t.Fatalf("restore: %d", st)
	}
	d = e.state(created.Staging.ID, model.StagingRunning)
	if body, _ := get(t, d.Links[0].URL); body != "tag ef34gh" {
		t.Errorf("the restored staging says %q", body)
	}
	log = wire.TaskLog{}
	e.api("GET", "/tasks/"+d.Actions[0].TaskID+"/log", nil, &log)
	if !strings.Contains(fmt.Sprint(log.Lines), "password length 10") {
		t.Errorf("the restore did not get the stored password back:\n%v", log.Lines)
	}

	// Idle for longer than the template allows: archived by Pulpo itself;
	// then cleaned up once archived for longer than the retention.
	if d.ExpiresAt == nil {
		t.Fatal("no idle expiry planned")
	}
	e.clock.advance(61 * time.Minute)
	d = e.state(created.Staging.ID, model.StagingArchived)
	if d.Actions[0].Action != model.StagingArchive || d.Actions[0].By != "Pulpo (idle expiry)" {
		t.Errorf("the last action: %+v", d.Actions[0])
	}
	e.clock.advance(121 * time.Minute)
	for deadline := time.Now().Add(30 * time.Second); e.api("GET", "/stagings/"+created.Staging.ID, nil, nil) != 404; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the archived staging was never cleaned up")
		}
	}
	if _, err := os.Stat(filepath.Join(state, "feature-a")); !os.IsNotExist(err) {
		t.Errorf("cleanup left the staging's files: %v", err)
	}
}

func rawGet(t *testing.T, hs *httptest.Server, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", hs.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// What goes wrong is said plainly: config_check's message refuses a
// create; a hung script is stopped at the timeout and its output kept; a
// failed cleanup can be retried; names follow the template's rule.
func TestStagingFailuresAreExplained(t *testing.T) {
	e := startStagings(t)
	state := t.TempDir()
	tmpl := stagingTemplate(state)
	p := e.project("shop", tmpl)

	var refused wire.ErrorBody
	if st := e.api("POST", "/stagings", wire.StagingRequest{ProjectID: p.ID, Name: "feature-b", Set: map[string]string{"app.tag": "bad-1"}}, &refused); st != 400 ||
		!strings.Contains(strings.Join(refused.Details, " "), "tag bad-1 is not in the registry") {
		t.Errorf("config_check's refusal: %d %+v", st, refused)
	}
	var list []model.Staging
	if e.api("GET", "/stagings?projectId="+p.ID, nil, &list); len(list) != 0 {
		t.Errorf("a refused create left %d stagings", len(list))
	}
	for _, name := range []string{"Feature", "x", "has space", strings.Repeat("a", 41)} {
		var body wire.ErrorBody
		if st := e.api("POST", "/stagings", wire.StagingRequest{ProjectID: p.ID, Name: name, Set: map[string]string{"app.tag": "t"}}, &body); st != 400 ||
			!strings.Contains(strings.Join(body.Details, " "), "naming rule") {
			t.Errorf("name %q: %d %+v", name, st, body)
		}
	}

	// Cleanup that fails leaves CleanupFailed with the script's words; a
	// retry after the cause is fixed removes the staging.
	var res wire.StagingResult
	e.api("POST", "/stagings", wire.StagingRequest{ProjectID: p.ID, Name: "feature-c", Set: map[string]string{"app.tag": "c1"}}, &res)
	e.state(res.Staging.ID, model.StagingRunning)
	e.api("POST", "/stagings/"+res.Staging.ID+"/archive", nil, nil)
	e.state(res.Staging.ID, model.StagingArchived)
	os.WriteFile(filepath.Join(state, "fail-cleanup"), nil, 0o644)
	e.api("POST", "/stagings/"+res.Staging.ID+"/cleanup", nil, nil)
	d := e.state(res.Staging.ID, model.StagingCleanupFailed)
	if !strings.Contains(d.Message, "the volume is still attached") {
		t.Errorf("CleanupFailed says %q", d.Message)
	}
	os.Remove(filepath.Join(state, "fail-cleanup"))
	if st := e.api("POST", "/stagings/"+res.Staging.ID+"/cleanup", nil, nil); st != 202 {
		t.Fatalf("retry the cleanup: %d", st)
	}
	for deadline := time.Now().Add(30 * time.Second); e.api("GET", "/stagings/"+res.Staging.ID, nil, nil) != 404; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the retried cleanup did not remove the staging")
		}
	}

	// A create script that hangs is stopped at the template's timeout.
	hung := tmpl
	hung.Scripts.Create = `echo "pulling the image"; sleep 600`
	hung.ScriptTimeout = model.Duration{D: 2 * time.Second}
	hung.Version = 0
	if st := e.api("PUT", "/projects/"+p.ID+"/staging-template", hung, nil); st != 200 {
		t.Fatalf("set the hanging template: %d", st)
	}
	e.api("POST", "/stagings", wire.StagingRequest{ProjectID: p.ID, Name: "feature-d", Set: map[string]string{"app.tag": "d1"}}, &res)
	d = e.state(res.Staging.ID, model.StagingFailure)
	if d.Reason != model.FailureAction || !strings.Contains(d.Message, "ran longer than 2s") || !strings.Contains(d.Message, "pulling the image") {
		t.Errorf("the hung create: reason %s, message %q", d.Reason, d.Message)
	}

	// A project with stagings is not deleted from under them.
	var body wire.ErrorBody
	if st := e.api("DELETE", "/projects/"+p.ID, nil, &body); st != http.StatusConflict || !strings.Contains(body.Error, "staging") {
		t.Errorf("deleting a project with a staging: %d %q", st, body.Error)
	}
	if st := e.api("DELETE", "/stagings/"+res.Staging.ID, nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete the staging: %d", st)
	}
	if st := e.api("DELETE", "/projects/"+p.ID, nil, nil); st != http.StatusNoContent {
		t.Errorf("deleting the project once its staging is gone: %d", st)
	}
}

// CI's path: upsert creates, then updates, then restores an archived
// staging; Octopod's argument names reach scripts written for Octopod; the
// notify script hears each state change; a staging becomes a release whose
// packages take its tag.
func TestUpsertOctopodScriptsNotificationsAndPromotion(t *testing.T) {
	e := startStagings(t)
	state := t.TempDir()
	tmpl := stagingTemplate(state)
	tmpl.Arguments = model.ArgumentsOctopod
	// Octopod's scripts get --application-config; one written for Octopod
	// fails on anything else.
	tmpl.Scripts.Create = `case " $* " in *" --app-config "*) echo "not Octopod's arguments"; exit 9 ;; esac` + stagingArgs + stagingStart
	tmpl.Scripts.Notify = `echo "$*" >> "` + filepath.Join(state, "notifications") + `"`
	tmpl.BaseDomain, tmpl.Namespace = "staging.example.com", "shop-stagings"
	p := e.project("shop", tmpl)
	c, err := client.New(e.hs.URL, adminKey)
	if err != nil {
		t.Fatal(err)
	}
	pkg := archivetest.TarGz(t, tar.Header{Name: "index.html", Size: 3})
	if _, err := c.PushPackage(context.Background(), "shop.1.4.0.tar.gz", bytes.NewReader(pkg), int64(len(pkg)), client.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := e.api("PUT", "/projects/"+p.ID+"/process", model.DeploymentProcess{Steps: []model.Step{
		{Name: "Site", Package: &model.PackageAction{PackageID: "shop"}}}}, nil); st != 200 {
		t.Fatalf("set the process: %d", st)
	}

	upsert := func(tag string) wire.StagingResult {
		var res wire.StagingResult
		if st := e.api("POST", "/stagings/upsert", wire.StagingRequest{ProjectID: p.ID, Name: "main", Set: map[string]string{"app.tag": tag}}, &res); st != 202 {
			t.Fatalf("upsert %s: %d %+v", tag, st, res)
		}
		return res
	}
	first := upsert("1.3.0")
	if !first.Created {
		t.Error("the first upsert did not create")
	}
	e.state(first.Staging.ID, model.StagingRunning)
	if again := upsert("1.4.0"); again.Created || again.Staging.ID != first.Staging.ID {
		t.Errorf("the second upsert: %+v", again)
	}
	d := e.state(first.Staging.ID, model.StagingRunning)
	if body, _ := get(t, d.Links[0].URL); body != "tag 1.4.0" {
		t.Errorf("after the second upsert: %q", body)
	}
	e.api("POST", "/stagings/"+first.Staging.ID+"/archive", nil, nil)
	e.state(first.Staging.ID, model.StagingArchived)
	upsert("1.4.0")
	d = e.state(first.Staging.ID, model.StagingRunning)
	if d.Actions[0].Action != model.StagingRestore {
		t.Errorf("an upsert of an archived staging did %s, not restore", d.Actions[0].Action)
	}

	// Every change was told to the notify script, with the contract's
	// first arguments.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(state, "notifications"))
		n := string(b)
		if strings.Contains(n, "--old-status ArchivePending --new-status Archived") && strings.Contains(n, "--old-status CreatePending --new-status Running") {
			if !strings.Contains(n, "--project-name shop --base-domain staging.example.com --namespace shop-stagings --name main") {
				t.Errorf("notify's arguments: %s", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the notify script heard: %s", n)
		}
	}

	var rel wire.CreateReleaseResponse
	if st := e.api("POST", "/stagings/"+first.Staging.ID+"/promote", wire.PromoteStagingRequest{}, &rel); st != 201 {
		t.Fatalf("promote: %d", st)
	}
	if rel.Version != "1.4.0" || len(rel.Packages) != 1 || rel.Packages[0].Version != "1.4.0" || !strings.Contains(rel.Notes, "staging main") {
		t.Errorf("the promoted release: %+v", rel.Release)
	}
	var audit wire.Page[model.AuditEvent]
	e.api("GET", "/audit?take=100", nil, &audit)
	var said []string
	for _, ev := range audit.Items {
		said = append(said, ev.Actor+": "+ev.Summary)
	}
	for _, want := range []string{"admin: created staging main", "admin: updated staging main", "admin: archived staging main", "admin: promoted staging main to release 1.4.0"} {
		if !slices.Contains(said, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, strings.Join(said, "\n"))
		}
	}
}

// Whoever may act on stagings may stop a hung action; the staging then
// says it was canceled, and takes the next action.
func TestAStagingsActionCanBeCanceled(t *testing.T) {
	e := startStagings(t)
	tmpl := stagingTemplate(t.TempDir())
	tmpl.Scripts.Create = `echo "pulling the image"; sleep 600`
	tmpl.Scripts.ConfigCheck, tmpl.Scripts.Check = "", ""
	p := e.project("shop", tmpl)
	var res wire.StagingResult
	e.api("POST", "/stagings", wire.StagingRequest{ProjectID: p.ID, Name: "feature-e"}, &res)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var log wire.TaskLog
		e.api("GET", "/tasks/"+res.TaskID+"/log", nil, &log)
		if strings.Contains(fmt.Sprint(log.Lines), "pulling the image") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the create script never started")
		}
	}
	var task model.Task
	if st := e.api("POST", "/stagings/"+res.Staging.ID+"/cancel", nil, &task); st != 200 || task.ID != res.TaskID {
		t.Fatalf("cancel: %d %+v", st, task)
	}
	d := e.state(res.Staging.ID, model.StagingFailure)
	if !strings.Contains(d.Message, "canceled") {
		t.Errorf("after the cancel the staging says %q", d.Message)
	}
	var body wire.ErrorBody
	if st := e.api("POST", "/stagings/"+res.Staging.ID+"/cancel", nil, &body); st != http.StatusConflict || !strings.Contains(body.Error, "no action under way") {
		t.Errorf("a second cancel: %d %q", st, body.Error)
	}
	if st := e.api("POST", "/stagings/"+res.Staging.ID+"/archive", nil, nil); st != 202 {
		t.Errorf("archive after the cancel: %d", st)
	}
	e.state(res.Staging.ID, model.StagingArchived)
}

// A failed action stays on show even when what it left behind answers its
// check: the next successful action clears it.
func TestAFailedActionIsNotHiddenByAPassingCheck(t *testing.T) {
	e := startStagings(t)
	state := t.TempDir()
	tmpl := stagingTemplate(state)
	tmpl.Scripts.Create = stagingArgs + stagingStart + `echo "the migration failed"; exit 1`
	p := e.project("shop", tmpl)
	var res wire.StagingResult
	e.api("POST", "/stagings", wire.StagingRequest{ProjectID: p.ID, Name: "feature-f", Set: map[string]string{"tag": "f1"}}, &res)
	d := e.waitFor(res.Staging.ID, "checked while failed", func(d wire.StagingDetail) bool {
		return d.State == model.StagingFailure && d.LastCheckCode != nil && *d.LastCheckCode == 0
	})
	if d.Reason != model.FailureAction || !strings.Contains(d.Message, "the migration failed") {
		t.Errorf("the failed create: %s %q", d.Reason, d.Message)
	}
	e.api("POST", "/stagings/"+res.Staging.ID+"/update", wire.StagingRequest{Set: map[string]string{"tag": "f2"}}, nil)
	if d = e.state(res.Staging.ID, model.StagingRunning); d.Message != "" {
		t.Errorf("a successful update left the message %q", d.Message)
	}
	e.api("POST", "/stagings/"+res.Staging.ID+"/archive", nil, nil)
	e.state(res.Staging.ID, model.StagingArchived)
}

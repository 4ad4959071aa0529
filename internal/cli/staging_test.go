package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/runner"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
	"github.com/pulpo-deploy/pulpo/internal/server"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

func TestMain(m *testing.M) {
	// Scripts run under a supervisor: this test binary, started again.
	scriptsvc.RunIfSupervisor()
	// Package steps run the runner: this test binary too.
	runner.RunIfRunner("test")
	os.Exit(m.Run())
}

const testAdminKey = "API-CLITESTADMINKEY0123456"

// cliServer is an in-process server the CLI runs against.
type cliServer struct {
	t   *testing.T
	url string
	c   *client.Client
}

func startCLIServer(t *testing.T) *cliServer {
	t.Helper()
	n, err := server.New(context.Background(), server.Config{DataDir: t.TempDir(), AdminAPIKey: testAdminKey, NodeName: "test", Version: "test",
		StagingCheckTick: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(n.Handler())
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { hs.CloseClientConnections(); hs.Close(); n.Close() }) })
	c, err := client.New(hs.URL, testAdminKey)
	if err != nil {
		t.Fatal(err)
	}
	return &cliServer{t: t, url: hs.URL, c: c}
}

type cliResult struct {
	stdout, stderr string
	code           int
}

// pulpo runs the command line as a user would, against the server.
func (s *cliServer) pulpo(args ...string) cliResult {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := map[string]string{"PULPO_SERVER": s.url, "PULPO_API_KEY": testAdminKey}
	var stdout, stderr bytes.Buffer
	code := Execute(ctx, args, &stdout, &stderr, func(k string) string { return env[k] }, "test")
	return cliResult{stdout.String(), stderr.String(), code}
}

// ok runs the command line and fails the test unless it succeeds.
func (s *cliServer) ok(args ...string) string {
	s.t.Helper()
	r := s.pulpo(args...)
	if r.code != 0 {
		s.t.Fatalf("pulpo %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs the command line and fails the test unless it fails saying want.
func (s *cliServer) fails(want string, args ...string) cliResult {
	s.t.Helper()
	r := s.pulpo(args...)
	if r.code == 0 || !strings.Contains(r.stderr, want) {
		s.t.Fatalf("pulpo %s: exit %d, want a failure saying %q\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

func contains(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// The control scripts read the contract's arguments; "hold" in the state
// folder holds the update script back, a tag with "fail" fails create,
// one with "bad" is refused by config_check.
const cliStagingTemplate = `scripts:
  configCheck: |
    ARGS
    case "$TAG" in *bad*) echo "tag $TAG is not in the registry"; exit 1 ;; esac
  create: |
    ARGS
    echo "creating $NAME with tag $TAG and $REPLICAS replicas"
    case "$TAG" in *fail*) echo "the image $TAG does not start"; exit 3 ;; esac
  update: |
    ARGS
    while [ -e "$STATE/hold" ]; do sleep 0.02; done
    echo "updated $NAME to $TAG"
  archive: |
    ARGS
    echo "archived $NAME"
  cleanup: |
    ARGS
    echo "removed $NAME"
  info: |
    ARGS
    echo "web,https://$NAME.staging.example.test/"
defaults:
  app:
    tag: latest
  deployment:
    replicas: 1
    state: "@STATE@"
idleExpiry: 72h
archiveRetention: 336h
`

// cliStagingArgs reads the contract's arguments.
const cliStagingArgs = `while [ $# -gt 0 ]; do
      case "$1" in
        --name) NAME=$2 ;;
        --app-config) case "$2" in tag=*) TAG=${2#tag=} ;; esac ;;
        --deployment-config) case "$2" in state=*) STATE=${2#state=} ;; replicas=*) REPLICAS=${2#replicas=} ;; esac ;;
      esac
      shift 2
    done`

// Every staging command, run as a user would against a real server with
// real control scripts: template set/get, create, list, info, update,
// upsert, logs, keep, archive, restore, cleanup, delete, promote, and the
// errors the server gives.
func TestStagingCommandsAgainstAServer(t *testing.T) {
	s := startCLIServer(t)
	ctx := context.Background()
	p, err := s.c.CreateProject(ctx, model.Project{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Greet", Script: &model.ScriptAction{Body: "echo hi"}}}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	state := t.TempDir()

	// No template yet: both commands say what to do.
	s.fails("has no staging template yet", "staging", "template", "get", "-p", "web")
	s.fails("pulpo staging template set", "staging", "create", "feature-a", "-p", "web")

	file := filepath.Join(dir, "template.yaml")
	os.WriteFile(file, []byte(strings.NewReplacer("ARGS", cliStagingArgs, "@STATE@", state).Replace(cliStagingTemplate)), 0o644)
	contains(t, "template set", s.ok("staging", "template", "set", "-p", "web", "-f", file), "Set the staging template of web (version 1)")
	got := s.ok("staging", "template", "get", "--project", "web")
	contains(t, "template get", got, "  create: |\n", "idleExpiry: 72h0m0s\n", "    replicas: \"1\"\n", "version: 1\n")
	var asJSON model.StagingTemplate
	if err := json.Unmarshal([]byte(s.ok("staging", "template", "get", "-p", "web", "-o", "json")), &asJSON); err != nil || asJSON.IdleExpiry.D != 72*time.Hour {
		t.Errorf("template get -o json: %+v %v", asJSON, err)
	}
	// What get wrote, set takes back; once the template moved on, the
	// old version is refused unless forced.
	os.WriteFile(file, []byte(got), 0o644)
	s.ok("staging", "template", "set", "-p", "web", "-f", file)
	s.fails("changed since you read it", "staging", "template", "set", "-p", "web", "-f", file)
	contains(t, "template set --force", s.ok("staging", "template", "set", "-p", "web", "-f", file, "--force"), "(version 3)")
	os.WriteFile(file, []byte("scripts:\n  create: x\n"), 0o644)
	r := s.fails("scripts.update", "staging", "template", "set", "-p", "web", "-f", file)
	contains(t, "an invalid template's error", r.stderr, "\n  - ")

	// Create with --wait: the log follows, then where the staging is.
	out := s.ok("staging", "create", "feature-a", "--project", "web", "--set", "app.tag=ab12cd", "--set", "deployment.replicas=2", "--keep-until", "never", "--wait")
	contains(t, "create --wait", out, "Creating staging feature-a of web: task ", "creating feature-a with tag ab12cd and 2 replicas",
		"Task Tasks-", "Success", "Staging feature-a is Running", "web  https://feature-a.staging.example.test/")

	// A name already taken, a refused configuration, a bad name: the
	// server's words, details included.
	s.fails("already has a staging called feature-a", "staging", "create", "feature-a", "-p", "web")
	r = s.fails("config_check: tag bad-1 is not in the registry", "staging", "create", "feature-b", "-p", "web", "--set", "tag=bad-1")
	contains(t, "a refused configuration", r.stderr, "Error: ", "\n  - ")
	s.fails("naming rule", "staging", "create", "Feature_B", "-p", "web")
	s.fails(`--set takes KEY=VALUE, not "tag"`, "staging", "create", "feature-b", "-p", "web", "--set", "tag")
	s.fails("which project? give it with --project", "staging", "create", "feature-b")
	s.fails(`project web has no staging "nope"`, "staging", "info", "nope", "-p", "web")

	// A create script that fails: --wait exits non-zero; the staging says why.
	r = s.pulpo("staging", "create", "feature-f", "-p", "web", "--set", "tag=fail-1", "--wait")
	if r.code == 0 || !strings.Contains(r.stderr, "failed") || !strings.Contains(r.stdout, "the image fail-1 does not start") {
		t.Errorf("a failing create with --wait: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	out = s.ok("staging", "list", "-p", "web")
	contains(t, "list", out, "NAME", "PROJECT", "STATE", "LINKS", "UPDATED", "EXPIRES")
	var rowA, rowF string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "feature-a "):
			rowA = line
		case strings.HasPrefix(line, "feature-f "):
			rowF = line
		}
	}
	contains(t, "feature-a's row", rowA, " web ", " Running ", "https://feature-a.staging.example.test/", " never")
	contains(t, "feature-f's row", rowF, "Failure (ActionFailed)")
	var listed []model.Staging
	if err := json.Unmarshal([]byte(s.ok("staging", "list", "-o", "json")), &listed); err != nil || len(listed) != 2 {
		t.Errorf("list -o json: %v %+v", err, listed)
	}

	out = s.ok("staging", "info", "feature-a", "-p", "web")
	contains(t, "info", out, "State:", "Running", "Keep until: never", "Links:", "https://feature-a.staging.example.test/",
		"app.tag", "ab12cd", "override", "deployment.replicas", "deployment.state", "default",
		"History:", "create", "admin", "Success", "set app.tag, set deployment.replicas")

	// Update: set, remove a default; its log is the latest.
	out = s.ok("staging", "update", "feature-a", "-p", "web", "--set", "tag=ef34gh", "--unset", "deployment.replicas", "--wait")
	contains(t, "update --wait", out, "Updating staging feature-a of web", "updated feature-a to ef34gh", "Staging feature-a is Running")
	out = s.ok("staging", "info", "feature-a", "-p", "web")
	contains(t, "info after the update", out, "deployment.replicas  (removed)", "ef34gh")
	contains(t, "logs", s.ok("staging", "logs", "feature-a", "-p", "web"), "Action 2 of feature-a: update by admin", "updated feature-a to ef34gh")
	contains(t, "logs --action 1", s.ok("staging", "logs", "feature-a", "-p", "web", "--action", "1"), "Action 1 of feature-a: create", "creating feature-a with tag ab12cd")
	contains(t, "logs --action create", s.ok("staging", "logs", "feature-a", "-p", "web", "--action", "create"), "creating feature-a")
	s.fails("it has no action 7", "staging", "logs", "feature-a", "-p", "web", "--action", "7")

	// A staging busy with an action refuses another: a clear 409.
	os.WriteFile(filepath.Join(state, "hold"), nil, 0o644)
	out = s.ok("staging", "update", "feature-a", "-p", "web", "--set", "tag=gh56ij")
	contains(t, "update without --wait", out, "Updating staging feature-a of web: task ", "pulpo staging logs feature-a --project web --follow")
	r = s.fails("staging feature-a is busy", "staging", "archive", "feature-a", "-p", "web")
	contains(t, "the busy refusal", r.stderr, "Error: staging feature-a is busy: task Tasks-")
	os.Remove(filepath.Join(state, "hold"))
	contains(t, "logs --follow", s.ok("staging", "logs", "feature-a", "-p", "web", "--follow"), "updated feature-a to gh56ij", "Success")
	s.fails("staging feature-a has no action under way", "staging", "cancel", "feature-a", "-p", "web")

	// Upsert, by flag and by argument: created, then updated.
	out = s.ok("staging", "upsert", "-p", "web", "--name", "feature-c", "--set", "app.tag=c1", "--wait")
	contains(t, "upsert (new)", out, "Creating staging feature-c", "Staging feature-c is Running")
	out = s.ok("staging", "upsert", "feature-c", "-p", "web", "--set", "app.tag=c2", "--wait")
	contains(t, "upsert (existing)", out, "Updating staging feature-c", "updated feature-c to c2")
	// A second push while the first's update still runs: upsert --wait
	// waits for it, then updates, instead of failing the pipeline.
	os.WriteFile(filepath.Join(state, "hold"), nil, 0o644)
	s.ok("staging", "update", "feature-c", "-p", "web", "--set", "app.tag=c3")
	var stdout bytes.Buffer
	var stderr lockedBuffer
	done := make(chan int)
	go func() {
		env := map[string]string{"PULPO_SERVER": s.url, "PULPO_API_KEY": testAdminKey}
		done <- Execute(context.Background(), []string{"staging", "upsert", "feature-c", "-p", "web", "--set", "app.tag=c4", "--wait"},
			&stdout, &stderr, func(k string) string { return env[k] }, "test")
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), "is busy with task"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("upsert --wait did not wait for the busy staging:\n%s", stderr.String())
		}
	}
	os.Remove(filepath.Join(state, "hold"))
	if code := <-done; code != 0 {
		t.Fatalf("upsert --wait after waiting: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	contains(t, "upsert after waiting", stdout.String(), "updated feature-c to c4", "Staging feature-c is Running")
	s.fails("give the name once", "staging", "upsert", "feature-c", "--name", "feature-d", "-p", "web")
	s.fails("which staging?", "staging", "upsert", "-p", "web")

	// Keep.
	contains(t, "keep 72h", s.ok("staging", "keep", "feature-c", "-p", "web", "--until", "72h"), "Staging feature-c is kept until", "archived at")
	contains(t, "keep never", s.ok("staging", "keep", "feature-c", "-p", "web", "--until", "never"), "never archived for idleness")
	contains(t, "keep default", s.ok("staging", "keep", "feature-c", "-p", "web", "--until", "default"), "follows the template's idle expiry again")
	s.fails("is not a time", "staging", "keep", "feature-c", "-p", "web", "--until", "soon")

	// Archive, restore, archive, clean up: a staging's end.
	contains(t, "archive", s.ok("staging", "archive", "feature-c", "-p", "web", "--wait"), "archived feature-c", "Staging feature-c is Archived")
	out = s.ok("staging", "list", "-p", "web", "--archived=false")
	if strings.Contains(out, "feature-c") || !strings.Contains(out, "feature-a") {
		t.Errorf("list --archived=false:\n%s", out)
	}
	contains(t, "list with archived", s.ok("staging", "list", "-p", "web"), "feature-c", "cleanup ")
	s.fails("only archived stagings are cleaned up", "staging", "cleanup", "feature-a", "-p", "web")
	contains(t, "restore", s.ok("staging", "restore", "feature-c", "-p", "web", "--wait"), "Restoring staging feature-c", "creating feature-c with tag c4", "is Running")
	s.ok("staging", "archive", "feature-c", "-p", "web", "--wait")
	contains(t, "cleanup", s.ok("staging", "cleanup", "feature-c", "-p", "web", "--wait"), "removed feature-c", "Staging feature-c is gone")

	// Upsert of an archived staging restores it.
	s.ok("staging", "archive", "feature-a", "-p", "web", "--wait")
	contains(t, "upsert (archived)", s.ok("staging", "upsert", "feature-a", "-p", "web", "--set", "tag=k1", "--wait"), "Restoring staging feature-a", "is Running")

	// Delete forgets without a script.
	contains(t, "delete", s.ok("staging", "delete", "feature-f", "-p", "web"), "Deleted staging feature-f of web")
	if out := s.ok("staging", "list", "-p", "web"); strings.Contains(out, "feature-f") {
		t.Errorf("the deleted staging is still listed:\n%s", out)
	}

	// Promote: the tag is the release's version unless given.
	out = s.ok("staging", "promote", "feature-a", "-p", "web", "--version", "1.0.0", "--notes", "login page")
	contains(t, "promote", out, "Promoted staging feature-a to release 1.0.0 of web")
	rel, err := s.c.FindRelease(ctx, p.ID, "1.0.0")
	if err != nil || !strings.Contains(rel.Notes, "Promoted from staging feature-a (app.tag=k1)") {
		t.Errorf("the promoted release: %+v %v", rel, err)
	}

	// --wait with -o json: the queued result, the log's events, the staging.
	out = s.ok("staging", "update", "feature-a", "-p", "web", "--set", "tag=j1", "--wait", "-o", "json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var first, last map[string]json.RawMessage
	if json.Unmarshal([]byte(lines[0]), &first) != nil || json.Unmarshal([]byte(lines[len(lines)-1]), &last) != nil ||
		string(first["event"]) != `"queued"` || string(last["event"]) != `"staging"` {
		t.Errorf("update --wait -o json:\n%s", out)
	}
	var final wire.StagingDetail
	if err := json.Unmarshal(last["staging"], &final); err != nil || final.Effective.App["tag"] != "j1" {
		t.Errorf("the final staging: %+v %v", final, err)
	}
}

// lockedBuffer is a buffer one goroutine writes while another reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

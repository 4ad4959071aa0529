// Package e2e drives the real pulpo binary: a server process on a free port
// and the CLI, as a user or a CI job would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/testutil/pgtest"
)

var (
	pg     pgtest.Shared
	binary string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pulpo-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "pulpo")
	build := exec.Command("go", "build", "-o", binary, "../cmd/pulpo")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build pulpo:", err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

const apiKey = "API-E2ETESTKEY0123456789ABCD"

// server is a running pulpo server process.
type server struct {
	t        *testing.T
	url      string
	data     string // its data folder: --data, else ./pulpo-data where it started
	database string
	cmd      *exec.Cmd
	out      *lockedBuffer
	port     int
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startServer(t *testing.T, data, databaseURL string, port int, extra ...string) *server {
	t.Helper()
	if len(extra) == 0 {
		// Each test server gets its own polling port, so servers never collide.
		extra = []string{"--polling-listen", fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	}
	return launch(t, data, databaseURL, port, nil, append([]string{"--admin-api-key", apiKey}, extra...)...)
}

// launch starts "pulpo server --listen" on port with args, in the working
// directory dir, with env added to the test's own environment, and waits
// until it is ready. Without --data the server keeps everything in dir's
// ./pulpo-data, as with the README's first command.
func launch(t *testing.T, dir, databaseURL string, port int, env []string, args ...string) *server {
	t.Helper()
	data := "pulpo-data"
	for i, arg := range args {
		if arg == "--data" && i+1 < len(args) {
			data = args[i+1]
		} else if v, ok := strings.CutPrefix(arg, "--data="); ok {
			data = v
		}
	}
	if !filepath.IsAbs(data) {
		data = filepath.Join(dir, data)
	}
	s := &server{t: t, data: data, database: databaseURL, port: port, url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	args = append([]string{"server", "--listen", fmt.Sprintf("127.0.0.1:%d", port)}, args...)
	if databaseURL != "" {
		args = append(args, "--database-url", databaseURL)
	}
	s.cmd = exec.Command(binary, args...)
	if env != nil {
		s.cmd.Env = append(os.Environ(), env...)
	}
	s.cmd.Dir = dir
	s.out = &lockedBuffer{}
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become ready:\n%s", s.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends the server the hard way: no shutdown, no cleanup.
func (s *server) kill() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(syscall.SIGKILL)
		s.cmd.Wait()
	}
}

type result struct {
	stdout, stderr string
	code           int
}

// pulpo runs the CLI against the server.
func (s *server) pulpo(args ...string) result {
	s.t.Helper()
	return s.pulpoWith([]string{"PULPO_SERVER=" + s.url, "PULPO_API_KEY=" + apiKey}, args...)
}

// pulpoWith runs the CLI with env added to the test's own environment; a
// variable given there wins over the same one inherited.
func (s *server) pulpoWith(env []string, args ...string) result {
	s.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			s.t.Fatal(err)
		}
		return result{stdout.String(), stderr.String(), code}
	case <-ctx.Done():
		cmd.Process.Kill()
		s.t.Fatalf("pulpo %v did not finish:\n%s\n%s", args, stdout.String(), stderr.String())
	}
	return result{}
}

// ok runs the CLI and fails the test unless it succeeds.
func (s *server) ok(args ...string) string {
	s.t.Helper()
	r := s.pulpo(args...)
	if r.code != 0 {
		s.t.Fatalf("pulpo %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// okJSON runs the CLI with -o json and decodes its output.
func (s *server) okJSON(v any, args ...string) {
	s.t.Helper()
	out := s.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		s.t.Fatalf("pulpo %v printed no JSON: %v\n%s", args, err, out)
	}
}

const config = `environments:
  - name: Dev
  - name: Test
  - name: Production
lifecycles:
  - name: Standard
    phases:
      - name: Pre-production
        manualEnvironments: [Dev, Test]
      - name: Production
        manualEnvironments: [Production]
projects:
  - name: hello
    lifecycle: Standard
    steps:
      - name: Greet
        script:
          syntax: bash
          body: |
            echo "Greeting is #{Greeting} in #{Octopus.Environment.Name}"
    variables:
      - name: Greeting
        value: hello world
      - name: Greeting
        value: hello dev
        environments: [Dev]
      - name: Greeting
        value: hello test
        environments: [Test]
  - name: broken
    lifecycle: Standard
    steps:
      - name: Fail
        script:
          syntax: sh
          body: |
            echo about to fail
            exit 3
  - name: sleeper
    lifecycle: Standard
    steps:
      - name: Sleep
        script:
          syntax: bash
          body: |
            echo "pid $$"
            sleep 300
`

// firstStartBanner opens what a first start prints once: the
// administrator's login and API key.
const firstStartBanner = "First start: created the administrator."

type deployment struct {
	ID     string `json:"id"`
	TaskID string `json:"taskId"`
}

func TestEndToEnd(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			database := ""
			if dialect == "postgres" {
				database = pg.Database(t)
			}
			endToEnd(t, database)
		})
	}
}

func endToEnd(t *testing.T, database string) {
	// The first start is told where its data goes (--data, away from its
	// working directory) and takes the admin key from the environment, as
	// automation does; the restart below finds the same folder as the
	// default ./pulpo-data of its own working directory.
	root, elsewhere := t.TempDir(), t.TempDir()
	data := filepath.Join(root, "pulpo-data")
	port := freePort(t)
	s := launch(t, elsewhere, database, port, []string{"PULPO_ADMIN_API_KEY=" + apiKey},
		"--data", data, "--polling-listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if out := s.out.String(); !strings.Contains(out, firstStartBanner) || !strings.Contains(out, "API key:  "+apiKey) {
		t.Fatalf("the first start should print the credentials once, with the key from PULPO_ADMIN_API_KEY:\n%s", out)
	}
	landed := []string{"master.key", "server.lock"}
	if database == "" {
		landed = append(landed, "pulpo.db")
	}
	for _, name := range landed {
		if _, err := os.Stat(filepath.Join(data, name)); err != nil {
			t.Errorf("--data %s: %v", data, err)
		}
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "pulpo-data")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("given --data, the server still made ./pulpo-data in its working directory (%v)", err)
	}
	file := filepath.Join(t.TempDir(), "pulpo.yaml")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	// Apply is idempotent.
	first := s.ok("apply", "-f", file)
	if !strings.Contains(first, "created   environment Dev") || !strings.Contains(first, "created   project hello") {
		t.Fatalf("first apply:\n%s", first)
	}
	second := s.ok("apply", "-f", file)
	if strings.Contains(second, "created") || strings.Contains(second, "updated") || !strings.Contains(second, "Applied 0 changes") {
		t.Fatalf("second apply should change nothing:\n%s", second)
	}

	// Release 1.0.0 to Dev, watched to success.
	s.ok("release", "create", "--project", "hello", "--version", "1.0.0", "--notes", "first")
	var dev deployment
	s.okJSON(&dev, "release", "deploy", "--project", "hello", "--version", "1.0.0", "--environment", "Dev")
	watched := s.ok("task", "watch", dev.TaskID)
	if !strings.Contains(watched, "Greeting is hello dev in Dev") || !strings.Contains(watched, "Success") {
		t.Fatalf("watch Dev:\n%s", watched)
	}
	if log := s.ok("task", "log", dev.TaskID); !strings.Contains(log, "Greeting is hello dev in Dev") {
		t.Fatalf("task log:\n%s", log)
	}

	// Production must wait for Test, and the refusal says so.
	refused := s.pulpo("release", "deploy", "--project", "hello", "--version", "1.0.0", "--environment", "Production")
	if refused.code == 0 || !strings.Contains(refused.stderr, `phase "Pre-production" must be complete first`) || !strings.Contains(refused.stderr, "still missing: Test") {
		t.Fatalf("deploying to Production early should be refused with the reason; exit %d\n%s", refused.code, refused.stderr)
	}

	testRun := s.ok("release", "deploy", "--project", "hello", "--version", "1.0.0", "--environment", "Test", "--watch")
	if !strings.Contains(testRun, "Greeting is hello test in Test") {
		t.Fatalf("deploy to Test:\n%s", testRun)
	}

	// A failing script fails its task, with the exit code in the log.
	s.ok("release", "create", "--project", "broken", "--version", "0.1.0")
	failed := s.pulpo("release", "deploy", "--project", "broken", "--version", "0.1.0", "--environment", "Dev", "--watch")
	if failed.code == 0 || !strings.Contains(failed.stdout, "exit code 3") || !strings.Contains(failed.stderr, "failed") {
		t.Fatalf("a failing script should fail the task; exit %d\n%s\n%s", failed.code, failed.stdout, failed.stderr)
	}

	// A canceled task stops its script: the process is gone.
	s.ok("release", "create", "--project", "sleeper", "--version", "0.1.0")
	var sleeping deployment
	s.okJSON(&sleeping, "release", "deploy", "--project", "sleeper", "--version", "0.1.0", "--environment", "Dev")
	pid := waitForPID(t, s, sleeping.TaskID)
	s.ok("task", "cancel", sleeping.TaskID)
	canceled := s.pulpo("task", "watch", sleeping.TaskID)
	if canceled.code == 0 || !strings.Contains(canceled.stderr, "canceled") {
		t.Fatalf("watching a canceled task should fail; exit %d\n%s\n%s", canceled.code, canceled.stdout, canceled.stderr)
	}
	waitGone(t, pid)

	// The server dies (kill -9) and comes back on the same data: its
	// default ./pulpo-data, started in the folder that holds it. Only a
	// first start shows credentials.
	s.kill()
	s = startServer(t, root, database, port)
	if out := s.out.String(); strings.Contains(out, firstStartBanner) {
		t.Fatalf("the restart printed the first start's credentials again:\n%s", out)
	}
	var envs []struct{ Name string }
	s.okJSON(&envs, "environment", "list")
	if len(envs) != 3 || envs[0].Name != "Dev" || envs[2].Name != "Production" {
		t.Fatalf("environments after restart: %+v", envs)
	}
	var releases struct {
		Items []struct{ Version, Notes string }
	}
	s.okJSON(&releases, "release", "list", "--project", "hello")
	if len(releases.Items) != 1 || releases.Items[0].Version != "1.0.0" || releases.Items[0].Notes != "first" {
		t.Fatalf("releases after restart: %+v", releases)
	}
	var tasks struct {
		Items []struct{ ID, State string }
	}
	s.okJSON(&tasks, "task", "list", "--project", "hello")
	if len(tasks.Items) != 2 || tasks.Items[0].State != "Success" || tasks.Items[1].State != "Success" {
		t.Fatalf("tasks after restart: %+v", tasks)
	}
	if log := s.ok("task", "log", dev.TaskID); !strings.Contains(log, "Greeting is hello dev in Dev") {
		t.Fatalf("log after restart:\n%s", log)
	}
	// The lifecycle remembers: Test succeeded, so Production is open now.
	prod := s.ok("release", "deploy", "--project", "hello", "--version", "1.0.0", "--environment", "Production", "--watch")
	if !strings.Contains(prod, "Greeting is hello world in Production") {
		t.Fatalf("deploy to Production:\n%s", prod)
	}
}

func waitForPID(t *testing.T, s *server, taskID string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(s.ok("task", "log", taskID), "\n") {
			if i := strings.Index(line, "pid "); i >= 0 {
				if pid, err := strconv.Atoi(strings.TrimSpace(line[i+4:])); err == nil {
					return pid
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the script never printed its pid")
	return 0
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("script process %d is still running after its task was canceled", pid)
}

// TestImperativeCommands builds the same kind of setup one command at a
// time, as someone trying Pulpo by hand would, and reads it back. Each
// command that creates something prints it as JSON with -o json (or
// --output json), for scripts; otherwise a line for people.
func TestImperativeCommands(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	type named struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if out := s.ok("environment", "create", "Dev"); !strings.Contains(out, "Created environment Dev (Environments-") {
		t.Fatalf("environment create:\n%s", out)
	}
	var test, prod named
	decode(t, s.ok("environment", "create", "Test", "--output", "json"), &test)
	s.okJSON(&prod, "environment", "create", "Production")
	for _, e := range []struct {
		got  named
		want string
	}{{test, "Test"}, {prod, "Production"}} {
		if e.got.Name != e.want || !strings.HasPrefix(e.got.ID, "Environments-") {
			t.Fatalf("environment create -o json: %+v, want %s with its id", e.got, e.want)
		}
	}

	var fast struct {
		named
		Phases []struct {
			Name                               string   `json:"name"`
			AutomaticEnvironments              []string `json:"automaticEnvironments"`
			ManualEnvironments                 []string `json:"manualEnvironments"`
			MinimumEnvironmentsBeforePromotion int      `json:"minimumEnvironmentsBeforePromotion"`
		} `json:"phases"`
	}
	s.okJSON(&fast, "lifecycle", "create", "Fast", "--phase", "Early: Dev(auto), Test; min=1", "--phase", "Production: Production")
	if fast.Name != "Fast" || !strings.HasPrefix(fast.ID, "Lifecycles-") || len(fast.Phases) != 2 ||
		len(fast.Phases[0].AutomaticEnvironments) != 1 || !slices.Equal(fast.Phases[0].ManualEnvironments, []string{test.ID}) ||
		fast.Phases[0].MinimumEnvironmentsBeforePromotion != 1 || !slices.Equal(fast.Phases[1].ManualEnvironments, []string{prod.ID}) {
		t.Fatalf("lifecycle create -o json: %+v", fast)
	}

	var web struct {
		named
		LifecycleID string `json:"lifecycleId"`
	}
	s.okJSON(&web, "project", "create", "web", "--lifecycle", "Fast")
	if web.Name != "web" || !strings.HasPrefix(web.ID, "Projects-") || web.LifecycleID != fast.ID {
		t.Fatalf("project create -o json: %+v, want web in lifecycle %s", web, fast.ID)
	}

	var process struct {
		ProjectID string `json:"projectId"`
		Steps     []struct {
			named
			Script struct{ Body string } `json:"script"`
		} `json:"steps"`
	}
	s.okJSON(&process, "process", "step", "add", "-p", "web", "--name", "Hello", "--script", `echo "hi #{Who}"`)
	if process.ProjectID != web.ID || len(process.Steps) != 1 || process.Steps[0].Name != "Hello" || process.Steps[0].ID == "" ||
		process.Steps[0].Script.Body != `echo "hi #{Who}"` {
		t.Fatalf("process step add -o json: %+v", process)
	}

	var set string
	s.okJSON(&set, "variable", "set", "-p", "web", "Who", "everyone")
	if set != "Who" {
		t.Fatalf("variable set -o json printed %q, want the variable's name", set)
	}
	// The server and key may come from flags alone: here the environment
	// has neither, and without the flags the command says what is missing.
	noEnv := []string{"PULPO_SERVER=", "PULPO_API_KEY="}
	devOnly := []string{"variable", "set", "-p", "web", "Who", "developers", "--environment", "Dev"}
	if r := s.pulpoWith(noEnv, devOnly...); r.code == 0 || !strings.Contains(r.stderr, "no API key given") {
		t.Fatalf("without a key in flags or environment: exit %d\n%s", r.code, r.stderr)
	}
	if r := s.pulpoWith(noEnv, append(devOnly, "--server", s.url, "--api-key", apiKey)...); r.code != 0 || !strings.Contains(r.stdout, "Set Who in project web") {
		t.Fatalf("variable set with --server and --api-key: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// The Dev phase is automatic: creating the release deploys it there.
	created := s.ok("release", "create", "-p", "web", "--version", "2.0.0")
	if !strings.Contains(created, "The lifecycle deploys it to Dev by itself") {
		t.Fatalf("release create:\n%s", created)
	}
	var deployments struct {
		Items []struct{ TaskID string }
	}
	s.okJSON(&deployments, "deployment", "list", "-p", "web")
	if len(deployments.Items) != 1 {
		t.Fatalf("deployments: %+v", deployments)
	}
	if out := s.ok("task", "watch", deployments.Items[0].TaskID); !strings.Contains(out, "hi developers") {
		t.Fatalf("automatic Dev deployment:\n%s", out)
	}
	// min=1: Dev alone completes the phase, so Production is open.
	if out := s.ok("release", "show", "-p", "web", "2.0.0"); !strings.Contains(out, "Production") || strings.Contains(out, "no: ") {
		t.Fatalf("release show should allow every environment now:\n%s", out)
	}

	s.ok("variable", "delete", "-p", "web", "Who", "--environment", "Dev")
	s.ok("process", "step", "add", "-p", "web", "--name", "Bye", "--syntax", "sh", "--script", "echo bye")
	s.ok("process", "step", "remove", "-p", "web", "Hello")
	exported := s.ok("export")
	for _, want := range []string{"automaticEnvironments: [Dev]", "minimumEnvironmentsBeforePromotion: 1", "name: Bye", "value: everyone"} {
		if !strings.Contains(exported, want) {
			t.Errorf("export lacks %q:\n%s", want, exported)
		}
	}
	if strings.Contains(exported, "developers") || strings.Contains(exported, "Hello") {
		t.Errorf("export still has what was deleted:\n%s", exported)
	}
	// Bad input at the CLI gets a message, not a stack trace.
	bad := s.pulpo("release", "deploy", "-p", "web", "--version", "2.0.0", "--environment", "Staging")
	if bad.code == 0 || !strings.Contains(bad.stderr, `environment "Staging" was not found`) {
		t.Fatalf("deploy to an unknown environment: exit %d\n%s", bad.code, bad.stderr)
	}

	// A release made with -o json snapshots the process as it is now, and
	// goes to Dev by itself as the first did.
	var rel struct {
		ID              string `json:"id"`
		ProjectID       string `json:"projectId"`
		Version         string `json:"version"`
		ProcessSnapshot struct {
			Steps []named `json:"steps"`
		} `json:"processSnapshot"`
	}
	s.okJSON(&rel, "release", "create", "-p", "web", "--version", "2.1.0")
	if !strings.HasPrefix(rel.ID, "Releases-") || rel.ProjectID != web.ID || rel.Version != "2.1.0" ||
		len(rel.ProcessSnapshot.Steps) != 1 || rel.ProcessSnapshot.Steps[0].Name != "Bye" {
		t.Fatalf("release create -o json: %+v", rel)
	}
	var latest struct {
		Items []struct {
			ReleaseID string `json:"releaseId"`
			TaskID    string `json:"taskId"`
		}
	}
	s.okJSON(&latest, "deployment", "list", "-p", "web")
	if len(latest.Items) != 2 || latest.Items[0].ReleaseID != rel.ID {
		t.Fatalf("deployments after release 2.1.0: %+v", latest)
	}
	if out := s.ok("task", "watch", latest.Items[0].TaskID); !strings.Contains(out, "bye") {
		t.Fatalf("automatic Dev deployment of 2.1.0:\n%s", out)
	}
}

// decode reads the JSON a command printed.
func decode(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
}

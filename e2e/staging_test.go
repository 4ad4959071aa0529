package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// The control scripts: each staging is a real HTTP server (python3) on a
// free port, serving its tag; its files live under the deployment setting
// "state".
const stagingTemplateYAML = `scripts:
  configCheck: |
    #{Staging.Args}
    [ -n "$TAG" ] || { echo "app.tag is required: the image tag to run"; exit 1; }
  create: |
    #{Staging.Args}
    #{Staging.Start}
  restore: |
    #{Staging.Args}
    #{Staging.Start}
  update: |
    #{Staging.Args}
    echo "tag $TAG" > "$DIR/www/index.html"
    echo "updated $NAME to $TAG on $(hostname)"
  info: |
    #{Staging.Args}
    echo "web,http://127.0.0.1:$(cat "$DIR/port")/"
  check: |
    #{Staging.Args}
    [ "$(curl -fsS "http://127.0.0.1:$(cat "$DIR/port")/")" = "tag $TAG" ] || exit 3
  archive: |
    #{Staging.Args}
    kill "$(cat "$DIR/pid")"
  archiveCheck: |
    #{Staging.Args}
    ! curl -fsS "http://127.0.0.1:$(cat "$DIR/port")/" >/dev/null 2>&1
  cleanup: |
    #{Staging.Args}
    rm -rf "$DIR"; echo "removed $NAME"
defaults:
  deployment: {state: STATE}
checkInterval: 1s
workerPoolId: POOL
`

// What every script shares is spliced in before the file is written.
const stagingParse = `while [ $# -gt 0 ]; do
      case "$1" in
        --name) NAME=$2 ;;
        --app-config) case "$2" in tag=*) TAG=${2#tag=} ;; esac ;;
        --deployment-config) case "$2" in state=*) STATE=${2#state=} ;; esac ;;
      esac
      shift 2
    done
    DIR="$STATE/$NAME"`

const stagingStartShell = `mkdir -p "$DIR/www"
    echo "tag $TAG" > "$DIR/www/index.html"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "$PORT" > "$DIR/port"
    setsid python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$DIR/www" >"$DIR/server.log" 2>&1 < /dev/null &
    echo $! > "$DIR/pid"
    for i in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && break; sleep 0.05; done
    echo "started $NAME on port $PORT"`

func fetchPage(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

// A developer's staging from the command line, made by control scripts
// that run on a polling agent in the template's worker pool (not in the
// server): upsert creates it and its URL answers; upsert again updates it;
// archive stops it; cleanup removes it.
func TestAStagingFromTheCommandLineOnAWorker(t *testing.T) {
	for _, tool := range []string{"curl", "python3", "setsid"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("the control scripts need %s: %v", tool, err)
			}
			t.Skipf("the control scripts need %s", tool)
		}
	}
	s := startServer(t, t.TempDir(), "", freePort(t))
	state := t.TempDir()
	t.Cleanup(func() { // a failed run leaves no server behind
		pids, _ := filepath.Glob(filepath.Join(state, "*", "pid"))
		for _, f := range pids {
			b, _ := os.ReadFile(f)
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	s.ok("worker-pool", "create", "Staging workers")
	var pools []model.WorkerPool
	s.okJSON(&pools, "worker-pool", "list")
	poolID := ""
	for _, p := range pools {
		if p.Name == "Staging workers" {
			poolID = p.ID
		}
	}
	if poolID == "" {
		t.Fatalf("no pool in %+v", pools)
	}
	addPollingAgent(t, s, "stager", "--worker-pool", "Staging workers")
	applyText(t, s, "projects:\n  - name: shop\n")

	tmpl := strings.NewReplacer("#{Staging.Args}", stagingParse, "#{Staging.Start}", stagingStartShell, "STATE", state, "POOL", poolID).Replace(stagingTemplateYAML)
	file := filepath.Join(t.TempDir(), "staging.yaml")
	os.WriteFile(file, []byte(tmpl), 0o644)
	s.ok("staging", "template", "set", "--project", "shop", "-f", file)

	// config_check's words come back as the error.
	r := s.pulpo("staging", "upsert", "--project", "shop", "--name", "feature-x", "--wait")
	if r.code == 0 || !strings.Contains(r.stderr, "app.tag is required") {
		t.Fatalf("an upsert without a tag: exit %d\n%s", r.code, r.stderr)
	}

	out := s.ok("staging", "upsert", "--project", "shop", "--name", "feature-x", "--set", "app.tag=ab12cd", "--wait")
	if !strings.Contains(out, "stager") || !strings.Contains(out, "started feature-x on port") {
		t.Errorf("the create did not run on the pool's worker:\n%s", out)
	}
	url := waitRunning(t, s, "feature-x")
	if body, err := fetchPage(url); err != nil || body != "tag ab12cd" {
		t.Fatalf("the staging's URL: %q %v", body, err)
	}

	out = s.ok("staging", "upsert", "--project", "shop", "--name", "feature-x", "--set", "app.tag=ef34gh", "--wait")
	if !strings.Contains(out, "updated feature-x to ef34gh") {
		t.Errorf("the second upsert:\n%s", out)
	}
	waitRunning(t, s, "feature-x")
	if body, _ := fetchPage(url); body != "tag ef34gh" {
		t.Errorf("after the update the URL says %q", body)
	}

	s.ok("staging", "archive", "feature-x", "--project", "shop", "--wait")
	waitState(t, s, "feature-x", "Archived")
	if _, err := fetchPage(url); err == nil {
		t.Error("the archived staging still answers")
	}
	out = s.ok("staging", "cleanup", "feature-x", "--project", "shop", "--wait")
	if !strings.Contains(out, "removed feature-x") {
		t.Errorf("cleanup:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(state, "feature-x")); !os.IsNotExist(err) {
		t.Errorf("cleanup left the staging's files: %v", err)
	}
	if list := s.ok("staging", "list", "--project", "shop"); strings.Contains(list, "feature-x") {
		t.Errorf("the cleaned-up staging is still listed:\n%s", list)
	}
}

// waitState waits for a staging to reach a state, and returns `info`.
func waitState(t *testing.T, s *server, name, state string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^State:\s+` + state + `\b`)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		info := s.ok("staging", "info", name, "--project", "shop")
		if re.MatchString(info) {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("staging %s never became %s:\n%s", name, state, info)
		}
	}
}

// waitRunning waits for check to say the staging is up and returns its link.
func waitRunning(t *testing.T, s *server, name string) string {
	t.Helper()
	info := waitState(t, s, name, "Running")
	m := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(info)
	if m == "" {
		t.Fatalf("no link in:\n%s", info)
	}
	return m
}

// A server killed (kill -9) while a staging's create script runs on a
// worker: the script finishes while the server is down; the restarted
// server re-attaches to it, so it ran once, every line is logged once,
// and the staging ends Running.
func TestAServerKilledMidStagingCreateFinishesItAfterRestart(t *testing.T) {
	data, port := t.TempDir(), freePort(t)
	pollingPort := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := startServer(t, data, "", port, "--polling-listen", pollingPort)
	dir := t.TempDir()
	counter, gate := filepath.Join(dir, "starts"), filepath.Join(dir, "gate")
	s.ok("worker-pool", "create", "Staging workers")
	var pools []model.WorkerPool
	s.okJSON(&pools, "worker-pool", "list")
	poolID := ""
	for _, p := range pools {
		if p.Name == "Staging workers" {
			poolID = p.ID
		}
	}
	addListeningAgent(t, s, "stager", "--worker-pool", "Staging workers")
	applyText(t, s, "projects:\n  - name: shop\n")
	tmpl := fmt.Sprintf(`scripts:
  create: |
    echo started >> %q
    for i in $(seq 1 20); do echo "line $i"; done
    while [ ! -e %q ]; do sleep 0.05; done
    for i in $(seq 21 40); do echo "line $i"; done
  update: "true"
  archive: "true"
  cleanup: "true"
workerPoolId: %s
`, counter, gate, poolID)
	file := filepath.Join(dir, "staging.yaml")
	os.WriteFile(file, []byte(tmpl), 0o644)
	s.ok("staging", "template", "set", "--project", "shop", "-f", file)
	var res struct {
		TaskID string `json:"taskId"`
	}
	s.okJSON(&res, "staging", "create", "feature-k", "--project", "shop")
	if res.TaskID == "" {
		t.Fatal("create printed no task")
	}
	s.waitLog(res.TaskID, "line 20")

	s.kill()
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, data, "", port, "--polling-listen", pollingPort)
	if r := s.pulpo("task", "watch", res.TaskID); r.code != 0 {
		t.Fatalf("the create did not finish after the restart: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	checkRanOnce(t, s, res.TaskID, counter)
	waitState(t, s, "feature-k", "Running")
}

//go:build octopuscli

// The real `octopus` CLI (OctopusDeploy/cli) against a real Pulpo. It is
// not in the Go module proxy, Debian or npm, so CI cannot fetch it and this
// test is opt-in: build the CLI from its source, then
//
//	PULPO_OCTOPUS_CLI=/path/to/octopus go test -tags octopuscli ./e2e -run OctopusCLI
//
// The flows it runs are also proven in every CI run through the Go client
// library the CLI is built on (internal/server/octopus_test.go).

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// octopusCLI runs Octopus's CLI as a CI job would: non-interactive, with
// OCTOPUS_URL, OCTOPUS_API_KEY and OCTOPUS_SPACE.
type octopusCLI struct {
	t    *testing.T
	path string
	env  []string
}

func (o octopusCLI) run(stdin string, args ...string) (string, error) {
	o.t.Helper()
	cmd := exec.Command(o.path, append(args, "--no-prompt")...)
	cmd.Env = o.env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (o octopusCLI) ok(args ...string) string {
	o.t.Helper()
	out, err := o.run("", args...)
	if err != nil {
		o.t.Fatalf("octopus %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestOctopusCLIAgainstPulpo(t *testing.T) {
	path := os.Getenv("PULPO_OCTOPUS_CLI")
	if path == "" {
		t.Fatal("set PULPO_OCTOPUS_CLI to an octopus binary built from OctopusDeploy/cli")
	}
	s := startServer(t, t.TempDir(), "", freePort(t))
	o := octopusCLI{t: t, path: path, env: append(os.Environ(), "OCTOPUS_URL="+s.url, "OCTOPUS_API_KEY="+apiKey,
		"OCTOPUS_SPACE=Default", "CI=true", "NO_COLOR=1", "HOME="+t.TempDir())}

	if out := o.ok("login", "--server", s.url, "--api-key", apiKey); !strings.Contains(out, "Login successful") {
		t.Fatalf("login: %s", out)
	}
	for _, name := range []string{"Dev", "Test"} {
		if out := o.ok("environment", "create", "--name", name); !strings.Contains(out, "Successfully created environment '"+name+"'") {
			t.Fatalf("environment create: %s", out)
		}
	}
	var envs []struct{ Id, Name string }
	if err := json.Unmarshal([]byte(o.ok("environment", "list", "-f", "json")), &envs); err != nil || len(envs) != 2 || envs[1].Name != "Test" {
		t.Fatalf("environment list: %+v %v", envs, err)
	}
	if out := o.ok("project", "create", "--name", "Web App", "--lifecycle", "Default Lifecycle", "--group", "Default Project Group"); !strings.Contains(out, "(web-app)") {
		t.Fatalf("project create: %s", out)
	}
	if out := o.ok("project", "list"); !strings.Contains(out, "Web App") {
		t.Fatalf("project list: %s", out)
	}
	// The process is Pulpo's own: a package step on the built-in worker.
	s.ok("process", "step", "add", "-p", "Web App", "--name", "Install", "--package", "webapp", "--on-server")

	pkg := filepath.Join(t.TempDir(), "webapp.1.0.0.tar.gz")
	if err := os.WriteFile(pkg, deployScriptPackage(t, `echo "deployed $(get_octopusvariable Octopus.Release.Number) to $(get_octopusvariable Octopus.Environment.Name)"`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := o.ok("package", "upload", "--package", pkg); !strings.Contains(out, "Uploaded package") {
		t.Fatalf("package upload: %s", out)
	}
	if out, err := o.run("", "package", "upload", "--package", pkg); err == nil || !strings.Contains(out, "already in the feed") {
		t.Fatalf("the same package again: %v %s", err, out)
	}
	if out := o.ok("package", "upload", "--package", pkg, "--overwrite-mode", "ignore"); !strings.Contains(out, "Ignored existing package") {
		t.Fatalf("package upload, ignore: %s", out)
	}
	if out := o.ok("release", "create", "--project", "Web App", "--version", "1.0.0", "--package-version", "1.0.0"); !strings.Contains(out, "Successfully created release version 1.0.0 using channel Default") {
		t.Fatalf("release create: %s", out)
	}

	// Deploy in lifecycle order, piping the task ids to task wait as
	// Octopus's documentation shows.
	ids := o.ok("release", "deploy", "--project", "Web App", "--version", "1.0.0", "--environment", "Dev", "-f", "basic")
	if !strings.HasPrefix(strings.TrimSpace(ids), "ServerTasks-") {
		t.Fatalf("release deploy: %q", ids)
	}
	if out, err := o.run(ids, "task", "wait", "--progress", "--poll-interval", "1"); err != nil || !strings.Contains(out, "deployed 1.0.0 to Dev") || !strings.Contains(out, "Status: Success") {
		t.Fatalf("task wait --progress: %v\n%s", err, out)
	}
	if out, err := o.run("", "release", "deploy", "--project", "Web App", "--version", "1.0.0", "--environment", "Prod"); err == nil {
		t.Fatalf("a deployment to no environment: %s", out)
	}
	ids = o.ok("release", "deploy", "--project", "Web App", "--version", "1.0.0", "--environment", "Test", "-f", "basic")
	if out := o.ok("task", "wait", strings.TrimSpace(ids), "-f", "json", "--poll-interval", "1"); !strings.Contains(out, `"State": "Success"`) {
		t.Fatalf("task wait: %s", out)
	}

	// A failing deployment fails the pipeline step.
	s.ok("process", "step", "add", "-p", "Web App", "--name", "Break", "--script", "exit 4", "--on-server")
	o.ok("release", "create", "--project", "Web App", "--version", "1.0.1", "--package-version", "1.0.0")
	ids = o.ok("release", "deploy", "--project", "Web App", "--version", "1.0.1", "--environment", "Dev", "-f", "basic")
	if out, err := o.run(ids, "task", "wait", "--poll-interval", "1"); err == nil || !strings.Contains(out, "Failed") {
		t.Fatalf("waiting for a failing deployment: %v\n%s", err, out)
	}

	s.ok("machine", "add", "web-1", "--listening", "web-1:10933", "--thumbprint", strings.Repeat("AB", 32),
		"--environment", "Dev", "--role", "web")
	if out := o.ok("deployment-target", "list"); !strings.Contains(out, "web-1") || !strings.Contains(out, "Listening Tentacle") {
		t.Fatalf("deployment-target list: %s", out)
	}
}

// deployScriptPackage is a .tar.gz holding Deploy.sh.
func deployScriptPackage(t *testing.T, script string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	body := script + "\n"
	if err := tw.WriteHeader(&tar.Header{Name: "Deploy.sh", Mode: 0o755, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(body))
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

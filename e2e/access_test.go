package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// run runs the CLI with extra environment and standard input.
func run(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout.String(), stderr.String(), code}
}

const accessConfig = `environments:
  - name: Dev
  - name: Test
projects:
  - name: shop
    steps:
      - name: Greet
        script:
          syntax: bash
          body: |
            echo "hello from #{Octopus.Environment.Name}"
    variables:
      - name: DbPassword
        value: db-secret-5e6f7a
        sensitive: true
`

// TestPeopleTeamsAndTheAuditLogFromTheCommandLine walks through what an
// administrator and a developer do: create a user, give their team a role
// in one environment, log in, deploy where allowed and be refused
// elsewhere, then read what happened in the audit log.
func TestPeopleTeamsAndTheAuditLogFromTheCommandLine(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, accessConfig)
	adminEnv := []string{"PULPO_SERVER=" + s.url, "PULPO_API_KEY=" + apiKey}
	okAs := func(env []string, stdin string, args ...string) string {
		t.Helper()
		r := run(t, env, stdin, args...)
		if r.code != 0 {
			t.Fatalf("pulpo %s: exit %d\n%s\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		return r.stdout
	}

	const password = "dana's long passphrase"
	okAs(adminEnv, password+"\n", "user", "create", "dana", "--display-name", "Dana", "--password-stdin")
	okAs(adminEnv, "", "team", "create", "Dev deployers", "--member", "dana")
	okAs(adminEnv, "", "team", "grant", "Dev deployers", "Project deployer", "--environment", "Dev")

	// Dana logs in with her password; the CLI keeps an API key for her.
	login := okAs([]string{"PULPO_SERVER=" + s.url, "PULPO_API_KEY="}, password+"\n", "login", "--username", "dana", "--password-stdin")
	m := regexp.MustCompile(`PULPO_API_KEY=(API-[A-Z0-9]+)`).FindStringSubmatch(login)
	if m == nil {
		t.Fatalf("login printed no API key:\n%s", login)
	}
	dana := []string{"PULPO_SERVER=" + s.url, "PULPO_API_KEY=" + m[1]}
	if out := okAs(dana, "", "whoami"); !strings.Contains(out, "dana") || !strings.Contains(out, "Project deployer") || !strings.Contains(out, "Dev") {
		t.Errorf("whoami:\n%s", out)
	}
	if bad := run(t, []string{"PULPO_SERVER=" + s.url, "PULPO_API_KEY="}, "wrong password\n", "login", "--username", "dana", "--password-stdin"); bad.code == 0 ||
		!strings.Contains(bad.stderr, "username or password is wrong") {
		t.Errorf("login with a wrong password: exit %d\n%s", bad.code, bad.stderr)
	}

	okAs(dana, "", "release", "create", "--project", "shop", "--version", "1.0.0")
	out := okAs(dana, "", "release", "deploy", "--project", "shop", "--version", "1.0.0", "--environment", "Dev", "--watch")
	if !strings.Contains(out, "hello from Dev") {
		t.Errorf("Dana's deployment to Dev:\n%s", out)
	}
	// Test is out of Dana's reach: she does not even see it.
	refused := run(t, dana, "", "release", "deploy", "--project", "shop", "--version", "1.0.0", "--environment", "Test")
	if refused.code == 0 || !strings.Contains(refused.stderr, `environment "Test" was not found (or your roles hide it from you)`) {
		t.Errorf("Dana deployed to Test: exit %d\n%s%s", refused.code, refused.stdout, refused.stderr)
	}
	// Given Test's view, she sees it but still may not deploy there.
	okAs(adminEnv, "", "team", "create", "Viewers", "--member", "dana")
	okAs(adminEnv, "", "team", "grant", "Viewers", "Project viewer")
	refused = run(t, dana, "", "release", "deploy", "--project", "shop", "--version", "1.0.0", "--environment", "Test")
	if refused.code == 0 || !strings.Contains(refused.stderr, "you lack the DeploymentCreate permission") {
		t.Errorf("Dana deployed to Test: exit %d\n%s%s", refused.code, refused.stdout, refused.stderr)
	}
	if r := run(t, dana, "", "user", "create", "mallory", "--service"); r.code == 0 || !strings.Contains(r.stderr, "UserEdit") {
		t.Errorf("Dana created a user: exit %d\n%s", r.code, r.stderr)
	}

	// A service account for CI: API keys only, nothing until its team has a role.
	okAs(adminEnv, "", "user", "create", "ci", "--service")
	key := strings.TrimSpace(okAs(adminEnv, "", "user", "apikey", "create", "ci", "--purpose", "pipeline", "--expires", "30d"))
	ci := []string{"PULPO_SERVER=" + s.url, "PULPO_API_KEY=" + key}
	if r := run(t, ci, "", "environment", "list"); r.code == 0 || !strings.Contains(r.stderr, "EnvironmentView") {
		t.Errorf("a service account without a role listed environments: exit %d\n%s", r.code, r.stderr)
	}
	if out := okAs(adminEnv, "", "user", "apikey", "list", "ci"); !strings.Contains(out, "pipeline") || strings.Contains(out, key) {
		t.Errorf("the key list:\n%s", out)
	}

	// Disabling Dana stops her key at once.
	okAs(adminEnv, "", "user", "disable", "dana")
	if r := run(t, dana, "", "project", "list"); r.code == 0 || !strings.Contains(r.stderr, "revoked") && !strings.Contains(r.stderr, "disabled") {
		t.Errorf("a disabled user's key still works: exit %d\n%s", r.code, r.stderr)
	}

	// The audit log tells the story, without a secret.
	audit := okAs(adminEnv, "", "audit", "list", "--actor", "dana")
	for _, want := range []string{"login", "created release 1.0.0", "deployed shop release 1.0.0 to Dev"} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit list lacks %q:\n%s", want, audit)
		}
	}
	export := okAs(adminEnv, "", "audit", "export")
	lines := strings.Split(strings.TrimSpace(export), "\n")
	if len(lines) < 10 {
		t.Errorf("the export has %d lines", len(lines))
	}
	for _, l := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("export line %q: %v", l, err)
		}
	}
	for _, secret := range []string{password, "db-secret-5e6f7a", m[1], key} {
		if strings.Contains(export, secret) {
			t.Errorf("the audit export holds the secret %q", secret)
		}
	}
	if failed := okAs(adminEnv, "", "audit", "list", "--action", "login-failed"); !strings.Contains(failed, "dana") {
		t.Errorf("the failed login is not in the audit log:\n%s", failed)
	}
}

// TestServingHTTPSWithASelfSignedCertificate starts the server with
// --tls-self-signed and reaches it with the thumbprint it prints.
func TestServingHTTPSWithASelfSignedCertificate(t *testing.T) {
	data := t.TempDir()
	port := freePort(t)
	url := fmt.Sprintf("https://127.0.0.1:%d", port)
	cmd := exec.Command(binary, "server", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--admin-api-key", apiKey,
		"--polling-listen", "", "--tls-self-signed")
	cmd.Dir = data
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := insecure.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the HTTPS server did not become ready:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := regexp.MustCompile(`HTTPS certificate thumbprint[^:]*: ([0-9A-F]{64})`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the server printed no HTTPS thumbprint:\n%s", out)
	}
	env := []string{"PULPO_SERVER=" + url, "PULPO_API_KEY=" + apiKey}
	if r := run(t, append(env, "PULPO_SERVER_THUMBPRINT="+m[1]), "", "environment", "list"); r.code != 0 {
		t.Errorf("with the pinned thumbprint: exit %d\n%s", r.code, r.stderr)
	}
	if r := run(t, env, "", "environment", "list"); r.code == 0 || !strings.Contains(r.stderr, "certificate") {
		t.Errorf("without a pin the self-signed certificate was accepted: exit %d\n%s", r.code, r.stderr)
	}
	if r := run(t, append(env, "PULPO_SERVER_THUMBPRINT="+strings.Repeat("AB", 32)), "", "environment", "list"); r.code == 0 ||
		!strings.Contains(r.stderr, "pinned thumbprint") {
		t.Errorf("a wrong pin was accepted: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(out.String(), "listening on https://") {
		t.Errorf("the server does not say it serves HTTPS:\n%s", out)
	}
}

package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAParentProjectOrchestratesItsChildren is the scenario release
// managers describe: a parent project gates and sequences a front end and
// two APIs, a package push creates its release and the lifecycle deploys
// it to Dev, a release manager approves before Test, and a business-facing
// page is told after each environment.
func TestAParentProjectOrchestratesItsChildren(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	page := startHookServer(t, "page-secret", 0)
	child := func(name string) string {
		return fmt.Sprintf(`  - name: %[1]s
    steps:
      - name: Hello
        script:
          body: |
            echo "deploying %[1]s #{Octopus.Release.Number} to #{Octopus.Environment.Name}: #{ParentNote}"
            set_octopusvariable Url "https://%[1]s.example/#{Octopus.Environment.Name}"
`, name)
	}
	applyText(t, s, `environments:
  - name: Dev
  - name: Test
lifecycles:
  - name: Platform
    phases:
      - {name: Dev, automaticEnvironments: [Dev]}
      - {name: Test, manualEnvironments: [Test]}
projects:
  - name: platform
    lifecycle: Platform
    steps:
      - name: Approve
        environments: [Test]
        manualIntervention: {instructions: "Check the #{Octopus.Environment.Name} release notes"}
      - name: Orders API
        deployRelease:
          project: api-orders
          mode: ifDifferent
          variables: {ParentNote: "asked by platform #{Octopus.Release.Number}"}
      - name: Billing API
        startWithPrevious: true
        deployRelease: {project: api-billing}
      - name: Front end
        deployRelease: {project: frontend, mode: ifNewer}
      - name: Config
        package: {packageId: platform-config}
      - name: Report
        script:
          body: |
            echo "orders at #{Octopus.Action[Orders API].Output.Deployment[Hello].Url}"
`+child("frontend")+child("api-orders")+child("api-billing"))
	for _, c := range []string{"frontend", "api-orders", "api-billing"} {
		s.ok("release", "create", "-p", c, "--version", "1.0.0")
	}
	sub := exec.Command(binary, "subscription", "create", "Release page", "--webhook", page.srv.URL, "--event", "deployment-succeeded",
		"--project", "platform", "--secret-stdin")
	sub.Env = append(sub.Environ(), "PULPO_SERVER="+s.url, "PULPO_API_KEY="+apiKey)
	sub.Stdin = strings.NewReader("page-secret\n")
	if out, err := sub.CombinedOutput(); err != nil {
		t.Fatalf("subscription: %v\n%s", err, out)
	}
	s.ok("trigger", "create", "-p", "platform", "On config push", "--on-package", "platform-config")

	pkg := filepath.Join(t.TempDir(), "platform-config.2.0.0.tar.gz")
	writeTarGz(t, pkg, map[string]string{"Deploy.sh": "echo config $PULPO_PACKAGE_VERSION in place\n"})
	if out := s.ok("package", "push", pkg); !strings.Contains(out, "a trigger created release 2.0.0") {
		t.Fatalf("push:\n%s", out)
	}
	var deps struct {
		Items []struct {
			ID, TaskID, CreatedBy, EnvironmentID string
		} `json:"items"`
	}
	s.okJSON(&deps, "deployment", "list", "-p", "platform")
	if len(deps.Items) != 1 {
		t.Fatalf("the lifecycle should deploy 2.0.0 to Dev: %+v", deps.Items)
	}
	out := s.ok("task", "watch", deps.Items[0].TaskID)
	for _, want := range []string{"Skipped: the step does not run in Dev", "Deploying api-orders release 1.0.0 to Dev",
		"Deploying api-billing release 1.0.0 to Dev", "Deploying frontend release 1.0.0 to Dev", "config 2.0.0 in place",
		"orders at https://api-orders.example/Dev"} {
		if !strings.Contains(out, want) {
			t.Errorf("the Dev deployment's log lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatal(out)
	}
	page.waitFor("deployment-succeeded", "Dev")
	s.okJSON(&deps, "deployment", "list", "-p", "api-orders")
	if len(deps.Items) != 1 || !strings.HasPrefix(deps.Items[0].CreatedBy, "platform release 2.0.0") {
		t.Fatalf("the child deployment: %+v", deps.Items)
	}
	if log := s.ok("task", "log", deps.Items[0].TaskID); !strings.Contains(log, "deploying api-orders 1.0.0 to Dev: asked by platform 2.0.0") {
		t.Fatalf("the parent's value should reach the child:\n%s", log)
	}

	// Test waits for a release manager.
	var test deployment
	s.okJSON(&test, "release", "deploy", "-p", "platform", "--version", "2.0.0", "--environment", "Test")
	s.waitState(test.TaskID, "Waiting")
	s.ok("interruption", "answer", s.openQuestion(test.TaskID).ID, "proceed", "--notes", "release notes read")
	out = s.ok("task", "watch", test.TaskID)
	if !strings.Contains(out, "orders at https://api-orders.example/Test") {
		t.Fatalf("Test:\n%s", out)
	}
	page.waitFor("deployment-succeeded", "Test")

	// Again to Dev: the Orders API is there already and is left alone.
	var again deployment
	s.okJSON(&again, "release", "deploy", "-p", "platform", "--version", "2.0.0", "--environment", "Dev")
	out = s.ok("task", "watch", again.TaskID)
	if !strings.Contains(out, "Skipped: release 1.0.0 is already deployed to Dev") || !strings.Contains(out, "Skipped: Dev has release 1.0.0, which is not older than 1.0.0") {
		t.Fatalf("ifDifferent and ifNewer should leave the children:\n%s", out)
	}
}

// TestCancelingAParentCancelsItsChild: Octopus leaves a child running when
// its parent is canceled; Pulpo stops it.
func TestCancelingAParentCancelsItsChild(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, `environments:
  - name: Dev
projects:
  - name: parent
    steps:
      - name: Slow child
        deployRelease: {project: slow}
  - name: slow
    steps:
      - name: Sleep
        script: {body: "echo sleeping; sleep 120"}
`)
	if r := s.pulpo("release", "create", "-p", "parent", "--version", "1.0.0"); r.code == 0 || !strings.Contains(r.stderr, "which has no release yet") {
		t.Fatalf("a parent release without child releases: exit %d\n%s", r.code, r.stderr)
	}
	s.ok("release", "create", "-p", "slow", "--version", "0.1.0")
	s.ok("release", "create", "-p", "parent", "--version", "1.0.0", "--child-release", "slow:0.1.0")
	var d deployment
	s.okJSON(&d, "release", "deploy", "-p", "parent", "--version", "1.0.0", "--environment", "Dev")
	s.waitState(d.TaskID, "Waiting")
	var deps struct {
		Items []struct{ TaskID string } `json:"items"`
	}
	s.okJSON(&deps, "deployment", "list", "-p", "slow")
	if len(deps.Items) != 1 {
		t.Fatalf("child deployments: %+v", deps.Items)
	}
	childTask := deps.Items[0].TaskID
	s.waitLog(childTask, "sleeping")
	started := time.Now()
	s.ok("task", "cancel", d.TaskID)
	s.waitState(d.TaskID, "Canceled")
	s.waitState(childTask, "Canceled")
	if time.Since(started) > 60*time.Second {
		t.Fatalf("canceling took %s", time.Since(started))
	}
}

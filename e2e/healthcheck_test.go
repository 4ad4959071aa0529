package e2e

import (
	"strings"
	"testing"
	"time"
)

const healthConfig = `environments:
  - name: Dev
projects:
  - name: fleet
    steps:
      - name: Provision
        manualIntervention: {instructions: "Start the machines"}
      - name: Check web
        targetRoles: [web]
        healthCheck: {type: %TYPE%, onError: %ONERROR%, includeNewTargets: %NEW%}
      - name: Everywhere
        targetRoles: [web]
        script:
          body: |
            echo "running on #{Octopus.Machine.Name}"
`

func healthProcess(kind, onError, includeNew string) string {
	return strings.NewReplacer("%TYPE%", kind, "%ONERROR%", onError, "%NEW%", includeNew).Replace(healthConfig)
}

// proceedWhenAsked waits for the deployment's manual intervention, runs
// meanwhile (the deployment is waiting), then proceeds.
func proceedWhenAsked(t *testing.T, s *server, taskID string, meanwhile func()) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var page struct {
			Items []interruptionInfo `json:"items"`
		}
		s.okJSON(&page, "interruption", "list", "--task", taskID)
		if len(page.Items) == 1 {
			meanwhile()
			s.ok("interruption", "answer", page.Items[0].ID, "proceed")
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s never asked to proceed:\n%s", taskID, s.ok("task", "log", taskID))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAHealthCheckStepRechecksRealAgents: a health check step between
// steps, on real listening agents, one of them killed: the default fails
// the deployment naming it; skip deploys to the others only; agents
// registered while the deployment waits are deployed to only when the step
// includes new targets.
func TestAHealthCheckStepRechecksRealAgents(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, healthProcess("full", "fail", "false"))
	addListeningAgent(t, s, "steady", "--environment", "Dev", "--role", "web")
	flaky := addListeningAgent(t, s, "flaky", "--environment", "Dev", "--role", "web")
	flaky.kill()

	// onError fail: the step fails naming flaky; nothing is deployed.
	d := deploy(t, s, "fleet", "1.0.0")
	proceedWhenAsked(t, s, d.TaskID, func() {})
	r := s.pulpo("task", "watch", d.TaskID)
	if r.code == 0 || !strings.Contains(r.stdout, "Health check of flaky: Unavailable") || !strings.Contains(r.stdout, "Health check of steady: Healthy") {
		t.Fatalf("the health check should fail on flaky; exit %d\n%s", r.code, r.stdout)
	}
	if shown := s.ok("task", "show", d.TaskID); !strings.Contains(shown, `step "Check web" failed the health check of flaky (Unavailable`) {
		t.Fatalf("the task's error should name flaky:\n%s", shown)
	}
	if strings.Contains(r.stdout, "running on") {
		t.Fatalf("no step should run after a failed health check:\n%s", r.stdout)
	}

	// onError skip: the deployment goes on without flaky, and says so.
	applyText(t, s, healthProcess("connectionOnly", "skip", "false"))
	d = deploy(t, s, "fleet", "1.0.1")
	proceedWhenAsked(t, s, d.TaskID, func() {})
	out := s.ok("task", "watch", d.TaskID)
	for _, want := range []string{"Connection test of steady: Healthy", "Connection test of flaky: Unavailable", "Left out of the rest of this deployment: flaky", "running on steady"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "running on flaky") {
		t.Fatalf("flaky was left out:\n%s", out)
	}

	// includeNewTargets: an agent registered while the deployment waits is
	// checked and deployed to.
	applyText(t, s, healthProcess("full", "skip", "true"))
	d = deploy(t, s, "fleet", "1.0.2")
	proceedWhenAsked(t, s, d.TaskID, func() { addListeningAgent(t, s, "fresh", "--environment", "Dev", "--role", "web") })
	out = s.ok("task", "watch", d.TaskID)
	for _, want := range []string{"fresh joined Dev after the deployment started; it is checked", "Health check of fresh: Healthy", "running on fresh", "running on steady"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}

	// Without it, one registered meanwhile is left out.
	applyText(t, s, healthProcess("full", "skip", "false"))
	d = deploy(t, s, "fleet", "1.0.3")
	proceedWhenAsked(t, s, d.TaskID, func() { addListeningAgent(t, s, "late", "--environment", "Dev", "--role", "web") })
	out = s.ok("task", "watch", d.TaskID)
	for _, want := range []string{"late joined Dev after the deployment started; it is left out", "running on fresh", "running on steady"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "running on late") || strings.Contains(out, "Health check of late") {
		t.Fatalf("late joined after the deployment started and should be left out:\n%s", out)
	}
}

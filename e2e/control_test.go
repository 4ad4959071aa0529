package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// task reads a task through the CLI.
type taskInfo struct {
	ID        string     `json:"id"`
	State     string     `json:"state"`
	StartedAt *time.Time `json:"startedAt"`
	NotBefore *time.Time `json:"notBefore"`
	Error     string     `json:"error"`
}

func (s *server) task(id string) taskInfo {
	s.t.Helper()
	var t taskInfo
	s.okJSON(&t, "task", "show", id)
	return t
}

// waitState waits until a task is in state.
func (s *server) waitState(id, state string) taskInfo {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		t := s.task(id)
		if t.State == state {
			return t
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("task %s is %s, never %s:\n%s", id, t.State, state, s.ok("task", "log", id))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type interruptionInfo struct {
	ID           string   `json:"id"`
	TaskID       string   `json:"taskId"`
	Kind         string   `json:"kind"`
	Title        string   `json:"title"`
	Instructions string   `json:"instructions"`
	Error        string   `json:"error"`
	Answers      []string `json:"answers"`
	Answer       string   `json:"answer"`
	TakenBy      string   `json:"takenBy"`
}

// openQuestion returns the one open interruption of a task.
func (s *server) openQuestion(taskID string) interruptionInfo {
	s.t.Helper()
	var page struct {
		Items []interruptionInfo `json:"items"`
	}
	s.okJSON(&page, "interruption", "list", "--task", taskID)
	if len(page.Items) != 1 {
		s.t.Fatalf("task %s should ask one question, asks %d: %+v", taskID, len(page.Items), page.Items)
	}
	return page.Items[0]
}

// TestAManualInterventionWaitsWithoutHoldingASlot: a deployment waits at a
// manual intervention for as long as it takes, while other deployments use
// the only task slot; the answer, its notes and who gave it reach later
// steps; a question is answered once; abort fails the deployment.
func TestAManualInterventionWaitsWithoutHoldingASlot(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t), "--polling-listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--task-slots", "1")
	applyText(t, s, `environments:
  - name: Dev
  - name: Test
projects:
  - name: gated
    steps:
      - name: Approve
        environments: [Test]
        manualIntervention:
          instructions: "Check the #{Octopus.Environment.Name} dashboards first"
          responsibleTeams: [Release managers]
      - name: Deploy
        script:
          body: |
            echo "approved=#{Octopus.Action[Approve].Output.Manual.Approved} by=#{Octopus.Action[Approve].Output.Manual.ResponsibleUser.Username} notes=#{Octopus.Action[Approve].Output.Manual.Notes}"
  - name: other
    steps:
      - name: Hello
        script: {body: echo hello from other}
`)
	// Dev has no approval step.
	dev := deploy(t, s, "gated", "1.0.0")
	if out := s.ok("task", "watch", dev.TaskID); !strings.Contains(out, "Skipped: the step does not run in Dev") || strings.Contains(out, "approved=True") {
		t.Fatalf("Dev should skip the approval:\n%s", out)
	}

	var test deployment
	s.okJSON(&test, "release", "deploy", "-p", "gated", "--version", "1.0.0", "--environment", "Test")
	s.waitState(test.TaskID, "Waiting")
	q := s.openQuestion(test.TaskID)
	if q.Kind != "ManualIntervention" || q.Instructions != "Check the Test dashboards first" || strings.Join(q.Answers, ",") != "Proceed,Abort" {
		t.Fatalf("question: %+v", q)
	}

	// The only slot is free while it waits: another deployment runs.
	other := deploy(t, s, "other", "1.0.0")
	if out := s.ok("task", "watch", other.TaskID); !strings.Contains(out, "hello from other") {
		t.Fatalf("another deployment could not run while one waited:\n%s", out)
	}

	if r := s.pulpo("interruption", "answer", q.ID, "maybe"); r.code == 0 || !strings.Contains(r.stderr, `"maybe" is not an answer to this manual intervention: answer Proceed, Abort`) {
		t.Fatalf("a wrong answer: exit %d\n%s", r.code, r.stderr)
	}
	s.ok("interruption", "take", q.ID)
	s.ok("interruption", "answer", q.ID, "proceed", "--notes", "dashboards are green")
	out := s.ok("task", "watch", test.TaskID)
	if !strings.Contains(out, "approved=True by=") || !strings.Contains(out, "notes=dashboards are green") || !strings.Contains(out, "chose to proceed: dashboards are green") {
		t.Fatalf("the answer should reach the next step:\n%s", out)
	}
	if r := s.pulpo("interruption", "answer", q.ID, "abort"); r.code == 0 || !strings.Contains(r.stderr, "was already answered Proceed") {
		t.Fatalf("a second answer: exit %d\n%s", r.code, r.stderr)
	}

	// Abort fails the deployment.
	var again deployment
	s.okJSON(&again, "release", "deploy", "-p", "gated", "--version", "1.0.0", "--environment", "Test")
	s.waitState(again.TaskID, "Waiting")
	s.ok("interruption", "answer", s.openQuestion(again.TaskID).ID, "abort", "--notes", "not today")
	if r := s.pulpo("task", "watch", again.TaskID); r.code == 0 || !strings.Contains(r.stdout+r.stderr, "aborted the deployment: not today") {
		t.Fatalf("abort should fail the deployment (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Canceling a waiting deployment closes its question.
	var third deployment
	s.okJSON(&third, "release", "deploy", "-p", "gated", "--version", "1.0.0", "--environment", "Test")
	s.waitState(third.TaskID, "Waiting")
	qid := s.openQuestion(third.TaskID).ID
	s.ok("task", "cancel", third.TaskID)
	s.waitState(third.TaskID, "Canceled")
	if r := s.pulpo("interruption", "answer", qid, "proceed"); r.code == 0 || !strings.Contains(r.stderr, "already answered Canceled") {
		t.Fatalf("the question of a canceled deployment: exit %d\n%s", r.code, r.stderr)
	}
}

// TestGuidedFailureRetriesAfterTheCauseIsFixed: under guided failure a
// failed step waits; fixed by hand and retried, the deployment succeeds.
// Ignore carries on past a failure.
func TestGuidedFailureRetriesAfterTheCauseIsFixed(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	fixed := filepath.Join(t.TempDir(), "fixed")
	applyText(t, s, fmt.Sprintf(`environments:
  - name: Dev
projects:
  - name: flaky
    steps:
      - name: Check
        script:
          body: |
            if [ ! -f %[1]q ]; then echo "the disk is full"; exit 4; fi
            echo "the disk has room"
      - name: After
        script: {body: echo after the check}
`, fixed))
	s.ok("release", "create", "-p", "flaky", "--version", "1.0.0")
	var d deployment
	s.okJSON(&d, "release", "deploy", "-p", "flaky", "--version", "1.0.0", "--environment", "Dev", "--guided-failure")
	s.waitState(d.TaskID, "Waiting")
	q := s.openQuestion(d.TaskID)
	if q.Kind != "GuidedFailure" || !strings.Contains(q.Error, "exit code 4") || strings.Join(q.Answers, ",") != "Retry,Ignore,Fail" {
		t.Fatalf("question: %+v", q)
	}
	if err := os.WriteFile(fixed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.ok("interruption", "answer", q.ID, "retry", "--notes", "freed some space")
	out := s.ok("task", "watch", d.TaskID)
	for _, want := range []string{"the disk is full", "chose to retry: freed some space", "the disk has room", "after the check"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the log lacks %q:\n%s", want, out)
		}
	}

	// Ignore: the failure is passed over and the next step runs.
	os.Remove(fixed)
	var again deployment
	s.okJSON(&again, "release", "deploy", "-p", "flaky", "--version", "1.0.0", "--environment", "Dev", "--guided-failure")
	s.waitState(again.TaskID, "Waiting")
	s.ok("interruption", "answer", s.openQuestion(again.TaskID).ID, "ignore")
	if out := s.ok("task", "watch", again.TaskID); !strings.Contains(out, "chose to ignore the failure") || !strings.Contains(out, "after the check") {
		t.Fatalf("ignore should carry on:\n%s", out)
	}

	// Without guided failure the same failure fails the deployment.
	var plain deployment
	s.okJSON(&plain, "release", "deploy", "-p", "flaky", "--version", "1.0.0", "--environment", "Dev")
	if r := s.pulpo("task", "watch", plain.TaskID); r.code == 0 {
		t.Fatalf("without guided failure the deployment should fail:\n%s", r.stdout)
	}
}

// TestStepConditionsRetriesAndParallelSteps covers when steps run: after a
// failure only failure/always/variable steps; skipped on request but never
// a required one; retried until they succeed; side by side with the step
// before.
func TestStepConditionsRetriesAndParallelSteps(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	dir := t.TempDir()
	counter := filepath.Join(dir, "attempts")
	applyText(t, s, fmt.Sprintf(`environments:
  - name: Dev
projects:
  - name: conditions
    steps:
      - name: Flaky
        retries: 2
        script:
          body: |
            echo x >> %[1]q
            n=$(wc -l < %[1]q)
            echo "attempt $n"
            [ "$n" -ge 3 ]
      - name: Left
        script:
          body: |
            touch %[2]q/left
            for i in $(seq 100); do [ -f %[2]q/right ] && { echo "left saw right"; exit 0; }; sleep 0.1; done
            echo "right never started"; exit 1
      - name: Right
        startWithPrevious: true
        script:
          body: |
            touch %[2]q/right
            for i in $(seq 100); do [ -f %[2]q/left ] && { echo "right saw left"; exit 0; }; sleep 0.1; done
            echo "left never started"; exit 1
      - name: Optional
        script: {body: echo optional ran}
      - name: Audit
        required: true
        script: {body: echo audit ran}
      - name: Break
        script: {body: echo breaking; exit 9}
      - name: Normal
        script: {body: echo normal ran}
      - name: Cleanup
        condition: failure
        script:
          body: |
            echo "cleanup after #{Octopus.Deployment.Error}"
      - name: Notify
        condition: always
        script: {body: echo notify ran}
      - name: OnError
        condition: variable
        conditionExpression: "#{if Octopus.Deployment.Error}true#{/if}"
        script: {body: echo on-error ran}
      - name: OnSuccess
        condition: variable
        conditionExpression: "#{unless Octopus.Deployment.Error}true#{/unless}"
        script: {body: echo on-success ran}
    variables:
      # Left and Right share the built-in worker: let them run at once.
      - {name: OctopusBypassDeploymentMutex, value: "True"}
`, counter, dir))
	s.ok("release", "create", "-p", "conditions", "--version", "1.0.0")

	if r := s.pulpo("release", "deploy", "-p", "conditions", "--version", "1.0.0", "--environment", "Dev", "--skip-step", "Audit"); r.code == 0 ||
		!strings.Contains(r.stderr, `step "Audit" is required and cannot be skipped`) {
		t.Fatalf("skipping a required step: exit %d\n%s", r.code, r.stderr)
	}
	if r := s.pulpo("release", "deploy", "-p", "conditions", "--version", "1.0.0", "--environment", "Dev", "--skip-step", "Nope"); r.code == 0 ||
		!strings.Contains(r.stderr, `release 1.0.0 has no step "Nope"`) {
		t.Fatalf("skipping an unknown step: exit %d\n%s", r.code, r.stderr)
	}
	var d deployment
	s.okJSON(&d, "release", "deploy", "-p", "conditions", "--version", "1.0.0", "--environment", "Dev", "--skip-step", "Optional")
	r := s.pulpo("task", "watch", d.TaskID)
	out := r.stdout + r.stderr
	if r.code == 0 {
		t.Fatalf("the deployment should fail at Break:\n%s", out)
	}
	for _, want := range []string{
		"attempt 1", "Attempt 1 of 3 failed", "attempt 3",
		"left saw right", "right saw left",
		"Skipped: the deployment was asked to skip it", "audit ran",
		"breaking", "cleanup after step Break failed", "notify ran", "on-error ran",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	for _, unwanted := range []string{"optional ran", "normal ran", "on-success ran", "attempt 4"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("the log has %q", unwanted)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

// TestAScheduledDeployment starts at its time, and one whose expiry has
// passed is refused.
func TestAScheduledDeployment(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, `environments:
  - name: Dev
projects:
  - name: later
    steps:
      - name: Hello
        script: {body: echo scheduled hello}
`)
	s.ok("release", "create", "-p", "later", "--version", "1.0.0")
	if r := s.pulpo("release", "deploy", "-p", "later", "--version", "1.0.0", "--environment", "Dev", "--no-deploy-after", "2020-01-01T00:00:00Z"); r.code == 0 ||
		!strings.Contains(r.stderr, "notAfter: 2020-01-01T00:00:00Z has passed") {
		t.Fatalf("an expiry in the past: exit %d\n%s", r.code, r.stderr)
	}
	if r := s.pulpo("release", "deploy", "-p", "later", "--version", "1.0.0", "--environment", "Dev", "--deploy-at", "tomorrow"); r.code == 0 ||
		!strings.Contains(r.stderr, `--deploy-at "tomorrow" is not a time`) {
		t.Fatalf("a time that is not one: exit %d\n%s", r.code, r.stderr)
	}
	var d deployment
	s.okJSON(&d, "release", "deploy", "-p", "later", "--version", "1.0.0", "--environment", "Dev", "--deploy-at", "+3s", "--no-deploy-after", "+1h")
	queued := s.task(d.TaskID)
	if queued.State != "Queued" || queued.NotBefore == nil {
		t.Fatalf("a scheduled deployment waits in the queue: %+v", queued)
	}
	done := s.waitState(d.TaskID, "Success")
	if done.StartedAt == nil || done.StartedAt.Before(*queued.NotBefore) {
		b, _ := json.Marshal(done)
		t.Fatalf("it started before its time (%s): %s", queued.NotBefore, b)
	}
}

// TestAFreezeRefusesDeployments: a deployment into a frozen environment is
// refused with the freeze's name and end, unless overridden; other
// environments are not frozen; lifting the freeze allows deployments again.
func TestAFreezeRefusesDeployments(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, `environments:
  - name: Dev
  - name: Production
projects:
  - name: shop
    steps:
      - name: Hello
        script: {body: echo hello}
`)
	s.ok("release", "create", "-p", "shop", "--version", "1.0.0")
	s.ok("release", "deploy", "-p", "shop", "--version", "1.0.0", "--environment", "Dev", "--watch")
	s.ok("freeze", "create", "Year end", "--start", "now", "--end", "+48h", "--environment", "Production", "--description", "change freeze")
	if r := s.pulpo("freeze", "create", "Backwards", "--start", "+2h", "--end", "+1h"); r.code == 0 || !strings.Contains(r.stderr, "end: must be after start") {
		t.Fatalf("a freeze that ends before it starts: exit %d\n%s", r.code, r.stderr)
	}
	if out := s.ok("freeze", "list"); !strings.Contains(out, "Year end") || !strings.Contains(out, "Production") {
		t.Fatalf("freeze list:\n%s", out)
	}
	r := s.pulpo("release", "deploy", "-p", "shop", "--version", "1.0.0", "--environment", "Production")
	if r.code == 0 || !strings.Contains(r.stderr, `deployments to Production are frozen by "Year end"`) || !strings.Contains(r.stderr, "--override-freeze") {
		t.Fatalf("a deployment in a freeze: exit %d\n%s", r.code, r.stderr)
	}
	s.ok("release", "deploy", "-p", "shop", "--version", "1.0.0", "--environment", "Dev", "--watch") // Dev is not frozen
	s.ok("release", "deploy", "-p", "shop", "--version", "1.0.0", "--environment", "Production", "--override-freeze", "--watch")
	s.ok("freeze", "delete", "Year end")
	s.ok("release", "deploy", "-p", "shop", "--version", "1.0.0", "--environment", "Production", "--watch")
}

// TestTriggers: pushing a package creates a release that the lifecycle
// deploys to Dev by itself; a scheduled trigger checks its cron and fires
// on demand; bad input is refused with what to fix.
func TestTriggers(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, `environments:
  - name: Dev
  - name: Test
lifecycles:
  - name: Auto Dev
    phases:
      - {name: Dev, automaticEnvironments: [Dev]}
      - {name: Test, manualEnvironments: [Test]}
projects:
  - name: shop
    lifecycle: Auto Dev
    steps:
      - name: Install
        package: {packageId: shop-web}
`)
	if r := s.pulpo("trigger", "create", "-p", "shop", "Push", "--on-package", "other"); r.code == 0 || !strings.Contains(r.stderr, `no step of the project takes package "other"`) {
		t.Fatalf("a trigger on a package the project does not take: exit %d\n%s", r.code, r.stderr)
	}
	if r := s.pulpo("trigger", "create", "-p", "shop", "Nightly", "--cron", "0 25 * * *", "--to", "Test"); r.code == 0 || !strings.Contains(r.stderr, `cron expression "0 25 * * *"`) {
		t.Fatalf("an invalid cron: exit %d\n%s", r.code, r.stderr)
	}
	s.ok("trigger", "create", "-p", "shop", "Push", "--on-package", "shop-web")
	s.ok("trigger", "create", "-p", "shop", "Nightly", "--cron", "0 2 * * 1-5", "--time-zone", "Europe/Berlin", "--from", "Dev", "--to", "Test")

	pkg := filepath.Join(t.TempDir(), "shop-web.1.4.0.tar.gz")
	writeTarGz(t, pkg, map[string]string{"Deploy.sh": "echo deployed shop-web $PULPO_PACKAGE_VERSION\n"})
	if out := s.ok("package", "push", pkg); !strings.Contains(out, "a trigger created release 1.4.0") {
		t.Fatalf("the push should create a release:\n%s", out)
	}
	var deps struct {
		Items []struct {
			TaskID    string `json:"taskId"`
			CreatedBy string `json:"createdBy"`
		} `json:"items"`
	}
	s.okJSON(&deps, "deployment", "list", "-p", "shop")
	if len(deps.Items) != 1 || deps.Items[0].CreatedBy != "lifecycle" {
		t.Fatalf("the lifecycle should deploy the new release to Dev: %+v", deps.Items)
	}
	if out := s.ok("task", "watch", deps.Items[0].TaskID); !strings.Contains(out, "deployed shop-web 1.4.0") {
		t.Fatalf("Dev:\n%s", out)
	}
	list := s.ok("trigger", "list", "-p", "shop")
	if !strings.Contains(list, "created release 1.4.0") || !strings.Contains(list, "cron 0 2 * * 1-5 (Europe/Berlin)") {
		t.Fatalf("trigger list:\n%s", list)
	}

	// Fired by hand, the schedule deploys what Dev has to Test.
	if out := s.ok("trigger", "run", "-p", "shop", "Nightly"); !strings.Contains(out, "Queued deployment") {
		t.Fatalf("trigger run:\n%s", out)
	}
	s.okJSON(&deps, "deployment", "list", "-p", "shop")
	if len(deps.Items) != 2 || deps.Items[0].CreatedBy != "trigger Nightly" {
		t.Fatalf("the schedule should deploy to Test: %+v", deps.Items)
	}
	s.ok("task", "watch", deps.Items[0].TaskID)
	s.ok("trigger", "disable", "-p", "shop", "Push")
	pkg2 := filepath.Join(t.TempDir(), "shop-web.1.5.0.tar.gz")
	writeTarGz(t, pkg2, map[string]string{"Deploy.sh": "echo 1.5\n"})
	if out := s.ok("package", "push", pkg2); strings.Contains(out, "created release") {
		t.Fatalf("a disabled trigger created a release:\n%s", out)
	}
}

// TestRollingBackIsDeployingThePreviousRelease: the dashboard names what
// each environment has and had before; deploying that brings it back.
func TestRollingBackIsDeployingThePreviousRelease(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, `environments:
  - name: Dev
projects:
  - name: shop
    steps:
      - name: Hello
        script: {body: "echo release #{Octopus.Release.Number}"}
`)
	for _, v := range []string{"1.0.0", "1.1.0"} {
		s.ok("release", "create", "-p", "shop", "--version", v)
		s.ok("release", "deploy", "-p", "shop", "--version", v, "--environment", "Dev", "--watch")
	}
	var dash struct {
		Cells []struct {
			Current  *struct{ Version string } `json:"current"`
			Previous *struct{ Version string } `json:"previous"`
		} `json:"cells"`
	}
	s.okJSON(&dash, "dashboard")
	if len(dash.Cells) != 1 || dash.Cells[0].Current.Version != "1.1.0" || dash.Cells[0].Previous.Version != "1.0.0" {
		t.Fatalf("dashboard: %+v", dash.Cells)
	}
	s.ok("release", "deploy", "-p", "shop", "--version", "1.0.0", "--environment", "Dev", "--watch")
	if out := s.ok("dashboard", "--previous"); !strings.Contains(out, "1.0.0 ← 1.1.0") {
		t.Fatalf("after the rollback:\n%s", out)
	}
}

// TestChannels: a release follows the channel whose rules take its
// package versions, with that channel's lifecycle; the newest version a
// channel takes is chosen; the version template numbers releases.
func TestChannels(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, `environments:
  - name: Dev
  - name: Test
lifecycles:
  - name: Normal
    phases:
      - {name: Dev, manualEnvironments: [Dev]}
      - {name: Test, manualEnvironments: [Test]}
  - name: Betas to Dev
    phases:
      - {name: Dev, automaticEnvironments: [Dev]}
projects:
  - name: shop
    lifecycle: Normal
    releaseVersionTemplate: "#{Octopus.Action[Install].Package.PackageVersion}"
    channels:
      - name: Stable
        default: true
        rules: [{packages: [shop-web], tag: "^$"}]
      - name: Beta
        lifecycle: Betas to Dev
        rules: [{packages: [Install], tag: "^beta"}]
    steps:
      - name: Install
        package: {packageId: shop-web}
      - name: Beta notice
        channels: [Beta]
        script: {body: "echo this is a beta in #{Octopus.Release.Channel.Name}"}
`)
	dir := t.TempDir()
	push := func(v string) string {
		pkg := filepath.Join(dir, "shop-web."+v+".tar.gz")
		writeTarGz(t, pkg, map[string]string{"Deploy.sh": "echo installing " + v + "\n"})
		return s.ok("package", "push", pkg)
	}
	push("1.0.0")
	push("1.1.0-beta.1")

	out := s.ok("release", "create", "-p", "shop")
	if !strings.Contains(out, "Created release 1.0.0") || !strings.Contains(out, "It follows channel Stable") {
		t.Fatalf("the default channel takes the newest stable version, and the template numbers the release:\n%s", out)
	}
	if r := s.pulpo("release", "create", "-p", "shop", "--version", "9.9.9", "--channel", "Stable", "--package", "shop-web:1.1.0-beta.1"); r.code == 0 ||
		!strings.Contains(r.stderr, `channel Stable does not take it: shop-web 1.1.0-beta.1 has the pre-release tag "beta.1", which does not match ^$`) {
		t.Fatalf("a version the channel refuses: exit %d\n%s", r.code, r.stderr)
	}
	if r := s.pulpo("channel", "create", "-p", "shop", "Bad", "--package", "shop-web", "--version-range", "[2.0"); r.code == 0 ||
		!strings.Contains(r.stderr, "is not a version range") {
		t.Fatalf("a bad range: exit %d\n%s", r.code, r.stderr)
	}

	// A beta pushed with a trigger lands in Beta, whose lifecycle deploys it to Dev.
	s.ok("trigger", "create", "-p", "shop", "Push", "--on-package", "shop-web")
	if out := push("1.2.0-beta.2"); !strings.Contains(out, "a trigger created release 1.2.0-beta.2") {
		t.Fatalf("push:\n%s", out)
	}
	var deps struct {
		Items []struct {
			TaskID    string `json:"taskId"`
			CreatedBy string `json:"createdBy"`
		} `json:"items"`
	}
	s.okJSON(&deps, "deployment", "list", "-p", "shop")
	if len(deps.Items) != 1 || deps.Items[0].CreatedBy != "lifecycle" {
		t.Fatalf("the Beta lifecycle deploys betas to Dev by itself: %+v", deps.Items)
	}
	out = s.ok("task", "watch", deps.Items[0].TaskID)
	if !strings.Contains(out, "installing 1.2.0-beta.2") || !strings.Contains(out, "this is a beta in Beta") {
		t.Fatalf("the beta deployment:\n%s", out)
	}
	// The stable release skips the beta-only step.
	out = s.ok("release", "deploy", "-p", "shop", "--version", "1.0.0", "--environment", "Dev", "--watch")
	if !strings.Contains(out, "Skipped: the step does not run for releases in this channel") || strings.Contains(out, "this is a beta") {
		t.Fatalf("the stable deployment:\n%s", out)
	}
	if r := s.pulpo("release", "deploy", "-p", "shop", "--version", "1.2.0-beta.2", "--environment", "Test"); r.code == 0 || !strings.Contains(r.stderr, "Betas to Dev") {
		t.Fatalf("Beta's lifecycle has no Test: exit %d\n%s", r.code, r.stderr)
	}
}

// TestRunbooks: a runbook runs its published snapshot (steps and variables
// as published) in the environments it allows, on demand or on a
// schedule, apart from releases and the dashboard.
func TestRunbooks(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	config := `environments:
  - name: Dev
  - name: Production
projects:
  - name: shop
    steps:
      - name: Hello
        script: {body: echo hello}
    runbooks:
      - name: Restart
        environments: [Production]
        steps:
          - name: Restart web
            script:
              body: |
                echo "restarting in #{Octopus.Environment.Name} via #{Octopus.Runbook.Name} snapshot #{Octopus.RunbookSnapshot.Name}: #{Greeting}"
    variables:
      - {name: Greeting, value: %s}
`
	applyText(t, s, fmt.Sprintf(config, "first"))
	if r := s.pulpo("runbook", "run", "-p", "shop", "Restart", "--environment", "Production"); r.code == 0 || !strings.Contains(r.stderr, "has no published snapshot yet") {
		t.Fatalf("running an unpublished runbook: exit %d\n%s", r.code, r.stderr)
	}
	s.ok("runbook", "publish", "-p", "shop", "Restart")
	applyText(t, s, fmt.Sprintf(config, "second")) // after the publish: not in snapshot 1
	out := s.ok("runbook", "run", "-p", "shop", "Restart", "--environment", "Production", "--watch")
	if !strings.Contains(out, "restarting in Production via Restart snapshot 1: first") {
		t.Fatalf("the run should use snapshot 1:\n%s", out)
	}
	if r := s.pulpo("runbook", "run", "-p", "shop", "Restart", "--environment", "Dev"); r.code == 0 || !strings.Contains(r.stderr, "runbook Restart does not run in Dev") {
		t.Fatalf("an environment the runbook does not allow: exit %d\n%s", r.code, r.stderr)
	}
	if out := s.ok("runbook", "publish", "-p", "shop", "Restart"); !strings.Contains(out, "Published snapshot 2") {
		t.Fatalf("publish:\n%s", out)
	}
	s.ok("trigger", "create", "-p", "shop", "Hourly restart", "--cron", "@hourly", "--runbook", "Restart", "--to", "Production")
	s.ok("trigger", "run", "-p", "shop", "Hourly restart")
	var runs struct {
		Items []struct {
			TaskID    string `json:"taskId"`
			CreatedBy string `json:"createdBy"`
		} `json:"items"`
	}
	s.okJSON(&runs, "runbook", "runs", "-p", "shop", "Restart")
	if len(runs.Items) != 2 || runs.Items[0].CreatedBy != "trigger Hourly restart" {
		t.Fatalf("runs: %+v", runs.Items)
	}
	if out := s.ok("task", "watch", runs.Items[0].TaskID); !strings.Contains(out, "snapshot 2: second") {
		t.Fatalf("the scheduled run should use snapshot 2:\n%s", out)
	}
	if out := s.ok("release", "list", "-p", "shop"); strings.Contains(out, "Snapshot") || strings.Contains(out, "\n1 ") {
		t.Fatalf("snapshots are not releases:\n%s", out)
	}
	var dash struct {
		Cells []any `json:"cells"`
	}
	s.okJSON(&dash, "dashboard")
	if len(dash.Cells) != 0 {
		t.Fatalf("runbook runs are not deployments on the dashboard: %+v", dash.Cells)
	}
}

// TestReleaseRetention: releases beyond the lifecycle's retention go with
// their deployments, but never the newest, nor what an environment has now
// or had just before (a rollback's target).
func TestReleaseRetention(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, `environments:
  - name: Dev
lifecycles:
  - name: Short memory
    releaseRetention: {keepReleases: 1}
    phases:
      - {name: Dev, manualEnvironments: [Dev]}
projects:
  - name: shop
    lifecycle: Short memory
    steps:
      - name: Hello
        script: {body: echo hello}
`)
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"} {
		s.ok("release", "create", "-p", "shop", "--version", v)
	}
	s.ok("release", "deploy", "-p", "shop", "--version", "1.1.0", "--environment", "Dev", "--watch")
	s.ok("release", "deploy", "-p", "shop", "--version", "1.2.0", "--environment", "Dev", "--watch")
	out := s.ok("release", "apply-retention")
	if !strings.Contains(out, "Removed release 1.0.0") || !strings.Contains(out, "Removed release 1.3.0") || strings.Count(out, "Removed") != 2 {
		t.Fatalf("retention should remove 1.0.0 and 1.3.0 only:\n%s", out)
	}
	list := s.ok("release", "list", "-p", "shop")
	for _, v := range []string{"1.1.0", "1.2.0", "1.4.0"} {
		if !strings.Contains(list, v) {
			t.Errorf("%s should be kept:\n%s", v, list)
		}
	}
	if out := s.ok("release", "apply-retention"); !strings.Contains(out, "Retention removed no release") {
		t.Fatalf("a second run has nothing to do:\n%s", out)
	}
}

// TestAMachineTriggerBringsANewTargetUpToDate: a target joining the
// environment gets the release current there, deployed to it alone.
func TestAMachineTriggerBringsANewTargetUpToDate(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, `environments:
  - name: Dev
projects:
  - name: shop
    steps:
      - name: Install
        targetRoles: [web]
        script: {body: "echo installed #{Octopus.Release.Number} on #{Octopus.Machine.Name}"}
`)
	addListeningAgent(t, s, "web-1", "--environment", "Dev", "--role", "web")
	s.ok("release", "create", "-p", "shop", "--version", "1.0.0")
	s.ok("release", "deploy", "-p", "shop", "--version", "1.0.0", "--environment", "Dev", "--watch")
	if r := s.pulpo("trigger", "create", "-p", "shop", "Bad", "--on-machine", "rebooted"); r.code == 0 || !strings.Contains(r.stderr, `"rebooted" is not a machine event`) {
		t.Fatalf("a bad machine event: exit %d\n%s", r.code, r.stderr)
	}
	s.ok("trigger", "create", "-p", "shop", "New web servers", "--on-machine", "joined", "--role", "web", "--to", "Dev")

	addListeningAgent(t, s, "web-2", "--environment", "Dev", "--role", "web")
	var deps struct {
		Items []struct {
			TaskID    string `json:"taskId"`
			CreatedBy string `json:"createdBy"`
		} `json:"items"`
	}
	s.okJSON(&deps, "deployment", "list", "-p", "shop")
	if len(deps.Items) != 2 || deps.Items[0].CreatedBy != "trigger New web servers (web-2 joined)" {
		t.Fatalf("web-2 joining should deploy 1.0.0 to it: %+v", deps.Items)
	}
	out := s.ok("task", "watch", deps.Items[0].TaskID)
	if !strings.Contains(out, "installed 1.0.0 on web-2") || strings.Contains(out, "on web-1") {
		t.Fatalf("only web-2 should be deployed to:\n%s", out)
	}
	// By hand: one machine, or all but one.
	out = s.ok("release", "deploy", "-p", "shop", "--version", "1.0.0", "--environment", "Dev", "--exclude-machine", "web-2", "--watch")
	if !strings.Contains(out, "on web-1") || strings.Contains(out, "on web-2") {
		t.Fatalf("--exclude-machine web-2:\n%s", out)
	}
}

package cli

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// A runbook's steps are edited from the command line with the flags of
// "process step add"; "runbook show" tells the draft from what runs, and the
// published runbook runs on the built-in worker.
func TestRunbookStepsFromTheCommandLine(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed: ", err)
	}
	s := startCLIServer(t)
	s.ok("environment", "create", "Dev")
	s.ok("environment", "create", "Production")
	s.ok("project", "create", "web")
	s.ok("variable", "set", "-p", "web", "Greeting", "hello")
	s.ok("runbook", "create", "-p", "web", "Restart", "--script", `echo "restarting in #{Octopus.Environment.Name}"`, "--environment", "Dev")

	rb := []string{"-p", "web", "--runbook", "Restart"}
	step := func(args ...string) []string {
		return append(append([]string{"runbook", "step"}, args[0]), append(append([]string{}, rb...), args[1:]...)...)
	}
	out := s.ok(step("add", "--name", "Greet", "--syntax", "python", "--script", `printhighlight("greeting: " + get_octopusvariable("Greeting"))`)...)
	contains(t, "add's output", out, `Added step "Greet" to runbook "Restart" as step 2`, "pulpo runbook publish -p web \"Restart\"")
	s.ok(step("add", "--name", "Mail ops", "--condition", "failure", "--email-to", "ops@example.com", "--email-subject", "Restart failed in #{Octopus.Environment.Name}")...)
	s.ok(step("add", "--name", "Check web", "--health-check", "--health-check-on-error", "skip", "--role", "web", "--position", "1")...)
	s.ok(step("add", "--name", "Done", "--script", "echo done", "--on-server")...)

	var steps []model.Step
	if err := json.Unmarshal([]byte(s.ok(step("list", "-o", "json")...)), &steps); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range steps {
		got = append(got, st.Name+":"+st.Kind())
	}
	if want := "Check web:health-check,Restart:script,Greet:script,Mail ops:email,Done:script"; strings.Join(got, ",") != want {
		t.Errorf("steps %s, want %s", strings.Join(got, ","), want)
	}
	if steps[2].Script.Syntax != model.SyntaxPython || steps[3].Email.Subject != "Restart failed in #{Octopus.Environment.Name}" ||
		steps[3].Condition != model.ConditionFailure || steps[0].HealthCheck.OnError != model.HealthCheckSkip || !steps[4].RunOnServer {
		t.Errorf("steps not as the flags said: %+v", steps)
	}
	list := s.ok(step("list")...)
	if !regexp.MustCompile(`(?s)1\s+Check web\s+health-check.*2\s+Restart\s+script.*3\s+Greet\s+script.*4\s+Mail ops\s+email.*5\s+Done\s+script`).MatchString(list) {
		t.Errorf("step list out of order or without kinds:\n%s", list)
	}

	var saved model.Runbook
	if err := json.Unmarshal([]byte(s.ok(step("add", "--name", "Ask", "--manual", "Go on?", "-o", "json")...)), &saved); err != nil {
		t.Fatal(err)
	}
	if len(saved.Steps) != 6 || saved.Steps[5].Manual == nil || saved.PublishedSnapshotID != "" {
		t.Errorf("step add -o json: %+v", saved)
	}
	if err := json.Unmarshal([]byte(s.ok(step("remove", "Ask", "-o", "json")...)), &saved); err != nil || len(saved.Steps) != 5 {
		t.Errorf("step remove -o json: %+v, %v", saved, err)
	}
	out = s.ok(step("remove", "check WEB")...)
	contains(t, "remove's output", out, `Removed step "check WEB" from runbook "Restart"`, "pulpo runbook publish")
	s.fails(`runbook Restart has no step "Check web"`, step("remove", "Check web")...)

	show := s.ok("runbook", "show", "-p", "web", "Restart")
	contains(t, "show before publishing", show, "Environments: Dev", "Published:    not yet", "Draft:        not published",
		"Greet", "python: printhighlight", `email "Restart failed in #{Octopus.Environment.Name}" to ops@example.com`, "pulpo runbook publish")
	if strings.Contains(show, "Check web") {
		t.Errorf("show still has the removed step:\n%s", show)
	}

	s.ok("runbook", "publish", "-p", "web", "Restart")
	var v runbookView
	if err := json.Unmarshal([]byte(s.ok("runbook", "show", "-p", "web", "Restart", "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	if v.PublishedSnapshot == nil || v.PublishedSnapshot.Version != "1" || v.DraftChanged || len(v.Steps) != 4 {
		t.Errorf("after publishing: %+v", v)
	}
	contains(t, "show after publishing", s.ok("runbook", "show", "-p", "web", "Restart"), "snapshot 1 (", "Draft:        same steps as the published snapshot")

	s.fails("runbook Restart does not run in Production", "runbook", "run", "-p", "web", "Restart", "--environment", "Production")
	out = s.ok("runbook", "run", "-p", "web", "Restart", "--environment", "Dev", "--watch")
	contains(t, "the run's log", out, "restarting in Dev", "greeting: hello", "done")
	runs := s.ok("runbook", "runs", "-p", "web", "Restart")
	contains(t, "runs", runs, "Success")

	// A change to the draft shows until the next publish.
	s.ok(step("remove", "Done")...)
	contains(t, "show after a change", s.ok("runbook", "show", "-p", "web", "Restart"), "Draft:        changed since", "pulpo runbook publish")

	// A runbook that has run stays, for its runs' sake; one that has not goes.
	s.fails(`runbook "Restart" has 1 runs on record; it cannot be deleted`, "runbook", "delete", "-p", "web", "Restart")
	s.ok("runbook", "create", "-p", "web", "Scratch", "--script", "true")
	// The other kinds go into a runbook as into a process.
	s.ok("project", "create", "db")
	s.ok("runbook", "step", "add", "-p", "web", "--runbook", "Scratch", "--name", "Deploy db", "--deploy-release", "db", "--deploy-mode", "ifNewer")
	s.ok("runbook", "step", "add", "-p", "web", "--runbook", "Scratch", "--name", "Ask", "--manual", "Go on?")
	s.ok("runbook", "step", "add", "-p", "web", "--runbook", "Scratch", "--name", "Install", "--package", "web-app", "--role", "web")
	contains(t, "other kinds", s.ok("runbook", "step", "list", "-p", "web", "--runbook", "Scratch"), "deploy-release", "manual", "package")
	contains(t, "delete", s.ok("runbook", "delete", "-p", "web", "Scratch"), `Deleted runbook "Scratch"`)
	s.ok("runbook", "create", "-p", "web", "Scratch2", "--script", "true")
	contains(t, "delete -o json", s.ok("runbook", "delete", "-p", "web", "Scratch2", "-o", "json"), `"name": "Scratch2"`)
	contains(t, "list after delete", s.ok("runbook", "list", "-p", "web", "-o", "json"), `"Restart"`)
	if strings.Contains(s.ok("runbook", "list", "-p", "web"), "Scratch") {
		t.Error("the deleted runbook is still listed")
	}

	for _, c := range []struct {
		want string
		args []string
	}{
		{`the project has no runbook "Nope"`, []string{"runbook", "step", "add", "-p", "web", "--runbook", "Nope", "--name", "X", "--script", "true"}},
		{`the project has no runbook "Nope"`, []string{"runbook", "step", "list", "-p", "web", "--runbook", "Nope"}},
		{`the project has no runbook "Nope"`, []string{"runbook", "show", "-p", "web", "Nope"}},
		{`the project has no runbook "Nope"`, []string{"runbook", "delete", "-p", "web", "Nope"}},
		{`required flag(s) "runbook" not set`, []string{"runbook", "step", "list", "-p", "web"}},
		// The checks of "process step add", word for word.
		{"--health-check makes a health check step", step("add", "--name", "X", "--health-check", "--role", "web", "--script", "true")},
		{"--email-* flags make an email step", step("add", "--name", "X", "--email-to", "a@example.com", "--email-subject", "S", "--script", "true")},
		{"email.subject: is required", step("add", "--name", "X", "--email-to", "a@example.com")},
		{"give the script with exactly one of --script or --script-file", step("add", "--name", "X")},
	} {
		s.fails(c.want, c.args...)
	}
}

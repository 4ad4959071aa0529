package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// An email step made on the command line is stored as the flags say (its
// teams by id); the server refuses what the model or the store finds wrong.
func TestProcessStepAddMakesAnEmailStep(t *testing.T) {
	s := startCLIServer(t)
	s.ok("project", "create", "web")
	s.ok("team", "create", "Ops")
	var teams []model.Team
	if err := json.Unmarshal([]byte(s.ok("team", "list", "-o", "json")), &teams); err != nil {
		t.Fatal(err)
	}
	ops := ""
	for _, team := range teams {
		if team.Name == "Ops" {
			ops = team.ID
		}
	}
	body := filepath.Join(t.TempDir(), "body.html")
	os.WriteFile(body, []byte("<p>#{Octopus.Release.Notes}</p>"), 0o644)
	s.ok("process", "step", "add", "-p", "web", "--name", "Notes", "--email-to", "a@example.com", "--email-to", "#{Owner}",
		"--email-to-team", "Ops", "--email-cc", "lead@example.com", "--email-cc-team", "Ops", "--email-bcc", "audit@example.com", "--email-bcc-team", "Ops",
		"--email-subject", "#{Octopus.Release.Number} in #{Octopus.Environment.Name}", "--email-body-file", body, "--email-html")
	s.ok("process", "step", "add", "-p", "web", "--name", "Failed", "--condition", "failure", "--retries", "2",
		"--email-to-team", "Ops", "--email-subject", "Failed", "--email-body", "#{Octopus.Deployment.Error}")
	var d model.DeploymentProcess
	if err := json.Unmarshal([]byte(s.ok("process", "show", "-p", "web", "-o", "json")), &d); err != nil {
		t.Fatal(err)
	}
	want := []model.EmailAction{
		{To: []string{"a@example.com", "#{Owner}"}, ToTeams: []string{ops}, Cc: []string{"lead@example.com"}, CcTeams: []string{ops},
			Bcc: []string{"audit@example.com"}, BccTeams: []string{ops}, Subject: "#{Octopus.Release.Number} in #{Octopus.Environment.Name}",
			Body: "<p>#{Octopus.Release.Notes}</p>", IsHTML: true},
		{ToTeams: []string{ops}, Subject: "Failed", Body: "#{Octopus.Deployment.Error}"},
	}
	if len(d.Steps) != 2 {
		t.Fatalf("steps %+v", d.Steps)
	}
	for i, w := range want {
		got, _ := json.Marshal(d.Steps[i].Email)
		exp, _ := json.Marshal(w)
		if string(got) != string(exp) {
			t.Errorf("step %d: %s, want %s", i, got, exp)
		}
	}
	if d.Steps[1].Condition != model.ConditionFailure || d.Steps[1].Retries != 2 {
		t.Errorf("step 2 %+v", d.Steps[1])
	}
	table := s.ok("process", "show", "-p", "web")
	if !strings.Contains(table, `email "Failed" to team `+ops) || !strings.Contains(table, "server") {
		t.Errorf("table:\n%s", table)
	}
	for _, tt := range []struct {
		problem string
		args    []string
	}{
		{"email.subject: is required", []string{"--email-to", "a@example.com"}},
		{"email.to: is required", []string{"--email-subject", "S"}},
		{`"ops at example" is not an email address`, []string{"--email-to", "ops at example", "--email-subject", "S"}},
		{`team "Nobody" does not exist`, []string{"--email-to-team", "Nobody", "--email-subject", "S"}},
		{"--email-* flags make an email step", []string{"--email-to", "a@example.com", "--email-subject", "S", "--script", "true"}},
		{"--email-body or --email-body-file, not both", []string{"--email-to", "a@example.com", "--email-subject", "S", "--email-body", "x", "--email-body-file", body}},
	} {
		s.fails(tt.problem, append([]string{"process", "step", "add", "-p", "web", "--name", "X"}, tt.args...)...)
	}
}

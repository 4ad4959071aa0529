package cli

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// The step template and script module commands, end to end against a
// server: create, use in a step, update, dry run, move, usage, refusal.
func TestStepTemplateCommands(t *testing.T) {
	s := startCLIServer(t)
	ctx := context.Background()
	if _, err := s.c.CreateProject(ctx, model.Project{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	s.ok("script-module", "create", "common", "--body", "say() { echo \"$1\"; }")
	contains(t, "script-module list", s.ok("script-module", "list"), "common", "bash")
	s.ok("step-template", "create", "Notify", "--script", "say #{Message}", "--parameter", "Message=hello",
		"--parameter", "Mode:select(a|b)=a", "--parameter", "Token:sensitive")
	contains(t, "step-template show", s.ok("step-template", "show", "Notify"), "version 1", "Token", "sensitive", "a|b")
	s.ok("process", "step", "add", "-p", "web", "--name", "Tell", "--template", "Notify", "--parameter", "Token=pw", "--script-module", "common")
	contains(t, "process show", s.ok("process", "show", "-p", "web"), "template ActionTemplates-1 v1")

	contains(t, "update", s.ok("step-template", "update", "Notify", "--script", "say v2 #{Message}"), "version 2")
	contains(t, "usage", s.ok("step-template", "usage", "Notify"), "web", "Tell", "behind (newest is 2)")
	contains(t, "dry run", s.ok("process", "update-template", "-p", "web", "Tell", "--dry-run"), "Would move step \"Tell\" from version 1 to 2", "script.body")
	var u wire.StepTemplateUpdate
	if err := json.Unmarshal([]byte(s.ok("process", "update-template", "-p", "web", "Tell", "-o", "json")), &u); err != nil || u.DryRun || u.Change.To != 2 {
		t.Fatalf("update-template: %+v, %v", u, err)
	}
	contains(t, "usage", s.ok("step-template", "usage", "Notify"), "current")
	s.ok("runbook", "create", "-p", "web", "Ping", "--template", "Notify", "--parameter", "Message=ping")
	s.ok("step-template", "update", "Notify", "--script", "say v3 #{Message}")
	contains(t, "runbook dry run", s.ok("runbook", "update-template", "-p", "web", "Ping", "Ping", "--dry-run"), "Would move step \"Ping\" from version 2 to 3")
	s.fails("is used by web", "step-template", "delete", "Notify")
	s.fails("is included by web", "script-module", "delete", "common")
	s.fails("a sensitive parameter has no default", "step-template", "create", "Bad", "--script", "echo", "--parameter", "P:sensitive=x")
}

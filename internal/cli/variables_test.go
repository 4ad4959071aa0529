package cli

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// Values are scoped to channels and steps by name, and listed by name.
func TestVariableScopesToChannelsAndStepsByName(t *testing.T) {
	s := startCLIServer(t)
	ctx := context.Background()
	p, err := s.c.CreateProject(ctx, model.Project{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{
		{Name: "Deploy", Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo #{Banner}"}}}}); err != nil {
		t.Fatal(err)
	}
	var beta model.Channel
	for _, name := range []string{"Stable", "Beta"} {
		if beta, err = s.c.CreateChannel(ctx, model.Channel{ProjectID: p.ID, Name: name}); err != nil {
			t.Fatal(err)
		}
	}

	s.ok("variable", "set", "-p", "web", "Banner", "stable")
	s.ok("variable", "set", "-p", "web", "Banner", "beta build", "--channel", "beta")
	s.ok("variable", "set", "-p", "web", "Banner", "beta deploy", "--channel", "Beta", "--step", "Deploy")

	var vars []model.Variable
	if err := json.Unmarshal([]byte(s.ok("variable", "list", "-p", "web", "-o", "json")), &vars); err != nil {
		t.Fatal(err)
	}
	if len(vars) != 3 || !reflect.DeepEqual(vars[1].Scope.Channels, []string{beta.ID}) || !reflect.DeepEqual(vars[2].Scope.Channels, []string{beta.ID}) {
		t.Fatalf("the Beta channel is %s; variables %+v", beta.ID, vars)
	}
	contains(t, "variable list", s.ok("variable", "list", "-p", "web"), "channels: Beta\n", "steps: Deploy; channels: Beta\n")

	// Setting the same scope again replaces the value.
	s.ok("variable", "set", "-p", "web", "Banner", "beta 2", "--channel", "Beta")
	contains(t, "variable list", s.ok("variable", "list", "-p", "web"), "beta 2")
	s.ok("variable", "delete", "-p", "web", "Banner", "--channel", "Beta", "--step", "Deploy")
	if err := json.Unmarshal([]byte(s.ok("variable", "list", "-p", "web", "-o", "json")), &vars); err != nil || len(vars) != 2 {
		t.Fatalf("after delete: %+v, %v", vars, err)
	}

	s.fails(`project web has no channel "Nightly"`, "variable", "set", "-p", "web", "Banner", "x", "--channel", "Nightly")
	s.ok("library-set", "create", "Common")
	s.fails("a library set's values cannot be scoped to channels", "variable", "set", "--library-set", "Common", "Banner", "x", "--channel", "Beta")
}

package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

func TestHealthCheckStepsOnTheCommandLine(t *testing.T) {
	s := startCLIServer(t)
	s.ok("project", "create", "web")
	s.ok("process", "step", "add", "-p", "web", "--name", "Check", "--health-check", "--role", "web")
	s.ok("process", "step", "add", "-p", "web", "--name", "Recheck", "--health-check", "--health-check-type", "connection",
		"--health-check-on-error", "skip", "--include-new-targets", "--role", "web", "--role", "api")
	var d model.DeploymentProcess
	if err := json.Unmarshal([]byte(s.ok("process", "show", "-p", "web", "-o", "json")), &d); err != nil {
		t.Fatal(err)
	}
	want := []model.HealthCheckAction{{Type: model.HealthCheckFull, OnError: model.HealthCheckFail},
		{Type: model.HealthCheckConnection, OnError: model.HealthCheckSkip, IncludeNewTargets: true}}
	if len(d.Steps) != 2 {
		t.Fatalf("steps: %+v", d.Steps)
	}
	for i, st := range d.Steps {
		if st.HealthCheck == nil || *st.HealthCheck != want[i] || st.Script != nil {
			t.Errorf("step %d: %+v, health check %+v", i, st, st.HealthCheck)
		}
	}
	if strings.Join(d.Steps[1].TargetRoles, ",") != "web,api" {
		t.Errorf("roles: %v", d.Steps[1].TargetRoles)
	}
	shown := s.ok("process", "show", "-p", "web")
	for _, w := range []string{"health-check", "health check, fail on unhealthy targets", "connection test, skip unhealthy targets, include new targets"} {
		if !strings.Contains(shown, w) {
			t.Errorf("process show lacks %q:\n%s", w, shown)
		}
	}

	for _, c := range []struct {
		want string
		args []string
	}{
		{"targetRoles: is required: a health check checks", []string{"--health-check"}},
		{"--health-check makes a health check step", []string{"--health-check", "--role", "web", "--script", "true"}},
		{"--health-check makes a health check step", []string{"--health-check", "--role", "web", "--package-ref", "name=a,package=b"}},
		{"add --health-check", []string{"--include-new-targets", "--script", "true"}},
		{"--health-check-type is full or connection", []string{"--health-check", "--role", "web", "--health-check-type", "deep"}},
		{"--health-check-on-error is fail or skip", []string{"--health-check", "--role", "web", "--health-check-on-error", "ignore"}},
	} {
		s.fails(c.want, append([]string{"process", "step", "add", "-p", "web", "--name", "X"}, c.args...)...)
	}
}

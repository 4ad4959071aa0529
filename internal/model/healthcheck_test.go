package model

import (
	"strings"
	"testing"
)

func TestHealthCheckStepValidation(t *testing.T) {
	hc := func(mod func(*Step)) []Step {
		s := Step{Name: "Check", TargetRoles: []string{"web"}, HealthCheck: &HealthCheckAction{}}
		mod(&s)
		return []Step{s}
	}
	tests := []struct {
		name    string
		steps   []Step
		problem string // "" when valid
	}{
		{"defaults", hc(func(*Step) {}), ""},
		{"every option", hc(func(s *Step) {
			s.HealthCheck = &HealthCheckAction{Type: HealthCheckConnection, OnError: HealthCheckSkip, IncludeNewTargets: true}
		}), ""},
		{"full and fail", hc(func(s *Step) { s.HealthCheck = &HealthCheckAction{Type: HealthCheckFull, OnError: HealthCheckFail} }), ""},
		{"no roles", hc(func(s *Step) { s.TargetRoles = nil }), "targetRoles: is required: a health check checks the deployment targets"},
		{"unknown type", hc(func(s *Step) { s.HealthCheck.Type = "deep" }), `healthCheck.type: "deep" is not a health check type: use full or connectionOnly`},
		{"unknown answer", hc(func(s *Step) { s.HealthCheck.OnError = "ignore" }), `healthCheck.onError: "ignore" is not an answer to a failed check: use fail or skip`},
		{"on a worker pool", hc(func(s *Step) { s.WorkerPoolID = "WorkerPools-1" }), "leave out workerPoolId and runOnServer"},
		{"on the server", hc(func(s *Step) { s.RunOnServer = true }), "leave out workerPoolId and runOnServer"},
		{"retried", hc(func(s *Step) { s.Retries = 2 }), "retries: a health check is not retried"},
		{"rolling", hc(func(s *Step) { s.WindowSize = 2 }), "windowSize: a health check does not roll"},
		{"variable condition", hc(func(s *Step) { s.Condition, s.ConditionExpression = ConditionVariable, "#{X}" }), "takes no variable condition"},
		{"with a script too", hc(func(s *Step) { s.Script = &ScriptAction{Syntax: SyntaxBash, Body: "x"} }), "does one thing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DeploymentProcess{Steps: tt.steps}
			err := d.Validate()
			switch {
			case tt.problem == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem)):
				t.Fatalf("expected %q, got %v", tt.problem, err)
			}
		})
	}
	if k := (&Step{HealthCheck: &HealthCheckAction{}}).Kind(); k != "health-check" {
		t.Fatalf("kind %q", k)
	}
}

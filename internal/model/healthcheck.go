package model

// HealthCheckAction re-checks, during a deployment, the targets of the
// step's roles (Octopus's Health Check step): typically after a step that
// provisioned or restarted machines. The server checks each target itself;
// no script of the step runs on them.
type HealthCheckAction struct {
	// Type is full (reach the machine and run its policy's health
	// script; the default) or connectionOnly (only reach it).
	Type HealthCheckType `json:"type,omitempty" yaml:"type,omitempty"`
	// OnError says what an unhealthy or unavailable target does: fail the
	// step (the default) or skip the target for the rest of the deployment.
	OnError HealthCheckOnError `json:"onError,omitempty" yaml:"onError,omitempty"`
	// IncludeNewTargets checks, and when healthy keeps in the deployment,
	// targets of the roles that were added or enabled after the deployment
	// started; without it they are left out of the rest of the deployment.
	IncludeNewTargets bool `json:"includeNewTargets,omitempty" yaml:"includeNewTargets,omitempty"`
}

// HealthCheckType says how much a health check step checks.
type HealthCheckType string

// Health check types, as Octopus's "Perform a full health check" and
// "Perform a connection-only test".
const (
	HealthCheckFull       HealthCheckType = "full"
	HealthCheckConnection HealthCheckType = "connectionOnly"
)

// HealthCheckOnError says what a health check step does with a target that
// is not healthy.
type HealthCheckOnError string

// As Octopus's "Fail the deployment" and "Skip deployment targets that are
// unavailable".
const (
	HealthCheckFail HealthCheckOnError = "fail"
	HealthCheckSkip HealthCheckOnError = "skip"
)

// ConnectionOnly reports whether the check only reaches the machine.
func (h *HealthCheckAction) ConnectionOnly() bool { return h.Type == HealthCheckConnection }

// SkipsUnhealthy reports whether unhealthy targets are left out rather
// than failing the step.
func (h *HealthCheckAction) SkipsUnhealthy() bool { return h.OnError == HealthCheckSkip }

func validateHealthCheck(p *problems, field string, s *Step) {
	h := s.HealthCheck
	switch h.Type {
	case "", HealthCheckFull, HealthCheckConnection:
	default:
		p.add(field+".healthCheck.type", "%q is not a health check type: use full or connectionOnly", h.Type)
	}
	switch h.OnError {
	case "", HealthCheckFail, HealthCheckSkip:
	default:
		p.add(field+".healthCheck.onError", "%q is not an answer to a failed check: use fail or skip", h.OnError)
	}
	if len(s.TargetRoles) == 0 {
		p.add(field+".targetRoles", "is required: a health check checks the deployment targets of these roles")
	}
	if s.WorkerPoolID != "" || s.RunOnServer {
		p.add(field, "a health check runs from the server on the targets of its roles: leave out workerPoolId and runOnServer")
	}
	if s.Retries > 0 {
		p.add(field+".retries", "a health check is not retried; use guided failure")
	}
	if s.WindowSize > 0 {
		p.add(field+".windowSize", "a health check does not roll: leave it out")
	}
	if s.ConditionExpression != "" || s.Condition == ConditionVariable {
		p.add(field+".condition", "a health check runs once for all its targets, so it takes no variable condition")
	}
	if len(s.ScriptModules) > 0 {
		p.add(field+".scriptModules", "a health check runs no script of its own")
	}
}

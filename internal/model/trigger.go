package model

import (
	"strings"
	"time"
)

// TriggerKind says what sets a trigger off.
type TriggerKind string

// Trigger kinds.
const (
	// TriggerPackage creates a release when a version of a package the
	// project deploys is pushed to the built-in feed; the lifecycle's
	// automatic phases then deploy it.
	TriggerPackage TriggerKind = "package"
	// TriggerSchedule deploys on a cron schedule: the release last deployed
	// to a source environment (or the newest release) to target ones.
	TriggerSchedule TriggerKind = "schedule"
	// TriggerMachine deploys the release current in an environment to a
	// machine of it that becomes available: joins it, or turns healthy.
	TriggerMachine TriggerKind = "machine"
)

// Machine events a machine trigger reacts to.
const (
	MachineJoined  = "joined"  // registered in the environment
	MachineHealthy = "healthy" // a health check found it healthy after it was not
)

// Trigger is something that starts work for a project by itself.
type Trigger struct {
	ID        string      `json:"id"`
	ProjectID string      `json:"projectId"`
	Name      string      `json:"name"`
	Disabled  bool        `json:"disabled,omitempty"`
	Kind      TriggerKind `json:"kind"`

	// PackageID is the package whose pushes create releases (package).
	PackageID string `json:"packageId,omitempty"`

	// Cron and TimeZone (IANA; UTC when empty) say when a schedule fires.
	Cron     string `json:"cron,omitempty"`
	TimeZone string `json:"timeZone,omitempty"`
	// SourceEnvironmentID: a schedule deploys the release last deployed
	// successfully there; empty deploys the project's newest release.
	SourceEnvironmentID string `json:"sourceEnvironmentId,omitempty"`
	// TargetEnvironmentIDs are where a schedule deploys (or runs its
	// runbook).
	TargetEnvironmentIDs []string `json:"targetEnvironmentIds,omitempty"`
	// RunbookID makes a schedule run that runbook's published snapshot
	// instead of deploying a release.
	RunbookID string `json:"runbookId,omitempty"`

	// MachineEvents (joined, healthy) set a machine trigger off for the
	// machines of TargetEnvironmentIDs (any environment when empty) with
	// any of Roles (any when empty).
	MachineEvents []string `json:"machineEvents,omitempty"`
	Roles         []string `json:"roles,omitempty"`

	// NextRunAt is when a schedule fires next; LastRunAt and LastResult
	// say what the last firing did.
	NextRunAt  *time.Time `json:"nextRunAt,omitempty"`
	LastRunAt  *time.Time `json:"lastRunAt,omitempty"`
	LastResult string     `json:"lastResult,omitempty"`
}

// Validate checks the trigger on its own (the cron expression and the
// references are checked where they can be looked up).
func (t *Trigger) Validate() error {
	p := problems{subject: "trigger"}
	checkName(&p, "name", t.Name)
	if t.ProjectID == "" {
		p.add("projectId", "is required")
	}
	switch t.Kind {
	case TriggerPackage:
		if !packageIDPattern.MatchString(t.PackageID) {
			p.add("packageId", "%q is not a package id", t.PackageID)
		}
		if t.Cron != "" || len(t.TargetEnvironmentIDs) > 0 || t.SourceEnvironmentID != "" {
			p.add("kind", "a package trigger creates releases; cron and environments belong to schedule triggers")
		}
	case TriggerSchedule:
		if strings.TrimSpace(t.Cron) == "" {
			p.add("cron", "is required, e.g. \"0 9 * * 1-5\" for 09:00 on weekdays")
		}
		if len(t.TargetEnvironmentIDs) == 0 {
			p.add("targetEnvironmentIds", "is required: where the schedule deploys")
		}
		if t.PackageID != "" {
			p.add("packageId", "belongs to package triggers")
		}
		if t.RunbookID != "" && t.SourceEnvironmentID != "" {
			p.add("sourceEnvironmentId", "a schedule that runs a runbook has no source environment")
		}
	case TriggerMachine:
		if len(t.MachineEvents) == 0 {
			p.add("machineEvents", "is required: %s, %s or both", MachineJoined, MachineHealthy)
		}
		for _, e := range t.MachineEvents {
			if e != MachineJoined && e != MachineHealthy {
				p.add("machineEvents", "%q is not a machine event: use %s or %s", e, MachineJoined, MachineHealthy)
			}
		}
		if t.Cron != "" || t.PackageID != "" || t.RunbookID != "" || t.SourceEnvironmentID != "" {
			p.add("kind", "a machine trigger deploys to machines as they become available; cron, packages, runbooks and source environments belong to other triggers")
		}
	case "":
		p.add("kind", "is required: package, schedule or machine")
	default:
		p.add("kind", "%q is not a kind of trigger: use package, schedule or machine", t.Kind)
	}
	return p.err()
}

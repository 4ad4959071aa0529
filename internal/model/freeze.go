package model

import (
	"slices"
	"time"
)

// DeploymentFreeze is a time window in which deployments to some
// environments (and projects) are refused unless someone overrides it.
type DeploymentFreeze struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	// EnvironmentIDs and ProjectIDs narrow the freeze; empty means all.
	EnvironmentIDs []string `json:"environmentIds,omitempty"`
	ProjectIDs     []string `json:"projectIds,omitempty"`
}

// Validate checks the freeze on its own.
func (f *DeploymentFreeze) Validate() error {
	p := problems{subject: "deployment freeze"}
	checkName(&p, "name", f.Name)
	switch {
	case f.Start.IsZero():
		p.add("start", "is required")
	case f.End.IsZero():
		p.add("end", "is required")
	case !f.End.After(f.Start):
		p.add("end", "must be after start")
	}
	return p.err()
}

// Covers reports whether the freeze stops a deployment of project to env at t.
func (f *DeploymentFreeze) Covers(projectID, envID string, t time.Time) bool {
	if t.Before(f.Start) || !t.Before(f.End) {
		return false
	}
	return (len(f.EnvironmentIDs) == 0 || slices.Contains(f.EnvironmentIDs, envID)) &&
		(len(f.ProjectIDs) == 0 || slices.Contains(f.ProjectIDs, projectID))
}

package model

// Runbook is an operations process of a project (restart a service, rotate
// a key, restore a backup): steps like a deployment's, run on demand or on
// a schedule in the environments it allows, without a release or a
// lifecycle. What runs is its published snapshot: the steps and the
// project's variables as they were when someone published it.
type Runbook struct {
	ID          string `json:"id"`
	ProjectID   string `json:"projectId"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Steps are the draft; publishing freezes them into a snapshot.
	Steps []Step `json:"steps"`
	// EnvironmentIDs are where it may run; empty allows every environment.
	EnvironmentIDs []string `json:"environmentIds,omitempty"`
	// PublishedSnapshotID is the snapshot runs use (a release of the
	// runbook); empty until the first publish.
	PublishedSnapshotID string `json:"publishedSnapshotId,omitempty"`
}

// Validate checks the runbook on its own.
func (r *Runbook) Validate() error {
	p := problems{subject: "runbook"}
	checkName(&p, "name", r.Name)
	if r.ProjectID == "" {
		p.add("projectId", "is required")
	}
	d := DeploymentProcess{Steps: r.Steps}
	if err := d.Validate(); err != nil {
		if ve, ok := err.(*ValidationError); ok {
			for _, problem := range ve.Problems {
				p.add("", "%s", problem)
			}
		} else {
			return err
		}
	}
	return p.err()
}

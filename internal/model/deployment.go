package model

import "time"

// Deployment sends a release to an environment. It runs as a task.
type Deployment struct {
	ID            string    `json:"id"`
	ReleaseID     string    `json:"releaseId"`
	ProjectID     string    `json:"projectId"`
	EnvironmentID string    `json:"environmentId"`
	TaskID        string    `json:"taskId"`
	CreatedAt     time.Time `json:"createdAt"`
	// CreatedBy is the user who asked for it, or "lifecycle" when the
	// lifecycle deployed it by itself.
	CreatedBy string `json:"createdBy,omitempty"`
	// State mirrors the task's state, so lists need no second lookup.
	State TaskState `json:"state"`
	// Prompted holds the values given for prompted variables, by name;
	// those of sensitive variables sealed. Not shown through the API.
	Prompted map[string]string `json:"-"`
}

// CreatedByLifecycle marks deployments a lifecycle's automatic phase started.
const CreatedByLifecycle = "lifecycle"

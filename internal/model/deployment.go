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
	// RunbookID marks a runbook run: ReleaseID is the runbook's snapshot.
	RunbookID string `json:"runbookId,omitempty"`
	// State mirrors the task's state, so lists need no second lookup.
	State TaskState `json:"state"`
	// Prompted holds the values given for prompted variables, by name;
	// those of sensitive variables sealed. Not shown through the API.
	Prompted map[string]string `json:"-"`
	DeploymentOptions
}

// DeploymentOptions are what the person asking for a deployment chose.
type DeploymentOptions struct {
	// SkipSteps are the ids of steps left out of this deployment.
	SkipSteps []string `json:"skipSteps,omitempty"`
	// GuidedFailure pauses the deployment when a step fails, to ask
	// whether to retry, ignore, exclude the machine or fail.
	GuidedFailure bool `json:"guidedFailure,omitempty"`
	// OverrideFreeze records that it was deployed despite a freeze.
	OverrideFreeze bool `json:"overrideFreeze,omitempty"`
	// SpecificMachineIDs limits steps on targets to these machines;
	// ExcludedMachineIDs leaves these out.
	SpecificMachineIDs []string `json:"specificMachineIds,omitempty"`
	ExcludedMachineIDs []string `json:"excludedMachineIds,omitempty"`
	// ParentVariables are the values a parent deployment passed down
	// (sealed); they win over the project's own. Not shown through the API.
	ParentVariables []ParentVariable `json:"-"`
}

// ParentVariable is a value a parent deployment gives its child.
type ParentVariable struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// CreatedByLifecycle marks deployments a lifecycle's automatic phase started.
const CreatedByLifecycle = "lifecycle"

// DashboardDeployment is one deployment as the dashboard shows it.
type DashboardDeployment struct {
	DeploymentID string     `json:"deploymentId"`
	TaskID       string     `json:"taskId"`
	ReleaseID    string     `json:"releaseId"`
	Version      string     `json:"version"`
	State        TaskState  `json:"state"`
	CreatedAt    time.Time  `json:"createdAt"`
	CompletedAt  *time.Time `json:"completedAt,omitempty"`
}

// DashboardCell is what one environment has of one project: the latest
// deployment (whatever its state), the release deployed successfully last
// (current) and the one successfully deployed before it (previous: what a
// rollback would deploy).
type DashboardCell struct {
	ProjectID     string               `json:"projectId"`
	EnvironmentID string               `json:"environmentId"`
	Latest        *DashboardDeployment `json:"latest,omitempty"`
	Current       *DashboardDeployment `json:"current,omitempty"`
	Previous      *DashboardDeployment `json:"previous,omitempty"`
}

package wire

import "github.com/pulpo-deploy/pulpo/internal/model"

// StepTemplateUpdate answers moving a project's step to its template's
// newest version: what changes and, unless it was a dry run, the saved
// process.
type StepTemplateUpdate struct {
	ProjectID string                   `json:"projectId"`
	RunbookID string                   `json:"runbookId,omitempty"`
	StepID    string                   `json:"stepId"`
	StepName  string                   `json:"stepName"`
	DryRun    bool                     `json:"dryRun"`
	Change    model.StepTemplateChange `json:"change"`
	// Process is the process (a runbook's: its steps) after the update
	// (before it, on a dry run).
	Process model.DeploymentProcess `json:"process"`
}

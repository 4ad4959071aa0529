package octoapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// createDeploymentCommand is Octopus's "deploy a release" command (v1).
type createDeploymentCommand struct {
	SpaceID                        string            `json:"spaceId"`
	ProjectName                    string            `json:"projectName"`
	ReleaseVersion                 string            `json:"releaseVersion"`
	EnvironmentNames               []string          `json:"environmentNames"`
	ForcePackageDownload           bool              `json:"forcePackageDownload"`
	ForcePackageRedeployment       bool              `json:"forcePackageRedeployment"`
	UpdateVariableSnapshot         bool              `json:"updateVariableSnapshot"`
	SpecificMachineNames           []string          `json:"specificMachineNames"`
	ExcludedMachineNames           []string          `json:"excludedMachineNames"`
	SkipStepNames                  []string          `json:"skipStepNames"`
	UseGuidedFailure               *bool             `json:"useGuidedFailure"`
	RunAt                          string            `json:"runAt"`
	NoRunAfter                     string            `json:"noRunAfter"`
	Variables                      map[string]string `json:"variables"`
	DeploymentFreezeNames          []string          `json:"deploymentFreezeNames"`
	DeploymentFreezeOverrideReason string            `json:"deploymentFreezeOverrideReason"`
}

type deploymentServerTask struct {
	DeploymentID string `json:"DeploymentId"`
	ServerTaskID string `json:"ServerTaskId"`
}

type createDeploymentResponse struct {
	DeploymentServerTasks []deploymentServerTask `json:"DeploymentServerTasks"`
}

// deployments serves /api/Spaces-1/deployments…
func (h *Handler) deployments(c *call, segs []string) error {
	switch {
	case len(segs) == 3 && strings.EqualFold(segs[0], "create") && strings.EqualFold(segs[2], "v1"):
		if c.r.Method != http.MethodPost {
			return methodNotAllowed(c.r)
		}
		switch strings.ToLower(segs[1]) {
		case "untenanted":
			return h.createDeployments(c)
		case "tenanted":
			return badRequest("Pulpo has no tenants: deploy without --tenant and --tenant-tag (untenanted)")
		}
	case len(segs) == 1:
		return c.get(func(c *call) error { return getOne(c, "/deployments/"+url.PathEscape(segs[0]), deploymentOf) })
	}
	return c.unserved("")
}

type deployment struct {
	ID                 string            `json:"Id"`
	ReleaseID          string            `json:"ReleaseId"`
	EnvironmentID      string            `json:"EnvironmentId"`
	ProjectID          string            `json:"ProjectId"`
	TaskID             string            `json:"TaskId"`
	Created            time.Time         `json:"Created"`
	DeployedBy         string            `json:"DeployedBy"`
	SpaceID            string            `json:"SpaceId"`
	SkipActions        []string          `json:"SkipActions"`
	SpecificMachineIDs []string          `json:"SpecificMachineIds"`
	ExcludedMachineIDs []string          `json:"ExcludedMachineIds"`
	Links              map[string]string `json:"Links"`
}

func deploymentOf(d model.Deployment) deployment {
	return deployment{ID: d.ID, ReleaseID: d.ReleaseID, EnvironmentID: d.EnvironmentID, ProjectID: d.ProjectID,
		TaskID: serverTaskID(d.TaskID), Created: d.CreatedAt, DeployedBy: d.CreatedBy, SpaceID: SpaceID,
		SkipActions: orEmpty(d.SkipSteps), SpecificMachineIDs: orEmpty(d.SpecificMachineIDs), ExcludedMachineIDs: orEmpty(d.ExcludedMachineIDs),
		Links: map[string]string{"Self": spacePath + "/deployments/" + d.ID, "Task": spacePath + "/tasks/" + serverTaskID(d.TaskID),
			"Release": spacePath + "/releases/" + d.ReleaseID}}
}

func (h *Handler) createDeployments(c *call) error {
	var cmd createDeploymentCommand
	if err := c.decodeBody(&cmd); err != nil {
		return err
	}
	var missing []string
	if cmd.ProjectName == "" {
		missing = append(missing, "projectName is required: the project's name or id")
	}
	if cmd.ReleaseVersion == "" {
		missing = append(missing, "releaseVersion is required")
	}
	if len(cmd.EnvironmentNames) == 0 {
		missing = append(missing, "environmentNames is required: one or more environments, by name or id")
	}
	if len(missing) > 0 {
		return &apiError{status: http.StatusBadRequest, msg: "the deployment command is incomplete", details: missing}
	}
	if len(cmd.DeploymentFreezeNames) > 0 && cmd.DeploymentFreezeOverrideReason == "" {
		return badRequest("deploymentFreezeNames needs deploymentFreezeOverrideReason: say why the deployment may go ahead during the freeze")
	}
	proj, err := projects.find(c, cmd.ProjectName)
	if isNotFound(err) {
		return badRequest("there is no project %q: give its name or id", cmd.ProjectName)
	}
	if err != nil {
		return err
	}
	var rel model.Release
	err = c.getJSON("/projects/"+url.PathEscape(proj.ID)+"/releases/"+url.PathEscape(cmd.ReleaseVersion), nil, &rel)
	if isNotFound(err) {
		return badRequest("project %s has no release %s", proj.Name, cmd.ReleaseVersion)
	}
	if err != nil {
		return err
	}
	req := wire.CreateDeploymentRequest{ReleaseID: rel.ID, Variables: cmd.Variables, SkipSteps: cmd.SkipStepNames,
		GuidedFailure: cmd.UseGuidedFailure, OverrideFreeze: cmd.DeploymentFreezeOverrideReason != ""}
	if req.NotBefore, err = octopusTime("runAt", cmd.RunAt); err != nil {
		return err
	}
	if req.NotAfter, err = octopusTime("noRunAfter", cmd.NoRunAfter); err != nil {
		return err
	}
	if req.SpecificMachineIDs, err = machineIDs(c, cmd.SpecificMachineNames); err != nil {
		return err
	}
	if req.ExcludedMachineIDs, err = machineIDs(c, cmd.ExcludedMachineNames); err != nil {
		return err
	}
	envs := make([]environment, 0, len(cmd.EnvironmentNames))
	for _, name := range cmd.EnvironmentNames {
		e, err := findEnvironment(c, name)
		if err != nil {
			return err
		}
		envs = append(envs, e)
	}
	if len(envs) > 1 {
		// All or none: Octopus checks every environment before queueing any.
		var progress []model.EnvironmentProgress
		if err := c.getJSON("/releases/"+url.PathEscape(rel.ID)+"/progression", nil, &progress); err != nil {
			return err
		}
		for _, e := range envs {
			for _, p := range progress {
				if p.EnvironmentID == e.ID && !p.CanDeploy {
					return &apiError{status: http.StatusConflict, msg: fmt.Sprintf("release %s cannot be deployed to %s yet: %s; nothing was deployed",
						rel.Version, e.Name, p.Reason)}
				}
			}
		}
	}
	if cmd.UpdateVariableSnapshot {
		if err := c.sendJSON(http.MethodPost, "/releases/"+url.PathEscape(rel.ID)+"/snapshot-variables", nil, nil); err != nil {
			return err
		}
	}
	out := createDeploymentResponse{DeploymentServerTasks: []deploymentServerTask{}}
	for _, e := range envs {
		req.EnvironmentID = e.ID
		var d model.Deployment
		if err := c.sendJSON(http.MethodPost, "/deployments", req, &d); err != nil {
			if len(out.DeploymentServerTasks) > 0 {
				return fmt.Errorf("deploy %s to %s after queueing %d deployment(s): %w", rel.Version, e.Name, len(out.DeploymentServerTasks), err)
			}
			return err
		}
		out.DeploymentServerTasks = append(out.DeploymentServerTasks, deploymentServerTask{DeploymentID: d.ID, ServerTaskID: serverTaskID(d.TaskID)})
	}
	return c.created(out)
}

// findEnvironment finds an environment by name (ignoring case) or id.
func findEnvironment(c *call, nameOrID string) (environment, error) {
	list, err := listAll[model.Environment](c, "/environments", url.Values{"name": {nameOrID}})
	if err != nil {
		return environment{}, err
	}
	if len(list) > 0 {
		return environments.convert(c, list[0]), nil
	}
	e, err := environments.find(c, nameOrID)
	if isNotFound(err) {
		return environment{}, badRequest("there is no environment %q: give its name or id", nameOrID)
	}
	return e, err
}

// machineIDs finds deployment targets by name or id.
func machineIDs(c *call, names []string) ([]string, error) {
	var ids []string
	for _, name := range names {
		list, err := listAll[model.Machine](c, "/machines", url.Values{"name": {name}})
		if err != nil {
			return nil, err
		}
		if len(list) > 0 {
			ids = append(ids, list[0].ID)
			continue
		}
		var m model.Machine
		err = c.getJSON("/machines/"+url.PathEscape(name), nil, &m)
		if isNotFound(err) {
			return nil, badRequest("there is no machine %q: give its name or id", name)
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, m.ID)
	}
	return ids, nil
}

// octopusTime reads a DateTimeOffset as Octopus's clients send it.
func octopusTime(field, s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return &t, nil
		}
	}
	return nil, badRequest("%s %q is not a date and time: write it like 2025-05-01T10:00:00+00:00", field, s)
}

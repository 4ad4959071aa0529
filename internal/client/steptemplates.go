package client

import (
	"context"
	"fmt"
	"net/url"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// CreateStepTemplate creates a step template (version 1).
func (c *Client) CreateStepTemplate(ctx context.Context, t model.StepTemplate) (model.StepTemplate, error) {
	var out model.StepTemplate
	return out, c.do(ctx, "POST", "/step-templates", t, &out)
}

// StepTemplates lists step templates (their newest versions).
func (c *Client) StepTemplates(ctx context.Context) ([]model.StepTemplate, error) {
	return all[model.StepTemplate](ctx, c, "/step-templates", ListOptions{})
}

// FindStepTemplate reads a step template by id or name.
func (c *Client) FindStepTemplate(ctx context.Context, idOrName string) (model.StepTemplate, error) {
	return find[model.StepTemplate](ctx, c, "/step-templates", "step template", idOrName)
}

// UpdateStepTemplate saves a change as the next version; t.Version must be
// the version read.
func (c *Client) UpdateStepTemplate(ctx context.Context, t model.StepTemplate) (model.StepTemplate, error) {
	return t, c.do(ctx, "PUT", "/step-templates/"+url.PathEscape(t.ID), t, &t)
}

// DeleteStepTemplate removes a step template no project uses.
func (c *Client) DeleteStepTemplate(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/step-templates/"+url.PathEscape(id), nil, nil)
}

// StepTemplateVersions lists every kept version, newest first.
func (c *Client) StepTemplateVersions(ctx context.Context, id string) ([]model.StepTemplate, error) {
	var out []model.StepTemplate
	return out, c.do(ctx, "GET", "/step-templates/"+url.PathEscape(id)+"/versions", nil, &out)
}

// StepTemplateVersion reads one kept version.
func (c *Client) StepTemplateVersion(ctx context.Context, id string, version int) (model.StepTemplate, error) {
	var out model.StepTemplate
	return out, c.do(ctx, "GET", fmt.Sprintf("/step-templates/%s/versions/%d", url.PathEscape(id), version), nil, &out)
}

// StepTemplateUsage lists the project steps made from a template.
func (c *Client) StepTemplateUsage(ctx context.Context, id string) ([]model.StepTemplateUsage, error) {
	var out []model.StepTemplateUsage
	return out, c.do(ctx, "GET", "/step-templates/"+url.PathEscape(id)+"/usage", nil, &out)
}

// UpdateStepTemplateOfStep moves a project's step (id or name) to its
// template's newest version; dryRun only says what would change.
func (c *Client) UpdateStepTemplateOfStep(ctx context.Context, projectID, step string, dryRun bool) (wire.StepTemplateUpdate, error) {
	var out wire.StepTemplateUpdate
	path := "/projects/" + url.PathEscape(projectID) + "/process/steps/" + url.PathEscape(step) + "/update-template"
	if dryRun {
		path += "?dryRun=true"
	}
	return out, c.do(ctx, "POST", path, nil, &out)
}

// CreateScriptModule creates a script module.
func (c *Client) CreateScriptModule(ctx context.Context, m model.ScriptModule) (model.ScriptModule, error) {
	var out model.ScriptModule
	return out, c.do(ctx, "POST", "/script-modules", m, &out)
}

// ScriptModules lists script modules.
func (c *Client) ScriptModules(ctx context.Context) ([]model.ScriptModule, error) {
	return all[model.ScriptModule](ctx, c, "/script-modules", ListOptions{})
}

// FindScriptModule reads a script module by id or name.
func (c *Client) FindScriptModule(ctx context.Context, idOrName string) (model.ScriptModule, error) {
	return find[model.ScriptModule](ctx, c, "/script-modules", "script module", idOrName)
}

// UpdateScriptModule replaces a script module.
func (c *Client) UpdateScriptModule(ctx context.Context, m model.ScriptModule) (model.ScriptModule, error) {
	return m, c.do(ctx, "PUT", "/script-modules/"+url.PathEscape(m.ID), m, &m)
}

// DeleteScriptModule removes a script module no step includes.
func (c *Client) DeleteScriptModule(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/script-modules/"+url.PathEscape(id), nil, nil)
}

// UpdateStepTemplateOfRunbookStep moves a runbook's step (id or name) to
// its template's newest version; dryRun only says what would change.
func (c *Client) UpdateStepTemplateOfRunbookStep(ctx context.Context, runbookID, step string, dryRun bool) (wire.StepTemplateUpdate, error) {
	var out wire.StepTemplateUpdate
	path := "/runbooks/" + url.PathEscape(runbookID) + "/steps/" + url.PathEscape(step) + "/update-template"
	if dryRun {
		path += "?dryRun=true"
	}
	return out, c.do(ctx, "POST", path, nil, &out)
}

// UpdateRunbook replaces a runbook's draft (its published snapshot stays).
func (c *Client) UpdateRunbook(ctx context.Context, r model.Runbook) (model.Runbook, error) {
	return r, c.do(ctx, "PUT", "/runbooks/"+url.PathEscape(r.ID), r, &r)
}

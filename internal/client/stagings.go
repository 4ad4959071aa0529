package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// StagingListOptions filter a list of stagings.
type StagingListOptions struct {
	// ProjectID keeps one project's stagings; every project the caller
	// may see when empty.
	ProjectID string
	// Name keeps the staging of this name (with ProjectID).
	Name string
	// WithoutArchived leaves archived stagings out.
	WithoutArchived bool
}

// Stagings lists stagings, ordered by project and name.
func (c *Client) Stagings(ctx context.Context, o StagingListOptions) ([]model.Staging, error) {
	q := url.Values{}
	if o.ProjectID != "" {
		q.Set("projectId", o.ProjectID)
	}
	if o.Name != "" {
		q.Set("name", o.Name)
	}
	if o.WithoutArchived {
		q.Set("archived", "false")
	}
	path := "/stagings"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out []model.Staging
	return out, c.do(ctx, "GET", path, nil, &out)
}

// FindStaging finds a project's staging by name, or by id.
func (c *Client) FindStaging(ctx context.Context, projectID, idOrName string) (model.Staging, error) {
	if idOrName == "" {
		return model.Staging{}, fmt.Errorf("no staging given")
	}
	list, err := c.Stagings(ctx, StagingListOptions{ProjectID: projectID, Name: idOrName})
	if err != nil {
		return model.Staging{}, err
	}
	if len(list) > 0 {
		return list[0], nil
	}
	// Not a name: perhaps an id of this project's staging.
	d, err := c.Staging(ctx, idOrName)
	if err == nil && d.ProjectID == projectID {
		return d.Staging, nil
	}
	if err != nil && !IsNotFound(err) {
		return model.Staging{}, err
	}
	return model.Staging{}, &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("the project has no staging %q (or your roles hide it from you)", idOrName)}
}

// Staging reads a staging with its effective configuration and history
// (newest action first).
func (c *Client) Staging(ctx context.Context, id string) (wire.StagingDetail, error) {
	var d wire.StagingDetail
	return d, c.do(ctx, "GET", "/stagings/"+url.PathEscape(id), nil, &d)
}

// CreateStaging creates a staging and queues its create script; a
// refused configuration comes back as an *Error with the config check's
// words in Details.
func (c *Client) CreateStaging(ctx context.Context, req wire.StagingRequest) (wire.StagingResult, error) {
	var out wire.StagingResult
	return out, c.do(ctx, "POST", "/stagings", req, &out)
}

// UpsertStaging creates the staging of req's project and name, or updates
// it (restoring it when archived).
func (c *Client) UpsertStaging(ctx context.Context, req wire.StagingRequest) (wire.StagingResult, error) {
	var out wire.StagingResult
	return out, c.do(ctx, "POST", "/stagings/upsert", req, &out)
}

// UpdateStaging changes a staging's configuration and queues its update
// script; ProjectID and Name in req are ignored.
func (c *Client) UpdateStaging(ctx context.Context, id string, req wire.StagingRequest) (wire.StagingResult, error) {
	var out wire.StagingResult
	return out, c.do(ctx, "POST", "/stagings/"+url.PathEscape(id)+"/update", req, &out)
}

// StagingAction asks for archive, restore or cleanup of a staging.
func (c *Client) StagingAction(ctx context.Context, id string, action model.StagingAction) (wire.StagingResult, error) {
	switch action {
	case model.StagingArchive, model.StagingRestore, model.StagingCleanup:
	default:
		return wire.StagingResult{}, fmt.Errorf("%q is not an action a staging can be asked for: use archive, restore or cleanup", action)
	}
	var out wire.StagingResult
	return out, c.do(ctx, "POST", "/stagings/"+url.PathEscape(id)+"/"+string(action), nil, &out)
}

// KeepStaging keeps a staging from idle expiry until keepUntil (an RFC 3339
// time, a date, a duration from now such as "72h", or "never"); "" puts it
// back under the template's idle expiry.
func (c *Client) KeepStaging(ctx context.Context, id, keepUntil string) (model.Staging, error) {
	var out model.Staging
	return out, c.do(ctx, "POST", "/stagings/"+url.PathEscape(id)+"/keep", wire.StagingRequest{KeepUntil: keepUntil}, &out)
}

// CancelStaging cancels the staging's action under way.
func (c *Client) CancelStaging(ctx context.Context, id string) (model.Task, error) {
	var out model.Task
	return out, c.do(ctx, "POST", "/stagings/"+url.PathEscape(id)+"/cancel", nil, &out)
}

// DeleteStaging forgets a staging without running any script.
func (c *Client) DeleteStaging(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/stagings/"+url.PathEscape(id), nil, nil)
}

// PromoteStaging turns a staging into a release of its project.
func (c *Client) PromoteStaging(ctx context.Context, id string, req wire.PromoteStagingRequest) (wire.CreateReleaseResponse, error) {
	var out wire.CreateReleaseResponse
	return out, c.do(ctx, "POST", "/stagings/"+url.PathEscape(id)+"/promote", req, &out)
}

// StagingTemplate reads a project's staging template (sensitive defaults
// masked).
func (c *Client) StagingTemplate(ctx context.Context, projectID string) (model.StagingTemplate, error) {
	var t model.StagingTemplate
	return t, c.do(ctx, "GET", "/projects/"+url.PathEscape(projectID)+"/staging-template", nil, &t)
}

// SaveStagingTemplate sets a project's staging template. t.Version is the
// version it was read at (a conflict if it changed since), or 0 to replace
// whatever is there.
func (c *Client) SaveStagingTemplate(ctx context.Context, t model.StagingTemplate) (model.StagingTemplate, error) {
	var out model.StagingTemplate
	return out, c.do(ctx, "PUT", "/projects/"+url.PathEscape(t.ProjectID)+"/staging-template", t, &out)
}

package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// PushOptions say how a package is pushed.
type PushOptions struct {
	// PackageID and Version override what the file name says.
	PackageID, Version string
	// OverwriteMode is FailIfExists (default), OverwriteExisting or IgnoreIfExists.
	OverwriteMode string
}

// PushPackage streams a package file of size bytes to the feed.
func (c *Client) PushPackage(ctx context.Context, fileName string, body io.Reader, size int64, o PushOptions) (wire.PushResult, error) {
	q := url.Values{"fileName": {fileName}}
	for k, v := range map[string]string{"packageId": o.PackageID, "version": o.Version, "overwriteMode": o.OverwriteMode} {
		if v != "" {
			q.Set(k, v)
		}
	}
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+"/packages?"+q.Encode(), body)
	if err != nil {
		return wire.PushResult{}, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		return wire.PushResult{}, fmt.Errorf("cannot reach the Pulpo server at %s: %w", strings.TrimSuffix(c.base, "/api/v1"), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return wire.PushResult{}, readError(resp)
	}
	var res wire.PushResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return res, fmt.Errorf("read the push's answer: %w", err)
	}
	return res, nil
}

// Packages lists the feed's packages (filters: packageId, partialName).
func (c *Client) Packages(ctx context.Context, o ListOptions) ([]model.Package, error) {
	return all[model.Package](ctx, c, "/packages", o)
}

// Package reads a package version by feed id (packages-<id>.<version>).
func (c *Client) Package(ctx context.Context, id string) (model.Package, error) {
	var p model.Package
	return p, c.do(ctx, "GET", "/packages/"+url.PathEscape(id), nil, &p)
}

// DownloadPackage writes a package version's file to w.
func (c *Client) DownloadPackage(ctx context.Context, id string, w io.Writer) (int64, error) {
	req, err := c.request(ctx, "GET", "/packages/"+url.PathEscape(id)+"/raw", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach the Pulpo server: %w", unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return 0, readError(resp)
	}
	return io.Copy(w, resp.Body)
}

// DeletePackage removes a package version from the feed.
func (c *Client) DeletePackage(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/packages/"+url.PathEscape(id), nil, nil)
}

// Artifacts lists a task's artifacts.
func (c *Client) Artifacts(ctx context.Context, taskID string) ([]model.Artifact, error) {
	var out []model.Artifact
	return out, c.do(ctx, "GET", "/tasks/"+url.PathEscape(taskID)+"/artifacts", nil, &out)
}

// DownloadArtifact writes a task's artifact to w.
func (c *Client) DownloadArtifact(ctx context.Context, taskID string, n int, w io.Writer) (int64, error) {
	req, err := c.request(ctx, "GET", fmt.Sprintf("/tasks/%s/artifacts/%d/raw", url.PathEscape(taskID), n), nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach the Pulpo server: %w", unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return 0, readError(resp)
	}
	return io.Copy(w, resp.Body)
}

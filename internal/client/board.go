package client

import (
	"context"
	"net/url"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// BoardFilter narrows the release board.
type BoardFilter struct {
	ProjectID, ProjectGroupID, EnvironmentID string
}

// ReleaseBoard reads the release board.
func (c *Client) ReleaseBoard(ctx context.Context, f BoardFilter) (model.Board, error) {
	q := url.Values{}
	for k, v := range map[string]string{"projectId": f.ProjectID, "projectGroupId": f.ProjectGroupID, "environmentId": f.EnvironmentID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	path := "/release-board"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var b model.Board
	return b, c.do(ctx, "GET", path, nil, &b)
}

// SharedBoard reads the board a share link's token opens.
func (c *Client) SharedBoard(ctx context.Context, token string) (model.Board, error) {
	var b model.Board
	return b, c.do(ctx, "GET", "/release-board/shared/"+url.PathEscape(token), nil, &b)
}

// CreateBoardShare makes a share link; its token is in the answer only.
func (c *Client) CreateBoardShare(ctx context.Context, req wire.CreateBoardShareRequest) (wire.CreatedBoardShare, error) {
	var out wire.CreatedBoardShare
	return out, c.do(ctx, "POST", "/release-board/shares", req, &out)
}

// BoardShares lists the share links.
func (c *Client) BoardShares(ctx context.Context) ([]model.BoardShare, error) {
	var out []model.BoardShare
	return out, c.do(ctx, "GET", "/release-board/shares", nil, &out)
}

// RevokeBoardShare stops a share link working.
func (c *Client) RevokeBoardShare(ctx context.Context, id string) (model.BoardShare, error) {
	var out model.BoardShare
	return out, c.do(ctx, "POST", "/release-board/shares/"+url.PathEscape(id)+"/revoke", nil, &out)
}

// PushBuildInformation records a CI build's information for a package
// version; mode is FailIfExists (when empty), OverwriteExisting or
// IgnoreIfExists.
func (c *Client) PushBuildInformation(ctx context.Context, b model.BuildInformation, mode string) (wire.BuildInformationPushResult, error) {
	path := "/build-information"
	if mode != "" {
		path += "?overwriteMode=" + url.QueryEscape(mode)
	}
	var out wire.BuildInformationPushResult
	return out, c.do(ctx, "POST", path, b, &out)
}

// BuildInformation lists build information, one package's when packageID
// is given.
func (c *Client) BuildInformation(ctx context.Context, packageID string) ([]model.BuildInformation, error) {
	o := ListOptions{}
	if packageID != "" {
		o.Filters = map[string]string{"packageId": packageID}
	}
	return all[model.BuildInformation](ctx, c, "/build-information", o)
}

// ServerURL is the server's address, without the API's path.
func (c *Client) ServerURL() string { return strings.TrimSuffix(c.base, "/api/v1") }

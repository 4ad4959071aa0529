package client

import (
	"context"
	"net/url"
)

// DeleteRunbook removes a runbook that has never run, with its snapshots;
// the server refuses (409) one with runs on record.
func (c *Client) DeleteRunbook(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/runbooks/"+url.PathEscape(id), nil, nil)
}

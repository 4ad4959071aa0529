package client

import (
	"context"
	"net/url"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// Nodes lists the server nodes.
func (c *Client) Nodes(ctx context.Context) ([]model.Node, error) {
	var out []model.Node
	return out, c.do(ctx, "GET", "/nodes", nil, &out)
}

// DrainNode stops a node taking new tasks (drain) or lets it again.
func (c *Client) DrainNode(ctx context.Context, name string, drain bool) (model.Node, error) {
	verb := "resume"
	if drain {
		verb = "drain"
	}
	var n model.Node
	return n, c.do(ctx, "POST", "/nodes/"+url.PathEscape(name)+"/"+verb, nil, &n)
}

// RerunTask deploys a finished deployment's release again.
func (c *Client) RerunTask(ctx context.Context, taskID string) (model.Deployment, error) {
	var d model.Deployment
	return d, c.do(ctx, "POST", "/tasks/"+url.PathEscape(taskID)+"/rerun", nil, &d)
}

package cli

import (
	"context"

	"github.com/pulpo-deploy/pulpo/internal/client"
)

// clientAndFind connects to the server and finds the object a command
// names (by name or id) with find, e.g. (*client.Client).FindCertificate.
func clientAndFind[T any](a *app, ctx context.Context, find func(*client.Client, context.Context, string) (T, error), nameOrID string) (*client.Client, T, error) {
	var zero T
	c, err := a.client()
	if err != nil {
		return nil, zero, err
	}
	v, err := find(c, ctx, nameOrID)
	return c, v, err
}

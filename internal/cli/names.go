package cli

import (
	"context"

	"github.com/pulpo-deploy/pulpo/internal/client"
)

// namer shows people names where the API gives ids. It asks the server
// lazily and at most once per kind (once per release), and falls back to the
// id when a lookup fails: a table is still worth printing.
type namer struct {
	ctx        context.Context
	c          *client.Client
	envs       map[string]string
	projects   map[string]string
	releases   map[string]string
	lifecycles map[string]string
	groups     map[string]string
	pools      map[string]string
	machines   map[string]string
}

func newNamer(ctx context.Context, c *client.Client) *namer {
	return &namer{ctx: ctx, c: c, releases: map[string]string{}}
}

func (n *namer) environment(id string) string {
	if n.envs == nil {
		n.envs = map[string]string{}
		if envs, err := n.c.Environments(n.ctx); err == nil {
			for _, e := range envs {
				n.envs[e.ID] = e.Name
			}
		}
	}
	return orID(n.envs[id], id)
}

func (n *namer) project(id string) string {
	if n.projects == nil {
		n.projects = map[string]string{}
		if ps, err := n.c.Projects(n.ctx, client.ListOptions{}); err == nil {
			for _, p := range ps {
				n.projects[p.ID] = p.Name
			}
		}
	}
	return orID(n.projects[id], id)
}

func (n *namer) lifecycle(id string) string {
	if n.lifecycles == nil {
		n.lifecycles = map[string]string{}
		if ls, err := n.c.Lifecycles(n.ctx); err == nil {
			for _, l := range ls {
				n.lifecycles[l.ID] = l.Name
			}
		}
	}
	return orID(n.lifecycles[id], id)
}

func (n *namer) group(id string) string {
	if n.groups == nil {
		n.groups = map[string]string{}
		if gs, err := n.c.ProjectGroups(n.ctx); err == nil {
			for _, g := range gs {
				n.groups[g.ID] = g.Name
			}
		}
	}
	return orID(n.groups[id], id)
}

func (n *namer) pool(id string) string {
	if n.pools == nil {
		n.pools = map[string]string{}
		if ps, err := n.c.WorkerPools(n.ctx); err == nil {
			for _, p := range ps {
				n.pools[p.ID] = p.Name
			}
		}
	}
	return orID(n.pools[id], id)
}

func (n *namer) machine(id string) string {
	if n.machines == nil {
		n.machines = map[string]string{}
		if ms, err := n.c.Machines(n.ctx, client.ListOptions{}); err == nil {
			for _, m := range ms {
				n.machines[m.ID] = m.Name
			}
		}
	}
	return orID(n.machines[id], id)
}

func (n *namer) release(id string) string {
	v, ok := n.releases[id]
	if !ok {
		if r, err := n.c.Release(n.ctx, id); err == nil {
			v = r.Version
		}
		n.releases[id] = v
	}
	return orID(v, id)
}

func orID(name, id string) string {
	if name == "" {
		return id
	}
	return name
}

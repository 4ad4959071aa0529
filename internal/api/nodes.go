package api

import (
	"net/http"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// nodeAliveWithin is how recent a node's heartbeat must be (three beats).
const nodeAliveWithin = 15 * time.Second

func (a *API) nodeRoutes() {
	a.add(route{method: "GET", path: Prefix + "/nodes", tag: "nodes", perm: model.NodeView, scope: unscoped, response: []model.Node{},
		summary: "The server nodes: version, last heartbeat (alive within 15 s), task slots, the tasks each holds, and whether it is drained",
		h: func(w http.ResponseWriter, r *http.Request) error {
			nodes, err := a.Store.Read().ListNodes(r.Context(), nodeAliveWithin)
			if err != nil {
				return err
			}
			if nodes == nil {
				nodes = []model.Node{}
			}
			writeJSON(w, http.StatusOK, nodes)
			return nil
		}})
	for _, op := range []struct {
		verb, summary string
		draining      bool
	}{
		{"drain", "Drain a node before maintenance: it takes no new tasks and finishes those it runs (see its task list empty, then stop it)", true},
		{"resume", "Let a drained node take tasks again", false},
	} {
		a.add(route{method: "POST", path: Prefix + "/nodes/{name}/" + op.verb, tag: "nodes", perm: model.NodeEdit, scope: unscoped, response: model.Node{},
			summary: op.summary,
			h: func(w http.ResponseWriter, r *http.Request) error {
				var n model.Node
				err := a.Store.Tx(r.Context(), func(q *store.Queries) (err error) {
					n, err = q.SetDraining(r.Context(), r.PathValue("name"), op.draining)
					return err
				})
				if err != nil {
					return err
				}
				if a.Nodes != nil {
					a.Nodes.CheckDrain(r.Context()) // this node learns at once; others at their next beat
				}
				rec := audited(r)
				rec.ObjectType, rec.ObjectID, rec.ObjectName, rec.Summary = "node", n.Name, n.Name, op.verb+" node "+n.Name
				writeJSON(w, http.StatusOK, n)
				return nil
			}})
	}
	a.add(route{method: "POST", path: Prefix + "/tasks/{id}/rerun", tag: "tasks", perm: model.DeploymentCreate, status: http.StatusCreated,
		response: model.Deployment{},
		summary:  "Run a finished deployment (or runbook run) again: a new deployment of the same release to the same environment with the same options",
		h: func(w http.ResponseWriter, r *http.Request) error {
			t, err := a.Store.Read().GetTask(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			if t.DeploymentID == "" {
				return &model.RefusedError{Reason: "task " + t.ID + " is not a deployment; only deployments and runbook runs can be run again"}
			}
			if !t.State.Finished() {
				return &model.RefusedError{Reason: "task " + t.ID + " is still " + string(t.State) + "; cancel it or wait for its end first"}
			}
			d, err := a.Store.Read().GetDeployment(r.Context(), t.DeploymentID)
			if err != nil {
				return err
			}
			perm := model.DeploymentCreate
			if d.RunbookID != "" {
				perm = model.RunbookRun
			}
			s, err := a.projectScope(r.Context(), a.Store.Read(), d.ProjectID)
			if err != nil {
				return err
			}
			if err := a.allow(r, perm, s.In(d.EnvironmentID)); err != nil {
				return err
			}
			audited(r).done = true // the new deployment is recorded with it
			again, err := a.Engine.Rerun(r.Context(), d.ID, caller(r))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusCreated, again)
			return nil
		}})
}

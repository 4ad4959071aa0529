package engine

import (
	"context"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// deploymentEvent describes a deployment for subscribers.
func (e *Engine) deploymentEvent(kind model.EventKind, x deployment, state model.TaskState) store.Event {
	payload := map[string]any{
		"project":     map[string]string{"id": x.project.ID, "name": x.project.Name},
		"environment": map[string]string{"id": x.env.ID, "name": x.env.Name},
		"release":     map[string]string{"id": x.release.ID, "version": x.release.Version},
		"deployment":  map[string]string{"id": x.d.ID, "taskId": x.d.TaskID, "state": string(state), "createdBy": x.d.CreatedBy},
	}
	if u := strings.TrimSuffix(e.cfg.ServerURL, "/"); u != "" {
		payload["links"] = map[string]string{"task": u + "/api/v1/tasks/" + x.d.TaskID, "deployment": u + "/api/v1/deployments/" + x.d.ID}
	}
	return store.Event{Kind: kind, ProjectID: x.project.ID, EnvironmentID: x.env.ID, Payload: payload}
}

// interruptionEvent tells subscribers a deployment waits for people.
func (e *Engine) interruptionEvent(x deployment, i model.Interruption) store.Event {
	ev := e.deploymentEvent(model.EventInterventionWaiting, x, model.TaskWaiting)
	ev.Payload["interruption"] = map[string]any{"id": i.ID, "kind": i.Kind, "title": i.Title, "instructions": i.Instructions,
		"error": i.Error, "answers": i.Answers, "responsibleTeams": i.ResponsibleTeams}
	return ev
}

// loadDeployment reads what an event about a deployment names.
func loadDeployment(ctx context.Context, q *store.Queries, id string) (deployment, error) {
	var x deployment
	var err error
	if x.d, err = q.GetDeployment(ctx, id); err != nil {
		return x, err
	}
	if x.release, err = q.GetRelease(ctx, x.d.ReleaseID); err != nil {
		return x, err
	}
	if x.project, err = q.GetProject(ctx, x.d.ProjectID); err != nil {
		return x, err
	}
	x.env, err = q.GetEnvironment(ctx, x.d.EnvironmentID)
	return x, err
}

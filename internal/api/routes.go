package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/apply"
	"github.com/pulpo-deploy/pulpo/internal/auth"
	"github.com/pulpo-deploy/pulpo/internal/confdoc"
	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

func (a *API) registerRoutes() {
	a.add(route{method: "GET", path: Prefix, tag: "server", summary: "Describe the server", response: wire.Root{}, public: true,
		h: func(w http.ResponseWriter, r *http.Request) error {
			root := wire.Root{Application: "Pulpo", Version: a.Version, OpenAPI: Prefix + "/openapi.json",
				ServerThumbprint: a.ServerThumbprint, PollingAddress: a.PollingAddress}
			if a.OIDC != nil {
				root.OIDCLogin = Prefix + "/users/oidc/login"
			}
			writeJSON(w, http.StatusOK, root)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/openapi.json", tag: "server", summary: "This API's OpenAPI document", public: true,
		h: func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Content-Type", "application/json")
			w.Write(a.openapi)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/users/me", tag: "users", anyone: true, summary: "Who the caller is (with a session, the X-CSRF-Token header carries its token)", response: model.User{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			p, _ := auth.FromContext(r.Context())
			if p.SessionID != "" {
				// The portal reads its CSRF token here after a reload.
				w.Header().Set(auth.CSRFHeader, p.CSRFToken)
			}
			writeJSON(w, http.StatusOK, p.User)
			return nil
		}})

	addCRUD(a, crud[model.Environment]{path: "/environments", kind: "environment", plural: "environments", tag: "environments",
		id:    func(v *model.Environment) *string { return &v.ID },
		perms: crudPerms{model.EnvironmentView, model.EnvironmentCreate, model.EnvironmentEdit, model.EnvironmentDelete},
		scope: func(_ *store.Queries, _ context.Context, v *model.Environment) (access.Scope, error) {
			return access.Scope{EnvironmentIDs: []string{v.ID}}, nil
		},
		list: func(q *store.Queries, ctx context.Context, _ *http.Request, o store.ListOptions) ([]model.Environment, int, error) {
			return q.ListEnvironments(ctx, o)
		},
		get: (*store.Queries).GetEnvironment, create: (*store.Queries).CreateEnvironment,
		update: (*store.Queries).UpdateEnvironment, delete: (*store.Queries).DeleteEnvironment})
	addCRUD(a, crud[model.Lifecycle]{path: "/lifecycles", kind: "lifecycle", plural: "lifecycles", tag: "lifecycles",
		id:    func(v *model.Lifecycle) *string { return &v.ID },
		perms: crudPerms{model.LifecycleView, model.LifecycleEdit, model.LifecycleEdit, model.LifecycleEdit},
		list: func(q *store.Queries, ctx context.Context, _ *http.Request, o store.ListOptions) ([]model.Lifecycle, int, error) {
			return q.ListLifecycles(ctx, o)
		},
		get: (*store.Queries).GetLifecycle, create: (*store.Queries).CreateLifecycle,
		update: (*store.Queries).UpdateLifecycle, delete: (*store.Queries).DeleteLifecycle})
	addCRUD(a, crud[model.ProjectGroup]{path: "/projectgroups", kind: "project group", plural: "project groups", tag: "projects",
		id:    func(v *model.ProjectGroup) *string { return &v.ID },
		perms: crudPerms{model.ProjectGroupView, model.ProjectGroupEdit, model.ProjectGroupEdit, model.ProjectGroupEdit},
		list: func(q *store.Queries, ctx context.Context, _ *http.Request, o store.ListOptions) ([]model.ProjectGroup, int, error) {
			return q.ListProjectGroups(ctx, o)
		},
		get: (*store.Queries).GetProjectGroup, create: (*store.Queries).CreateProjectGroup,
		update: (*store.Queries).UpdateProjectGroup, delete: (*store.Queries).DeleteProjectGroup})
	addCRUD(a, crud[model.Project]{path: "/projects", kind: "project", plural: "projects", tag: "projects",
		id:    func(v *model.Project) *string { return &v.ID },
		perms: crudPerms{model.ProjectView, model.ProjectCreate, model.ProjectEdit, model.ProjectDelete},
		scope: func(_ *store.Queries, _ context.Context, v *model.Project) (access.Scope, error) {
			return access.Project(*v), nil
		},
		list: func(q *store.Queries, ctx context.Context, r *http.Request, o store.ListOptions) ([]model.Project, int, error) {
			return q.FilterProjects(ctx, store.ProjectFilter{ListOptions: o,
				ProjectGroupID: r.URL.Query().Get("projectGroupId"), LifecycleID: r.URL.Query().Get("lifecycleId")})
		},
		extraQuery: []param{{"projectGroupId", "string", "only this group's projects"}, {"lifecycleId", "string", "only projects following this lifecycle"}},
		get:        (*store.Queries).GetProject, create: (*store.Queries).CreateProject,
		update: (*store.Queries).UpdateProject, delete: (*store.Queries).DeleteProject})

	addCRUD(a, crud[model.DeploymentFreeze]{path: "/deploymentfreezes", kind: "deployment freeze", plural: "deployment freezes", tag: "deployments",
		id:    func(v *model.DeploymentFreeze) *string { return &v.ID },
		perms: crudPerms{model.EnvironmentView, model.FreezeEdit, model.FreezeEdit, model.FreezeEdit},
		scope: func(*store.Queries, context.Context, *model.DeploymentFreeze) (access.Scope, error) {
			return access.Scope{Anywhere: true}, nil
		},
		list: func(q *store.Queries, ctx context.Context, _ *http.Request, o store.ListOptions) ([]model.DeploymentFreeze, int, error) {
			return q.ListFreezes(ctx, o)
		},
		get: (*store.Queries).GetFreeze, create: (*store.Queries).CreateFreeze,
		update: (*store.Queries).UpdateFreeze, delete: (*store.Queries).DeleteFreeze})

	addCRUD(a, crud[model.Trigger]{path: "/triggers", kind: "trigger", plural: "triggers", tag: "projects",
		id:    func(v *model.Trigger) *string { return &v.ID },
		perms: crudPerms{model.TriggerView, model.TriggerEdit, model.TriggerEdit, model.TriggerEdit},
		scope: func(q *store.Queries, ctx context.Context, v *model.Trigger) (access.Scope, error) {
			return a.projectScope(ctx, q, v.ProjectID)
		},
		list: func(q *store.Queries, ctx context.Context, r *http.Request, o store.ListOptions) ([]model.Trigger, int, error) {
			return q.ListTriggers(ctx, store.TriggerFilter{ProjectID: r.URL.Query().Get("projectId"), ListOptions: o})
		},
		extraQuery: []param{{"projectId", "string", "only this project's triggers"}},
		get:        (*store.Queries).GetTrigger, create: (*store.Queries).CreateTrigger,
		update: (*store.Queries).UpdateTrigger, delete: (*store.Queries).DeleteTrigger})
	a.add(route{method: "POST", path: Prefix + "/triggers/{id}/run", tag: "projects", perm: model.TriggerEdit, scope: a.pathTrigger, response: wire.TriggerRun{},
		summary: "Fire a trigger now: a schedule deploys as it would at its time; a package trigger creates a release from the package's newest version",
		h: func(w http.ResponseWriter, r *http.Request) error {
			t, err := a.Store.Read().GetTrigger(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			var out wire.TriggerRun
			switch t.Kind {
			case model.TriggerSchedule:
				out.Deployments, err = a.Engine.FireSchedule(r.Context(), t)
				if err != nil && len(out.Deployments) == 0 {
					return &model.RefusedError{Reason: fmt.Sprintf("trigger %q: %v", t.Name, err)}
				}
			case model.TriggerPackage:
				latest, _, err := a.Store.Read().ListPackages(r.Context(), store.PackageFilter{PackageID: t.PackageID, ListOptions: store.ListOptions{Take: 1}})
				if err != nil {
					return err
				}
				if len(latest) == 0 {
					return &model.RefusedError{Reason: fmt.Sprintf("the feed has no version of %s yet", t.PackageID)}
				}
				made, problems := a.Engine.PackagePushed(r.Context(), latest[0])
				for _, rel := range made {
					out.Releases = append(out.Releases, redactRelease(rel))
				}
				if len(made) == 0 && len(problems) > 0 {
					return &model.RefusedError{Reason: strings.Join(problems, "; ")}
				}
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}})

	addCRUD(a, crud[model.Subscription]{path: "/subscriptions", kind: "subscription", plural: "subscriptions (webhooks for events; secrets are write-only)", tag: "notifications",
		id:    func(v *model.Subscription) *string { return &v.ID },
		perms: crudPerms{model.SubscriptionView, model.SubscriptionEdit, model.SubscriptionEdit, model.SubscriptionEdit},
		list: func(q *store.Queries, ctx context.Context, _ *http.Request, o store.ListOptions) ([]model.Subscription, int, error) {
			return q.ListSubscriptions(ctx, o)
		},
		get: (*store.Queries).GetSubscription,
		create: func(q *store.Queries, ctx context.Context, s *model.Subscription) error {
			if err := a.checkEmail(s); err != nil {
				return err
			}
			return q.CreateSubscription(ctx, s)
		},
		update: func(q *store.Queries, ctx context.Context, s *model.Subscription) error {
			if err := a.checkEmail(s); err != nil {
				return err
			}
			return q.UpdateSubscription(ctx, s)
		},
		delete: (*store.Queries).DeleteSubscription})
	a.add(route{method: "GET", path: Prefix + "/subscriptions/{id}/deliveries", tag: "notifications", perm: model.SubscriptionView, response: wire.Page[model.Delivery]{},
		summary: "A subscription's delivery log, newest first: each event, its attempts, the endpoint's last answer", query: pagingParams,
		h: func(w http.ResponseWriter, r *http.Request) error {
			p, err := pagingOf(r)
			if err != nil {
				return err
			}
			sub, err := a.Store.Read().GetSubscription(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			items, total, err := a.Store.Read().ListDeliveries(r.Context(), sub.ID, store.ListOptions{Skip: p.skip, Take: p.take})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, page(items, total, p))
			return nil
		}})
	a.add(route{method: "POST", path: Prefix + "/subscriptions/{id}/test", tag: "notifications", perm: model.SubscriptionEdit, response: model.Delivery{}, status: http.StatusAccepted,
		summary: "Send a ping event to a subscription's endpoint; follow it in the delivery log",
		h: func(w http.ResponseWriter, r *http.Request) error {
			var d model.Delivery
			err := a.Store.Tx(r.Context(), func(q *store.Queries) (err error) {
				sub, err := q.GetSubscription(r.Context(), r.PathValue("id"))
				if err != nil {
					return err
				}
				d, err = q.EnqueuePing(r.Context(), sub.ID)
				return err
			})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusAccepted, d)
			return nil
		}})

	a.registerCertificates()

	a.add(route{method: "GET", path: Prefix + "/dashboard/marker", tag: "deployments", perm: model.DeploymentView, response: wire.DashboardMarker{},
		summary: "A short value that changes whenever the dashboard may have: poll it, and read the dashboard only when it changed",
		h: func(w http.ResponseWriter, r *http.Request) error {
			m, err := a.Store.Read().DashboardMarker(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, wire.DashboardMarker{Marker: m})
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/dashboard", tag: "deployments", perm: model.DeploymentView, response: wire.Dashboard{},
		summary: "What is deployed where: per project and environment the latest deployment, the current release and the previous one (what a rollback deploys)",
		h: func(w http.ResponseWriter, r *http.Request) error {
			q := a.Store.Read()
			envs, err := q.AllEnvironments(r.Context())
			if err != nil {
				return err
			}
			projects, _, err := q.ListProjects(r.Context(), store.ListOptions{})
			if err != nil {
				return err
			}
			cells, err := q.Dashboard(r.Context())
			if err != nil {
				return err
			}
			// Each sees the projects, environments and deployments in reach.
			rights := principal(r).Rights
			envs = keep(envs, func(e model.Environment) bool {
				return rights.Allows(model.EnvironmentView, access.Scope{EnvironmentIDs: []string{e.ID}})
			})
			groups := map[string]string{}
			projects = keep(projects, func(p model.Project) bool {
				groups[p.ID] = p.ProjectGroupID
				return rights.Allows(model.ProjectView, access.Project(p))
			})
			cells = keep(cells, func(c model.DashboardCell) bool {
				return rights.Allows(model.DeploymentView, access.Scope{ProjectID: c.ProjectID, ProjectGroupID: groups[c.ProjectID],
					EnvironmentIDs: []string{c.EnvironmentID}})
			})
			writeJSON(w, http.StatusOK, wire.Dashboard{Environments: envs, Projects: projects, Cells: cells})
			return nil
		}})

	addCRUD(a, crud[model.Channel]{path: "/channels", kind: "channel", plural: "channels", tag: "projects",
		id:    func(v *model.Channel) *string { return &v.ID },
		perms: crudPerms{model.ProjectView, model.ProjectEdit, model.ProjectEdit, model.ProjectEdit},
		scope: func(q *store.Queries, ctx context.Context, v *model.Channel) (access.Scope, error) {
			return a.projectScope(ctx, q, v.ProjectID)
		},
		list: func(q *store.Queries, ctx context.Context, r *http.Request, o store.ListOptions) ([]model.Channel, int, error) {
			projectID := r.URL.Query().Get("projectId")
			if projectID == "" {
				return nil, 0, badRequest("give the project: ?projectId=Projects-1")
			}
			list, err := q.ListChannels(ctx, projectID)
			return list, len(list), err
		},
		extraQuery: []param{{"projectId", "string", "the project whose channels to list (required)"}},
		get:        (*store.Queries).GetChannel, create: (*store.Queries).CreateChannel,
		update: (*store.Queries).UpdateChannel, delete: (*store.Queries).DeleteChannel})

	addCRUD(a, crud[model.Runbook]{path: "/runbooks", kind: "runbook", plural: "runbooks", tag: "runbooks",
		id:    func(v *model.Runbook) *string { return &v.ID },
		perms: crudPerms{model.RunbookView, model.RunbookEdit, model.RunbookEdit, model.RunbookEdit},
		scope: func(q *store.Queries, ctx context.Context, v *model.Runbook) (access.Scope, error) {
			return a.projectScope(ctx, q, v.ProjectID)
		},
		list: func(q *store.Queries, ctx context.Context, r *http.Request, o store.ListOptions) ([]model.Runbook, int, error) {
			list, err := q.ListRunbooks(ctx, r.URL.Query().Get("projectId"))
			return list, len(list), err
		},
		extraQuery: []param{{"projectId", "string", "only this project's runbooks"}},
		get:        (*store.Queries).GetRunbook, create: (*store.Queries).CreateRunbook,
		update: (*store.Queries).UpdateRunbook, delete: (*store.Queries).DeleteRunbook,
		redact: func(v model.Runbook) model.Runbook { v.Steps = model.RedactSteps(v.Steps); return v }})
	a.add(route{method: "POST", path: Prefix + "/runbooks/{id}/publish", tag: "runbooks", perm: model.RunbookEdit, scope: a.pathRunbook, status: http.StatusCreated, response: model.Release{},
		summary: "Publish a runbook: its steps and the project's variables now become the snapshot runs use",
		h: func(w http.ResponseWriter, r *http.Request) error {
			var snap model.Release
			var feeds store.FeedVersions
			if rb, err := a.Store.Read().GetRunbook(r.Context(), r.PathValue("id")); err == nil {
				// External feeds are read before the transaction.
				if feeds, err = a.Engine.FeedVersions(r.Context(), rb.Steps); err != nil {
					return err
				}
			}
			err := a.Store.Tx(r.Context(), func(q *store.Queries) (err error) {
				snap, err = q.PublishRunbookFrom(r.Context(), r.PathValue("id"), caller(r), feeds)
				return err
			})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusCreated, redactRelease(snap))
			return nil
		}})
	a.add(route{method: "POST", path: Prefix + "/runbooks/{id}/runs", tag: "runbooks", perm: model.RunbookRun, status: http.StatusCreated, body: wire.RunRunbookRequest{}, response: model.Deployment{},
		summary: "Run a runbook's published snapshot in an environment it allows",
		h: func(w http.ResponseWriter, r *http.Request) error {
			var req wire.RunRunbookRequest
			if err := decode(r, &req); err != nil {
				return err
			}
			if req.EnvironmentID == "" {
				return &apiError{status: http.StatusBadRequest, msg: "runbook run is invalid", details: []string{"environmentId: is required"}}
			}
			rb, err := a.Store.Read().GetRunbook(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			s, err := a.projectScope(r.Context(), a.Store.Read(), rb.ProjectID)
			if err != nil {
				return err
			}
			if err := a.allow(r, model.RunbookRun, s.In(req.EnvironmentID)); err != nil {
				return err
			}
			audited(r).done = true // the run's deployment is recorded with it
			d, err := a.Engine.RunRunbook(r.Context(), engine.RunbookRequest{RunbookID: r.PathValue("id"), EnvironmentID: req.EnvironmentID,
				CreatedBy: caller(r), Variables: req.Variables, SkipSteps: req.SkipSteps})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusCreated, d)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/runbooks/{id}/runs", tag: "runbooks", perm: model.RunbookView, scope: a.pathRunbook, response: wire.Page[model.Deployment]{}, query: pagingParams,
		summary: "A runbook's runs, newest first",
		h: func(w http.ResponseWriter, r *http.Request) error {
			p, err := pagingOf(r)
			if err != nil {
				return err
			}
			items, total, err := a.Store.Read().ListDeployments(r.Context(), store.DeploymentFilter{Skip: p.skip, Take: p.take, RunbookID: r.PathValue("id")})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, page(items, total, p))
			return nil
		}})

	a.add(route{method: "POST", path: Prefix + "/retention/releases", tag: "releases", perm: model.ConfigurationEdit, scope: unscoped, response: []model.Release{},
		summary: "Apply release retention now (the server also does every 10 minutes): delete the releases the lifecycles let go and return them",
		h: func(w http.ResponseWriter, r *http.Request) error {
			removed, err := a.Engine.ApplyReleaseRetention(r.Context())
			if err != nil {
				return err
			}
			out := make([]model.Release, 0, len(removed))
			for _, rel := range removed {
				out = append(out, redactRelease(rel))
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}})

	a.userRoutes()
	a.nodeRoutes()
	a.projectRoutes()
	a.libraryRoutes()
	a.releaseRoutes()
	a.deploymentRoutes()
	a.taskRoutes()
	a.interruptionRoutes()
	a.configRoutes()
	a.archiveRoutes()
	a.machineRoutes()
	a.stagingRoutes()
	a.librarySetRoutes()
	a.previewRoutes()
	a.packageRoutes()
	a.feedRoutes()
	a.boardRoutes()
	a.artifactRoutes()
}

func (a *API) projectRoutes() {
	base := Prefix + "/projects/{id}"
	a.add(route{method: "GET", path: base + "/process", tag: "projects", perm: model.ProcessView, scope: a.pathProject, summary: "Get a project's deployment process", response: model.DeploymentProcess{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			d, err := a.Store.Read().GetProcess(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, redactProcess(d))
			return nil
		}})
	a.add(route{method: "PUT", path: base + "/process", tag: "projects", perm: model.ProcessEdit, scope: a.pathProject, body: model.DeploymentProcess{}, response: model.DeploymentProcess{},
		summary: "Replace a project's deployment process; version must be the one read (steps without an id get one)",
		h: func(w http.ResponseWriter, r *http.Request) error {
			var d model.DeploymentProcess
			if err := decode(r, &d); err != nil {
				return err
			}
			if err := matchOwner(&d.ProjectID, r.PathValue("id")); err != nil {
				return err
			}
			rec := audited(r)
			err := a.Store.Tx(r.Context(), func(q *store.Queries) error {
				old, err := q.GetProcess(r.Context(), d.ProjectID)
				if err != nil {
					return err
				}
				rec.Before = redactJSON(redactProcess(old))
				return q.SaveProcess(r.Context(), &d)
			})
			if err != nil {
				return err
			}
			d = redactProcess(d)
			rec.Action, rec.ObjectType, rec.After, rec.Summary = model.AuditUpdate, "deployment process", redactJSON(d), "changed the deployment process"
			writeJSON(w, http.StatusOK, d)
			return nil
		}})
	a.add(route{method: "GET", path: base + "/variables", tag: "projects", perm: model.VariableView, scope: a.pathProject, summary: "Get a project's variables", response: model.VariableSet{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			vs, err := a.Store.Read().GetVariables(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			vs.Variables = model.Redacted(vs.Variables)
			writeJSON(w, http.StatusOK, vs)
			return nil
		}})
	a.add(route{method: "PUT", path: base + "/variables", tag: "projects", perm: model.VariableEdit, scope: a.pathProject, body: model.VariableSet{}, response: model.VariableSet{},
		summary: "Replace a project's variables; version must be the one read",
		h: func(w http.ResponseWriter, r *http.Request) error {
			var vs model.VariableSet
			if err := decode(r, &vs); err != nil {
				return err
			}
			if err := matchOwner(&vs.OwnerID, r.PathValue("id")); err != nil {
				return err
			}
			rec := audited(r)
			err := a.Store.Tx(r.Context(), func(q *store.Queries) error {
				old, err := q.GetVariables(r.Context(), vs.OwnerID)
				if err != nil {
					return err
				}
				old.Variables = model.Redacted(old.Variables)
				rec.Before = redactJSON(old)
				return q.SaveVariables(r.Context(), &vs)
			})
			if err != nil {
				return err
			}
			vs.Variables = model.Redacted(vs.Variables)
			rec.Action, rec.ObjectType, rec.After, rec.Summary = model.AuditUpdate, "variables", redactJSON(vs), "changed the project variables"
			writeJSON(w, http.StatusOK, vs)
			return nil
		}})
	a.add(route{method: "GET", path: base + "/releases", tag: "releases", perm: model.ReleaseView, scope: a.pathProject, summary: "List a project's releases, newest first",
		query: pagingParams, response: wire.Page[model.Release]{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			if _, err := a.Store.Read().GetProject(r.Context(), r.PathValue("id")); err != nil {
				return err
			}
			return a.listReleases(w, r, r.PathValue("id"))
		}})
	a.add(route{method: "GET", path: base + "/releases/{version}", tag: "releases", perm: model.ReleaseView, scope: a.pathProject, summary: "Get a project's release by version", response: model.Release{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			rel, err := a.Store.Read().FindRelease(r.Context(), r.PathValue("id"), r.PathValue("version"))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, redactRelease(rel))
			return nil
		}})
}

// matchOwner fills an owner id from the URL, refusing a body that names another.
func matchOwner(field *string, id string) error {
	if *field != "" && *field != id {
		return badRequest("the body is for %q but the URL names %q", *field, id)
	}
	*field = id
	return nil
}

func (a *API) releaseRoutes() {
	a.add(route{method: "GET", path: Prefix + "/releases", tag: "releases", perm: model.ReleaseView, summary: "List releases, newest first",
		query: append([]param{{"projectId", "string", "only this project's releases"}}, pagingParams...), response: wire.Page[model.Release]{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			return a.listReleases(w, r, r.URL.Query().Get("projectId"))
		}})
	a.add(route{method: "POST", path: Prefix + "/releases", tag: "releases", perm: model.ReleaseCreate, status: http.StatusCreated,
		summary: "Create a release: an immutable snapshot of the project's process and variables",
		body:    wire.CreateReleaseRequest{}, response: wire.CreateReleaseResponse{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			var req wire.CreateReleaseRequest
			if err := decode(r, &req); err != nil {
				return err
			}
			if req.ProjectID == "" {
				return &apiError{status: http.StatusBadRequest, msg: "release is invalid", details: []string{"projectId: is required"}}
			}
			s, err := a.projectScope(r.Context(), a.Store.Read(), req.ProjectID)
			if errors.Is(err, store.ErrNotFound) {
				return &apiError{status: http.StatusBadRequest, msg: "release is invalid", details: []string{fmt.Sprintf("projectId: project %q does not exist", req.ProjectID)}}
			}
			if err != nil {
				return err
			}
			if err := a.allow(r, model.ReleaseCreate, s); err != nil {
				return err
			}
			rel := model.Release{ProjectID: req.ProjectID, Version: req.Version, Notes: req.Notes, CreatedBy: caller(r), ChannelID: req.Channel,
				WorkItems: req.WorkItems}
			for key, version := range req.Packages {
				// A key names a package id, or a step: both are tried.
				rel.Packages = append(rel.Packages, model.ReleasePackage{PackageID: key, Version: version})
			}
			for key, version := range req.ChildReleases {
				// A key names a child project (id or name), or a step: all are tried.
				rel.Children = append(rel.Children, model.ReleaseChild{ProjectID: key, StepName: key, Version: version})
			}
			return a.createRelease(w, r, rel, "created release ")
		}})
	a.add(route{method: "GET", path: Prefix + "/releases/{id}", tag: "releases", perm: model.ReleaseView, scope: a.pathRelease, summary: "Get a release with its snapshot", response: model.Release{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			rel, err := a.Store.Read().GetRelease(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, redactRelease(rel))
			return nil
		}})
	a.add(route{method: "DELETE", path: Prefix + "/releases/{id}", tag: "releases", perm: model.ReleaseDelete, scope: a.pathRelease, summary: "Delete a release and its deployment history", status: http.StatusNoContent,
		h: func(w http.ResponseWriter, r *http.Request) error {
			if err := a.Store.Tx(r.Context(), func(q *store.Queries) error { return q.DeleteRelease(r.Context(), r.PathValue("id")) }); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/releases/{id}/progression", tag: "releases", perm: model.ReleaseView, scope: a.pathRelease,
		summary:  "Where the release may be deployed now, and why not elsewhere",
		response: []model.EnvironmentProgress{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			p, err := a.Engine.Progression(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			if p == nil {
				p = []model.EnvironmentProgress{}
			}
			writeJSON(w, http.StatusOK, p)
			return nil
		}})
}

// createRelease creates a release and answers with it and the
// deployments its lifecycle started by itself; the audit summary is the
// given text and the release's version (known once it is created).
func (a *API) createRelease(w http.ResponseWriter, r *http.Request, rel model.Release, summary string) error {
	auto, err := a.Engine.CreateRelease(r.Context(), &rel)
	if err != nil {
		return err
	}
	if auto == nil {
		auto = []model.Deployment{}
	}
	rec := audited(r)
	rec.Action, rec.ObjectType, rec.ObjectID, rec.ObjectName, rec.ProjectID = model.AuditCreate, "release", rel.ID, rel.Version, rel.ProjectID
	rec.Summary = summary + rel.Version
	w.Header().Set("Location", Prefix+"/releases/"+rel.ID)
	writeJSON(w, http.StatusCreated, wire.CreateReleaseResponse{Release: redactRelease(rel), AutomaticDeployments: auto})
	return nil
}

func (a *API) listReleases(w http.ResponseWriter, r *http.Request, projectID string) error {
	p, err := pagingOf(r)
	if err != nil {
		return err
	}
	items, total, err := a.Store.Read().ListReleases(r.Context(), store.ReleaseFilter{Skip: p.skip, Take: p.take, ProjectID: projectID,
		Visible: visible(r, model.ReleaseView)})
	if err != nil {
		return err
	}
	for i := range items {
		items[i] = redactRelease(items[i])
	}
	writeJSON(w, http.StatusOK, page(items, total, p))
	return nil
}

func (a *API) deploymentRoutes() {
	a.add(route{method: "GET", path: Prefix + "/deployments", tag: "deployments", perm: model.DeploymentView, summary: "List deployments, newest first",
		query:    append([]param{{"projectId", "string", ""}, {"environmentId", "string", ""}, {"releaseId", "string", ""}}, pagingParams...),
		response: wire.Page[model.Deployment]{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			p, err := pagingOf(r)
			if err != nil {
				return err
			}
			q := r.URL.Query()
			items, total, err := a.Store.Read().ListDeployments(r.Context(), store.DeploymentFilter{Skip: p.skip, Take: p.take,
				ProjectID: q.Get("projectId"), EnvironmentID: q.Get("environmentId"), ReleaseID: q.Get("releaseId"),
				Visible: visible(r, model.DeploymentView)})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, page(items, total, p))
			return nil
		}})
	a.add(route{method: "POST", path: Prefix + "/deployments", tag: "deployments", perm: model.DeploymentCreate, status: http.StatusCreated,
		summary: "Deploy a release to an environment; refused with 409 and the reason when the lifecycle does not allow it yet",
		body:    wire.CreateDeploymentRequest{}, response: model.Deployment{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			var req wire.CreateDeploymentRequest
			if err := decode(r, &req); err != nil {
				return err
			}
			var missing []string
			if req.ReleaseID == "" {
				missing = append(missing, "releaseId: is required")
			}
			if req.EnvironmentID == "" {
				missing = append(missing, "environmentId: is required")
			}
			if len(missing) > 0 {
				return &apiError{status: http.StatusBadRequest, msg: "deployment is invalid", details: missing}
			}
			rel, err := a.Store.Read().GetRelease(r.Context(), req.ReleaseID)
			if err != nil {
				return err
			}
			s, err := a.projectScope(r.Context(), a.Store.Read(), rel.ProjectID)
			if err != nil {
				return err
			}
			if err := a.allow(r, model.DeploymentCreate, s.In(req.EnvironmentID)); err != nil {
				return err
			}
			audited(r).done = true // the store records each deployment as it queues it
			d, err := a.Engine.Deploy(r.Context(), engine.DeployRequest{ReleaseID: req.ReleaseID, EnvironmentID: req.EnvironmentID, CreatedBy: caller(r),
				Variables: req.Variables, SkipSteps: req.SkipSteps, GuidedFailure: req.GuidedFailure, NotBefore: req.NotBefore, NotAfter: req.NotAfter,
				OverrideFreeze: req.OverrideFreeze, SpecificMachineIDs: req.SpecificMachineIDs, ExcludedMachineIDs: req.ExcludedMachineIDs})
			if err != nil {
				return err
			}
			w.Header().Set("Location", Prefix+"/deployments/"+d.ID)
			writeJSON(w, http.StatusCreated, d)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/deployments/{id}", tag: "deployments", perm: model.DeploymentView, scope: a.pathDeployment, summary: "Get a deployment", response: model.Deployment{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			d, err := a.Store.Read().GetDeployment(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, d)
			return nil
		}})
}

func (a *API) taskRoutes() {
	a.add(route{method: "GET", path: Prefix + "/tasks", tag: "tasks", perm: model.TaskView, summary: "List tasks, newest first",
		query: append([]param{
			{"state", "string", "comma-separated states: Queued, Executing, Waiting, Canceling, Success, Failed, Canceled"},
			{"ids", "string", "comma-separated task ids"},
			{"projectId", "string", ""}, {"environmentId", "string", ""}}, pagingParams...),
		response: wire.Page[model.Task]{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			p, err := pagingOf(r)
			if err != nil {
				return err
			}
			q := r.URL.Query()
			f := store.TaskFilter{Skip: p.skip, Take: p.take, ProjectID: q.Get("projectId"), EnvironmentID: q.Get("environmentId"), IDs: splitList(q.Get("ids")),
				Visible: visible(r, model.TaskView)}
			for _, s := range splitList(q.Get("state")) {
				st, ok := taskState(s)
				if !ok {
					return badRequest("state %q is not a task state: use Queued, Executing, Waiting, Canceling, Success, Failed or Canceled", s)
				}
				f.States = append(f.States, st)
			}
			items, total, err := a.Store.Read().ListTasks(r.Context(), f)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, page(items, total, p))
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/tasks/{id}", tag: "tasks", perm: model.TaskView, scope: a.pathTask, summary: "Get a task", response: model.Task{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			t, err := a.Store.Read().GetTask(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, t)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/tasks/{id}/log", tag: "tasks", perm: model.TaskView, scope: a.pathTask, response: wire.TaskLog{},
		summary: "A task's log tree and its lines after a position",
		query: []param{{"since", "integer", "return lines after this sequence number (0 for all)"},
			{"take", "integer", "at most this many lines, 1 to 10000 (5000 when omitted)"}},
		h: func(w http.ResponseWriter, r *http.Request) error {
			since, err := intParam(r, "since", 0, 0, 1<<62)
			if err != nil {
				return err
			}
			take, err := intParam(r, "take", 5000, 1, 10000)
			if err != nil {
				return err
			}
			l, err := a.taskLog(r.Context(), r.PathValue("id"), since, int(take))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, l)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/tasks/{id}/log/stream", tag: "tasks", perm: model.TaskView, scope: a.pathTask, stream: true,
		summary: "Follow a task's log live (Server-Sent Events): 'line' events carry log lines, 'task' and 'activities' events changes, 'end' the end",
		query:   []param{{"since", "integer", "start after this sequence number; the Last-Event-ID header works too"}},
		h:       a.streamLog})
	a.add(route{method: "POST", path: Prefix + "/tasks/{id}/cancel", tag: "tasks", perm: model.TaskCancel, scope: a.pathTask, summary: "Cancel a task: a queued one at once, a running one as soon as its scripts stop",
		response: model.Task{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			t, err := a.cancelTask(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, t)
			return nil
		}})
}

// cancelTask asks a task to stop: a queued one at once, a running one as
// soon as its scripts stop.
func (a *API) cancelTask(ctx context.Context, id string) (model.Task, error) {
	var t model.Task
	err := a.Store.Tx(ctx, func(q *store.Queries) (err error) {
		t, err = q.RequestCancel(ctx, id)
		return err
	})
	if err != nil {
		return t, err
	}
	if t.State == model.TaskCanceling {
		a.Tasks.Cancel(t.ID)
	}
	if t.State == model.TaskQueued && t.CancelRequested {
		a.Tasks.Notify() // a waiting task runs once more to end as canceled
	}
	a.Broker.Publish(t.ID)
	return t, nil
}

func (a *API) taskLog(ctx context.Context, id string, since int64, take int) (wire.TaskLog, error) {
	q := a.Store.Read()
	t, err := q.GetTask(ctx, id)
	if err != nil {
		return wire.TaskLog{}, err
	}
	acts, err := q.ListActivities(ctx, id)
	if err != nil {
		return wire.TaskLog{}, err
	}
	lines, err := q.ReadLog(ctx, id, since, take+1)
	if err != nil {
		return wire.TaskLog{}, err
	}
	l := wire.TaskLog{Task: t, Activities: acts, Lines: lines, LastSeq: since}
	if len(lines) > take {
		l.Lines, l.More = lines[:take], true
	}
	if n := len(l.Lines); n > 0 {
		l.LastSeq = l.Lines[n-1].Seq
	}
	if l.Activities == nil {
		l.Activities = []model.Activity{}
	}
	if l.Lines == nil {
		l.Lines = []model.LogLine{}
	}
	return l, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func taskState(s string) (model.TaskState, bool) {
	for _, st := range []model.TaskState{model.TaskQueued, model.TaskExecuting, model.TaskWaiting, model.TaskCanceling, model.TaskSuccess, model.TaskFailed, model.TaskCanceled} {
		if strings.EqualFold(s, string(st)) {
			return st, true
		}
	}
	return "", false
}

func (a *API) configRoutes() {
	a.add(route{method: "POST", path: Prefix + "/apply", tag: "configuration", perm: model.ConfigurationEdit, scope: unscoped, body: confdoc.Document{}, response: confdoc.Result{},
		summary: "Create or update environments, lifecycles, project groups and projects from a document, in one transaction; " +
			"send JSON, or YAML with Content-Type application/yaml",
		query: []param{{"dryRun", "boolean", "check everything and report the changes, but change nothing"}},
		h: func(w http.ResponseWriter, r *http.Request) error {
			dryRun, err := boolParam(r, "dryRun")
			if err != nil {
				return err
			}
			doc, err := decodeDocument(r)
			if err != nil {
				return err
			}
			res, err := apply.Apply(r.Context(), a.Store, doc, dryRun)
			if err != nil {
				return err
			}
			rec := audited(r)
			rec.done = dryRun // a dry run changes nothing
			rec.ObjectType, rec.Summary, rec.After = "configuration", "applied a configuration document", redactJSON(res)
			writeJSON(w, http.StatusOK, res)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/export", tag: "configuration", perm: model.ConfigurationEdit, scope: unscoped, response: confdoc.Document{},
		summary: "Everything /apply accepts, as one document; YAML when the Accept header asks for application/yaml",
		h: func(w http.ResponseWriter, r *http.Request) error {
			doc, err := apply.Export(r.Context(), a.Store.Read())
			if err != nil {
				return err
			}
			if strings.Contains(r.Header.Get("Accept"), "yaml") {
				out, err := doc.YAML()
				if err != nil {
					return err
				}
				w.Header().Set("Content-Type", "application/yaml")
				w.Write(out)
				return nil
			}
			writeJSON(w, http.StatusOK, doc)
			return nil
		}})
}

// decodeDocument reads an apply document as JSON or, when the request says
// so, as YAML.
func decodeDocument(r *http.Request) (*confdoc.Document, error) {
	if !strings.Contains(r.Header.Get("Content-Type"), "yaml") {
		var doc confdoc.Document
		if err := decode(r, &doc); err != nil {
			return nil, err
		}
		return &doc, nil
	}
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, tooLarge()
	}
	if err != nil {
		return nil, badRequest("the request body could not be read: %v", err)
	}
	doc, err := confdoc.ParseYAML(data)
	if err != nil {
		return nil, badRequest("the YAML document is invalid: %v", err)
	}
	return doc, nil
}

// boolParam reads an optional true/false query parameter.
func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("query parameter %s must be true or false, not %q", name, v)
	}
	return b, nil
}

// redactRelease blanks the sensitive values of a release's snapshot: they
// are sealed anyway, but nothing of a secret leaves through the API.
func redactRelease(r model.Release) model.Release {
	r.VariableSnapshot.Variables = model.Redacted(r.VariableSnapshot.Variables)
	r.ProcessSnapshot = redactProcess(r.ProcessSnapshot)
	return r
}

func (a *API) interruptionRoutes() {
	a.add(route{method: "GET", path: Prefix + "/interruptions", tag: "interruptions", perm: model.InterruptionView,
		summary:  "List the questions deployments ask people (manual interventions, guided failure), newest first",
		query:    append([]param{{"taskId", "string", "only this task's"}, {"pending", "boolean", "only those still waiting for an answer"}}, pagingParams...),
		response: wire.Page[model.Interruption]{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			p, err := pagingOf(r)
			if err != nil {
				return err
			}
			pending := false
			if v := r.URL.Query().Get("pending"); v != "" {
				if pending, err = strconv.ParseBool(v); err != nil {
					return badRequest("pending %q is not true or false", v)
				}
			}
			items, total, err := a.Store.Read().ListInterruptions(r.Context(), store.InterruptionFilter{
				TaskID: r.URL.Query().Get("taskId"), PendingOnly: pending, Skip: p.skip, Take: p.take,
				Visible: visible(r, model.InterruptionView)})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, page(items, total, p))
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/interruptions/{id}", tag: "interruptions", perm: model.InterruptionView, scope: a.pathInterruption, summary: "Get an interruption", response: model.Interruption{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			i, err := a.Store.Read().GetInterruption(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, i)
			return nil
		}})
	a.add(route{method: "POST", path: Prefix + "/interruptions/{id}/responsible", tag: "interruptions", perm: model.InterruptionSubmit, scope: a.pathInterruption,
		summary: "Take responsibility for an interruption (taking it over from someone is allowed)", response: model.Interruption{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			if err := a.checkResponsible(r); err != nil {
				return err
			}
			var i model.Interruption
			err := a.Store.Tx(r.Context(), func(q *store.Queries) (err error) {
				i, err = q.TakeResponsibility(r.Context(), r.PathValue("id"), caller(r))
				return err
			})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, i)
			return nil
		}})
	a.add(route{method: "POST", path: Prefix + "/interruptions/{id}/answer", tag: "interruptions", perm: model.InterruptionSubmit, scope: a.pathInterruption,
		summary: "Answer an interruption, once: the waiting deployment goes on at once; a second answer is refused with 409",
		body:    wire.AnswerRequest{}, response: model.Interruption{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			var req wire.AnswerRequest
			if err := decode(r, &req); err != nil {
				return err
			}
			if err := a.checkResponsible(r); err != nil {
				return err
			}
			var i model.Interruption
			err := a.Store.Tx(r.Context(), func(q *store.Queries) (err error) {
				i, err = q.AnswerInterruption(r.Context(), r.PathValue("id"), caller(r), req.Answer, req.Notes)
				return err
			})
			if err != nil {
				return err
			}
			a.Tasks.Notify()
			a.Broker.Publish(i.TaskID)
			rec := audited(r)
			rec.ObjectType, rec.ObjectName = "interruption", i.Title
			rec.Summary = fmt.Sprintf("answered %q with %s", i.Title, i.Answer)
			writeJSON(w, http.StatusOK, i)
			return nil
		}})
}

// checkEmail refuses email notifications the server cannot send.
func (a *API) checkEmail(s *model.Subscription) error {
	if len(s.EmailTo) > 0 && !a.EmailEnabled {
		return &model.ValidationError{Subject: "subscription", Problems: []string{
			"emailTo: this server has no SMTP server to send mail through; start it with --smtp-host (and --smtp-from)"}}
	}
	return nil
}

// keep returns the items that pass.
func keep[T any](items []T, pass func(T) bool) []T {
	out := items[:0:0]
	for _, it := range items {
		if pass(it) {
			out = append(out, it)
		}
	}
	return out
}

// checkResponsible refuses someone outside an interruption's responsible
// teams (administrators excepted).
func (a *API) checkResponsible(r *http.Request) error {
	p := principal(r)
	i, err := a.Store.Read().GetInterruption(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if len(i.ResponsibleTeams) == 0 || p.Rights.Admin {
		return nil
	}
	teams, err := a.Store.Read().TeamsOf(r.Context(), p.User.ID)
	if err != nil {
		return err
	}
	for _, t := range teams {
		for _, want := range i.ResponsibleTeams {
			if t.ID == want || model.SameName(t.Name, want) {
				return nil
			}
		}
	}
	return &access.DeniedError{Permission: model.InterruptionSubmit,
		What: fmt.Sprintf("%q: only members of %s may answer it", i.Title, strings.Join(i.ResponsibleTeams, ", "))}
}

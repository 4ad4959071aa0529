package api

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/comms"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/sshtarget"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/targets"
	"github.com/pulpo-deploy/pulpo/internal/template"
	"github.com/pulpo-deploy/pulpo/internal/vars"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

func (a *API) machineRoutes() {
	addCRUD(a, crud[model.Machine]{path: "/machines", kind: "machine", plural: "machines (deployment targets and workers)", tag: "machines",
		id:    func(v *model.Machine) *string { return &v.ID },
		perms: crudPerms{model.MachineView, model.MachineCreate, model.MachineEdit, model.MachineDelete},
		permsOf: func(v *model.Machine) crudPerms {
			if v.Usage == model.UsageWorker {
				return crudPerms{model.WorkerView, model.WorkerEdit, model.WorkerEdit, model.WorkerEdit}
			}
			return crudPerms{model.MachineView, model.MachineCreate, model.MachineEdit, model.MachineDelete}
		},
		scope: func(_ *store.Queries, _ context.Context, v *model.Machine) (access.Scope, error) {
			return machineScope(*v), nil
		},
		onUpdate: func(r *http.Request, old, m *model.Machine) error {
			if !trustChanges(*old, *m) {
				return nil
			}
			// Whom the server trusts is a permission of its own.
			for _, s := range []access.Scope{machineScope(*old), machineScope(*m)} {
				if err := a.allow(r, model.TrustEdit, s); err != nil {
					return err
				}
			}
			rec := audited(r)
			rec.Action, rec.Summary = model.AuditTrustChanged, "trust changed"
			return nil
		},
		list: func(q *store.Queries, ctx context.Context, r *http.Request, o store.ListOptions) ([]model.Machine, int, error) {
			f := store.MachineFilter{ListOptions: o, Usage: model.MachineUsage(r.URL.Query().Get("usage")),
				EnvironmentID: r.URL.Query().Get("environmentId"), WorkerPoolID: r.URL.Query().Get("workerPoolId")}
			if role := r.URL.Query().Get("role"); role != "" {
				f.Roles = []string{role}
			}
			return q.ListMachines(ctx, f)
		},
		extraQuery: []param{{"usage", "string", "target or worker"}, {"environmentId", "string", "only targets in this environment"},
			{"role", "string", "only targets with this role"}, {"workerPoolId", "string", "only workers in this pool"}},
		get: (*store.Queries).GetMachine,
		create: func(q *store.Queries, ctx context.Context, m *model.Machine) error {
			if m.Kind == model.MachineSSH && (m.Credentials == nil || (m.Credentials.PrivateKey == "" && m.Credentials.Password == "")) {
				return &model.ValidationError{Subject: "machine", Problems: []string{"credentials: an SSH machine needs a privateKey or a password"}}
			}
			sealed, err := a.prepareMachine(m)
			if err != nil {
				return err
			}
			if err := q.CreateMachine(ctx, m, sealed); err != nil {
				return err
			}
			a.Engine.MachineAvailable(ctx, q, *m, model.MachineJoined)
			return nil
		},
		update: func(q *store.Queries, ctx context.Context, m *model.Machine) error {
			old, err := q.GetMachine(ctx, m.ID)
			if err != nil {
				return err
			}
			keep := m.Credentials == nil
			sealed, err := a.prepareMachine(m)
			if err != nil {
				return err
			}
			if keep && m.SSH != nil && old.SSH != nil && m.SSH.AuthMethod == "" {
				m.SSH.AuthMethod = old.SSH.AuthMethod
			}
			var creds *string
			if !keep {
				creds = &sealed
			}
			if err := q.UpdateMachine(ctx, m, creds); err != nil {
				return err
			}
			// New address, trust or credentials: the old connection must go.
			a.Targets.Forget(old)
			return nil
		},
		delete: func(q *store.Queries, ctx context.Context, id string) error {
			old, err := q.GetMachine(ctx, id)
			if err != nil {
				return err
			}
			if err := q.DeleteMachine(ctx, id); err != nil {
				return err
			}
			a.Targets.Forget(old)
			return nil
		}})
	addCRUD(a, crud[model.MachinePolicy]{path: "/machinepolicies", kind: "machine policy", plural: "machine policies", tag: "machines",
		id:    func(v *model.MachinePolicy) *string { return &v.ID },
		perms: crudPerms{model.MachineView, model.TrustEdit, model.TrustEdit, model.TrustEdit},
		scope: func(*store.Queries, context.Context, *model.MachinePolicy) (access.Scope, error) {
			return access.Scope{Anywhere: true}, nil
		},
		list: func(q *store.Queries, ctx context.Context, _ *http.Request, o store.ListOptions) ([]model.MachinePolicy, int, error) {
			return q.ListMachinePolicies(ctx, o)
		},
		get: (*store.Queries).GetMachinePolicy, create: (*store.Queries).CreateMachinePolicy,
		update: (*store.Queries).UpdateMachinePolicy, delete: (*store.Queries).DeleteMachinePolicy})
	addCRUD(a, crud[model.WorkerPool]{path: "/workerpools", kind: "worker pool", plural: "worker pools", tag: "machines",
		id:    func(v *model.WorkerPool) *string { return &v.ID },
		perms: crudPerms{model.WorkerView, model.WorkerEdit, model.WorkerEdit, model.WorkerEdit},
		list: func(q *store.Queries, ctx context.Context, _ *http.Request, o store.ListOptions) ([]model.WorkerPool, int, error) {
			return q.ListWorkerPools(ctx, o)
		},
		get: (*store.Queries).GetWorkerPool, create: (*store.Queries).CreateWorkerPool,
		update: (*store.Queries).UpdateWorkerPool, delete: (*store.Queries).DeleteWorkerPool})

	a.add(route{method: "POST", path: Prefix + "/machines/{id}/health", tag: "machines", perm: model.MachineEdit, response: model.Machine{},
		summary: "Check a machine's health now: whether it answers, and what its policy's health script says",
		h: func(w http.ResponseWriter, r *http.Request) error {
			m, err := a.Store.Read().GetMachine(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			if err := a.allow(r, machinePerm(m, model.MachineEdit, model.WorkerEdit), machineScope(m)); err != nil {
				return err
			}
			rec := audited(r)
			rec.ObjectType, rec.ObjectName, rec.Summary = "machine", m.Name, "checked the health of "+m.Name
			m, err = a.Health.Check(r.Context(), m)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, m)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/machines/scan-ssh", tag: "machines", perm: model.MachineCreate, response: wire.SSHScan{},
		query:   []param{{"address", "string", "host or host:port of the SSH server"}},
		summary: "Read the host key an SSH server presents, to pin it when registering the machine",
		h: func(w http.ResponseWriter, r *http.Request) error {
			addr := r.URL.Query().Get("address")
			if addr == "" {
				return badRequest("give the SSH server's address: ?address=host or host:port")
			}
			host, port := splitHostPort(addr, 22)
			ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
			defer cancel()
			fp, err := sshtarget.ScanHostKey(ctx, host, port)
			if err != nil {
				return &apiError{status: http.StatusBadGateway, msg: "could not read the host key of " + addr + ": " + err.Error()}
			}
			writeJSON(w, http.StatusOK, wire.SSHScan{Address: addr, Fingerprint: fp})
			return nil
		}})
}

// prepareMachine normalises what people paste and seals credentials, which
// never stay on the machine value (so they are never echoed back).
func (a *API) prepareMachine(m *model.Machine) (string, error) {
	if m.Thumbprint != "" {
		if tp, err := comms.NormalizeThumbprint(m.Thumbprint); err == nil {
			m.Thumbprint = tp
		}
	}
	m.Health = model.Health{}
	creds := m.Credentials
	m.Credentials = nil
	if m.Kind != model.MachineSSH {
		if creds != nil {
			return "", &model.ValidationError{Subject: "machine", Problems: []string{"credentials: only SSH machines have credentials"}}
		}
		return "", nil
	}
	if creds != nil && m.SSH != nil {
		switch {
		case creds.PrivateKey != "" && creds.Password != "":
			return "", &model.ValidationError{Subject: "machine", Problems: []string{"credentials: give a private key or a password, not both"}}
		case creds.PrivateKey != "":
			m.SSH.AuthMethod = "key"
		case creds.Password != "":
			m.SSH.AuthMethod = "password"
		}
	}
	return targets.SealCredentials(a.Secrets, creds)
}

func splitHostPort(addr string, defaultPort int) (string, int) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, defaultPort
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return addr, defaultPort
	}
	return host, port
}

func (a *API) librarySetRoutes() {
	redact := func(l *model.LibraryVariableSet) { l.Variables = model.Redacted(l.Variables) }
	addCRUD(a, crud[model.LibraryVariableSet]{path: "/librarysets", kind: "library variable set", plural: "library variable sets", tag: "variables",
		id:    func(v *model.LibraryVariableSet) *string { return &v.ID },
		perms: crudPerms{model.LibraryVariableSetView, model.LibraryVariableSetEdit, model.LibraryVariableSetEdit, model.LibraryVariableSetEdit},
		list: func(q *store.Queries, ctx context.Context, _ *http.Request, o store.ListOptions) ([]model.LibraryVariableSet, int, error) {
			sets, total, err := q.ListLibrarySets(ctx, o)
			for i := range sets {
				redact(&sets[i])
			}
			return sets, total, err
		},
		get: func(q *store.Queries, ctx context.Context, id string) (model.LibraryVariableSet, error) {
			l, err := q.GetLibrarySet(ctx, id)
			redact(&l)
			return l, err
		},
		create: func(q *store.Queries, ctx context.Context, l *model.LibraryVariableSet) error {
			err := q.CreateLibrarySet(ctx, l)
			redact(l)
			return err
		},
		update: func(q *store.Queries, ctx context.Context, l *model.LibraryVariableSet) error {
			err := q.UpdateLibrarySet(ctx, l)
			redact(l)
			return err
		},
		delete: (*store.Queries).DeleteLibrarySet})
	a.add(route{method: "POST", path: Prefix + "/releases/{id}/snapshot-variables", tag: "releases", perm: model.ReleaseCreate, scope: a.pathRelease, response: model.Release{},
		summary: "Take the release's variables again from its project and library sets (only before it reaches the lifecycle's last phase)",
		h: func(w http.ResponseWriter, r *http.Request) error {
			var rel model.Release
			err := a.Store.Tx(r.Context(), func(q *store.Queries) (err error) {
				rel, err = q.RefreshReleaseVariables(r.Context(), r.PathValue("id"))
				return err
			})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, redactRelease(rel))
			return nil
		}})
}

func (a *API) previewRoutes() {
	a.add(route{method: "GET", path: Prefix + "/projects/{id}/variables/preview", tag: "variables", perm: model.VariableView, scope: a.pathProject, response: []wire.PreviewVariable{},
		summary: "The variables a step would get now, with the project's current values and library sets, for an environment, machine, step and channel",
		query: []param{{"environmentId", "string", "the environment (id or name)"}, {"machineId", "string", "the machine (id or name)"},
			{"stepId", "string", "the step (id or name)"}, {"channelId", "string", "the channel of the release (id or name)"}},
		h: func(w http.ResponseWriter, r *http.Request) error {
			ctx, q := r.Context(), a.Store.Read()
			p, err := q.GetProject(ctx, r.PathValue("id"))
			if err != nil {
				return err
			}
			scope := vars.Scope{}
			var templateRef *model.StepTemplateRef // of the step asked about
			if e := r.URL.Query().Get("environmentId"); e != "" {
				env, err := q.FindEnvironment(ctx, e)
				if err != nil {
					return badRequest("environmentId: %v", err)
				}
				scope.EnvironmentID = env.ID
			}
			if m := r.URL.Query().Get("machineId"); m != "" {
				machine, err := q.FindMachine(ctx, m)
				if err != nil {
					return badRequest("machineId: %v", err)
				}
				scope.MachineID, scope.MachineRoles = machine.ID, machine.Roles
			}
			if st := r.URL.Query().Get("stepId"); st != "" {
				d, err := q.GetProcess(ctx, p.ID)
				if err != nil {
					return err
				}
				found := false
				for _, s := range d.Steps {
					if s.ID == st || model.SameName(s.Name, st) {
						scope.StepID, scope.TargetRoles, found = s.ID, s.TargetRoles, true
						templateRef = s.Template
					}
				}
				if !found {
					return badRequest("stepId: project %s has no step %q", p.Name, st)
				}
			}
			if ch := r.URL.Query().Get("channelId"); ch != "" {
				channels, err := q.ListChannels(ctx, p.ID)
				if err != nil {
					return err
				}
				for _, c := range channels {
					if c.ID == ch || model.SameName(c.Name, ch) {
						scope.ChannelID = c.ID
					}
				}
				if scope.ChannelID == "" {
					return badRequest("channelId: project %s has no channel %q", p.Name, ch)
				}
			}
			all, err := q.ProjectAndLibraryVariables(ctx, p)
			if err != nil {
				return err
			}
			if all, err = previewCertificates(ctx, q, all, scope.EnvironmentID); err != nil {
				return err
			}
			sensitive := map[string]bool{}
			for i := range all {
				if all[i].Sensitive {
					all[i].Value = vars.MaskText
					sensitive[model.NameKey(all[i].Name)] = true
				}
			}
			values := vars.Resolve(all, scope)
			if t := templateRef; t != nil { // the step's own parameters win, as at deployment
				for name, v := range t.Defaults {
					values.Set(name, v)
				}
				for name, v := range t.Parameters {
					if v != "" {
						values.Set(name, v)
					}
				}
				for name := range t.Sensitive {
					values.Set(name, vars.MaskText)
					sensitive[model.NameKey(name)] = true
				}
			}
			out := []wire.PreviewVariable{}
			for _, name := range values.Names() {
				raw, _ := values.Get(name)
				value, err := template.Evaluate(raw, values, template.Options{InValue: true})
				if err != nil {
					value = raw + "   (" + err.Error() + ")"
				}
				out = append(out, wire.PreviewVariable{Name: name, Value: value, Sensitive: sensitive[model.NameKey(name)]})
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}})
}

// trustChanges reports whether an update changes whom the server trusts as
// the machine: its kind, address, thumbprint, host key or credentials.
func trustChanges(old, m model.Machine) bool {
	if old.Kind != m.Kind || old.Thumbprint != m.Thumbprint || old.Address != m.Address || m.Credentials != nil {
		return true
	}
	if (old.SSH == nil) != (m.SSH == nil) {
		return true
	}
	return old.SSH != nil && (old.SSH.User != m.SSH.User ||
		old.SSH.HostKeyFingerprint != m.SSH.HostKeyFingerprint)
}

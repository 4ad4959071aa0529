package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

func (p *Portal) adminRoutes() {
	m := p.mux
	m.HandleFunc("GET /infrastructure", p.infrastructure)
	m.HandleFunc("POST /machines", p.addMachine)
	m.HandleFunc("POST /machines/{id}/health", p.checkHealth)
	m.HandleFunc("GET /audit", p.audit)
	m.HandleFunc("GET /nodes", p.nodes)
	m.HandleFunc("GET /profile", p.profile)
	m.HandleFunc("POST /profile/apikeys", p.createKey)
	m.HandleFunc("POST /profile/apikeys/{key}/revoke", p.revokeKey)
	p.infraRoutes()
	p.archiveRoutes()
}

// infrastructure

type infraData struct {
	Pools        []model.WorkerPool
	Policies     []policyRow
	Machines     []model.Machine
	Environments []model.Environment
	EnvNames     map[string]string
	Form         machineForm
	PoolForm     model.WorkerPool
	PolicyForm   policyForm
	// Failed names the form the API refused ("machine", "pool" or
	// "policy"), whose fields get the messages.
	Failed     string
	ServerURL  string
	Thumbprint string
}

// policyRow is a machine policy with its durations as people write them.
type policyRow struct {
	model.MachinePolicy
	Every, DeleteAfter string
}

type machineForm struct {
	Name, Address, Thumbprint, Roles string
	EnvironmentIDs                   []string
}

func (p *Portal) infrastructure(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showInfra(w, r, v, http.StatusOK, infraData{})
}

func (p *Portal) showInfrastructure(w http.ResponseWriter, r *http.Request, v *view, status int, form machineForm) {
	p.showInfra(w, r, v, status, infraData{Failed: "machine", Form: form})
}

// showInfra draws the page around d's forms (and which of them failed).
func (p *Portal) showInfra(w http.ResponseWriter, r *http.Request, v *view, status int, d infraData) {
	if d.Failed != "policy" {
		d.PolicyForm = newPolicyForm
	}
	var machines wire.Page[model.Machine]
	if _, err := p.call(r, http.MethodGet, "/machines?take=1000", nil, &machines); err != nil {
		p.fail(w, r, err)
		return
	}
	d.Machines = machines.Items
	var pools wire.Page[model.WorkerPool]
	p.call(r, http.MethodGet, "/workerpools?take=1000", nil, &pools)
	d.Pools = pools.Items
	var policies wire.Page[model.MachinePolicy]
	p.call(r, http.MethodGet, "/machinepolicies?take=1000", nil, &policies)
	for _, mp := range policies.Items {
		d.Policies = append(d.Policies, policyRow{MachinePolicy: mp, Every: formDuration(mp.HealthCheckInterval.D), DeleteAfter: formDuration(mp.DeleteUnavailableAfter.D)})
	}
	d.Environments, d.EnvNames = p.environmentList(r)
	var root wire.Root
	p.call(r, http.MethodGet, "", nil, &root)
	d.Thumbprint = root.ServerThumbprint
	d.ServerURL = portalURL(r)
	v.Title, v.Nav, v.Data = "Infrastructure", "infrastructure", d
	p.render(w, status, "infrastructure", v)
}

func (p *Portal) addMachine(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	form := machineForm{Name: strings.TrimSpace(r.PostFormValue("name")), Address: strings.TrimSpace(r.PostFormValue("address")),
		Thumbprint: strings.TrimSpace(r.PostFormValue("thumbprint")), Roles: r.PostFormValue("roles"), EnvironmentIDs: r.PostForm["environment"]}
	m := model.Machine{Name: form.Name, Kind: model.MachineListening, Usage: model.UsageTarget, Address: form.Address,
		Thumbprint: form.Thumbprint, EnvironmentIDs: form.EnvironmentIDs, Roles: splitComma(form.Roles)}
	if _, err := p.call(r, http.MethodPost, "/machines", m, &m); err != nil {
		v.Error = err
		p.showInfrastructure(w, r, v, statusOf(err), form)
		return
	}
	http.Redirect(w, r, "/infrastructure?done="+url.QueryEscape("Added "+m.Name+"; check its health to see it answer"), http.StatusSeeOther)
}

func (p *Portal) checkHealth(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.session(w, r); !ok {
		return
	}
	var m model.Machine
	if _, err := p.call(r, http.MethodPost, "/machines/"+url.PathEscape(r.PathValue("id"))+"/health", nil, &m); err != nil {
		p.fail(w, r, err)
		return
	}
	// The machine's own page sends "back" to return there.
	back, ok := localPath(r.PostFormValue("back"))
	if !ok {
		back = "/infrastructure"
	}
	http.Redirect(w, r, back+"?done="+url.QueryEscape(m.Name+" is "+string(m.Health.Status)), http.StatusSeeOther)
}

// audit

type auditData struct {
	Page                                       wire.Page[model.AuditEvent]
	Actor, Project, Environment, Action, Since string
	Query                                      string
	Next, Prev                                 string
}

func (p *Portal) audit(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	in := r.URL.Query()
	d := auditData{Actor: in.Get("actor"), Project: in.Get("projectId"), Environment: in.Get("environmentId"), Action: in.Get("action"), Since: in.Get("since")}
	q := url.Values{}
	for k, val := range map[string]string{"actor": d.Actor, "projectId": d.Project, "environmentId": d.Environment, "action": d.Action} {
		if val != "" {
			q.Set(k, val)
		}
	}
	if d.Since != "" {
		if span, err := time.ParseDuration(d.Since); err == nil {
			q.Set("from", time.Now().Add(-span).UTC().Format(time.RFC3339))
		}
	}
	d.Query = q.Encode()
	page := url.Values{}
	for k, vals := range q {
		page[k] = vals
	}
	page.Set("take", "50")
	page.Set("skip", in.Get("skip"))
	if in.Get("skip") == "" {
		page.Set("skip", "0")
	}
	if _, err := p.call(r, http.MethodGet, "/audit?"+page.Encode(), nil, &d.Page); err != nil {
		p.fail(w, r, err)
		return
	}
	if d.Page.Skip+len(d.Page.Items) < d.Page.Total {
		next := url.Values{}
		for k, vals := range in {
			next[k] = vals
		}
		next.Set("skip", strconv.Itoa(d.Page.Skip+len(d.Page.Items)))
		d.Next = "/audit?" + next.Encode()
	}
	v.Title, v.Nav, v.Data = "Audit log", "configuration", d
	p.render(w, http.StatusOK, "audit", v)
}

// nodes and the queue

type nodesData struct {
	Nodes []model.Node
	Queue []model.Task
}

func (p *Portal) nodes(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	var d nodesData
	if _, err := p.call(r, http.MethodGet, "/nodes", nil, &d.Nodes); err != nil {
		p.fail(w, r, err)
		return
	}
	var queue wire.Page[model.Task]
	p.call(r, http.MethodGet, "/tasks?state=Queued,Executing,Canceling,Waiting&take=200", nil, &queue)
	d.Queue = queue.Items
	v.Title, v.Nav, v.Data = "Nodes and queue", "configuration", d
	p.render(w, http.StatusOK, "nodes", v)
}

// profile: one's own API keys

type profileData struct {
	Keys   []model.APIKey
	NewKey string
}

func (p *Portal) profile(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showProfile(w, r, v, http.StatusOK, "")
}

func (p *Portal) showProfile(w http.ResponseWriter, r *http.Request, v *view, status int, newKey string) {
	var d profileData
	if _, err := p.call(r, http.MethodGet, "/users/"+url.PathEscape(v.User.ID)+"/apikeys", nil, &d.Keys); err != nil {
		p.fail(w, r, err)
		return
	}
	d.NewKey = newKey
	v.Title, v.Nav, v.Data = "Your profile", "profile", d
	p.render(w, status, "profile", v)
}

func (p *Portal) createKey(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	req := wire.CreateAPIKeyRequest{Purpose: strings.TrimSpace(r.PostFormValue("purpose"))}
	if days, err := strconv.Atoi(r.PostFormValue("days")); err == nil && days > 0 {
		at := time.Now().AddDate(0, 0, days)
		req.ExpiresAt = &at
	}
	var out wire.CreatedAPIKey
	if _, err := p.call(r, http.MethodPost, "/users/"+url.PathEscape(v.User.ID)+"/apikeys", req, &out); err != nil {
		v.Error = err
		p.showProfile(w, r, v, statusOf(err), "")
		return
	}
	// Shown on this answer only: never stored, never shown again.
	p.showProfile(w, r, v, http.StatusCreated, out.APIKey)
}

func (p *Portal) revokeKey(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	if _, err := p.call(r, http.MethodDelete, "/users/"+url.PathEscape(v.User.ID)+"/apikeys/"+url.PathEscape(r.PathValue("key")), nil, nil); err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/profile?done="+url.QueryEscape("Revoked the key"), http.StatusSeeOther)
}

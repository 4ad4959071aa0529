package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// Infrastructure editing: a page for each machine, worker pool and machine
// policy, with its settings form and a delete that asks to be confirmed.

func (p *Portal) infraRoutes() {
	m := p.mux
	m.HandleFunc("GET /machines/{id}", p.machinePage)
	m.HandleFunc("POST /machines/{id}/edit", p.saveMachine)
	m.HandleFunc("POST /machines/{id}/delete", p.deleteMachine)
	m.HandleFunc("POST /workerpools", p.createPool)
	m.HandleFunc("GET /workerpools/{id}", p.poolPage)
	m.HandleFunc("POST /workerpools/{id}/edit", p.savePool)
	m.HandleFunc("POST /workerpools/{id}/delete", p.deletePool)
	m.HandleFunc("POST /machinepolicies", p.createPolicy)
	m.HandleFunc("GET /machinepolicies/{id}", p.policyPage)
	m.HandleFunc("POST /machinepolicies/{id}/edit", p.savePolicy)
	m.HandleFunc("POST /machinepolicies/{id}/delete", p.deletePolicy)
}

// notConfirmed is the answer to a delete whose confirmation box was left
// empty.
func notConfirmed(what string) error {
	return &apiError{Status: http.StatusBadRequest, Message: "nothing was deleted: tick the box to confirm that " + what + " should go"}
}

// localPath returns back when it is a path on this server (no scheme, host
// or query), for forms that return to the page they were sent from.
func localPath(back string) (string, bool) {
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.ContainsAny(back, `\?#`) {
		return "", false
	}
	u, err := url.Parse(back)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "", false
	}
	return u.EscapedPath(), true
}

// portalURL is how the visitor reaches this server, for the commands the
// pages show.
func portalURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// machines

type machineData struct {
	// Machine is as stored; Form is what the settings form shows: the stored
	// values, or what was sent when the API refused it.
	Machine      model.Machine
	Form         machineEdit
	Environments []model.Environment
	EnvNames     map[string]string
	Pools        []model.WorkerPool
	Policies     []model.MachinePolicy
	PolicyName   string
}

type machineEdit struct {
	Name, Roles, PolicyID         string
	EnvironmentIDs, WorkerPoolIDs []string
	Enabled                       bool
}

func machineEditOf(m model.Machine) machineEdit {
	return machineEdit{Name: m.Name, Roles: strings.Join(m.Roles, ", "), PolicyID: m.PolicyID,
		EnvironmentIDs: m.EnvironmentIDs, WorkerPoolIDs: m.WorkerPoolIDs, Enabled: !m.Disabled}
}

func (p *Portal) getMachine(r *http.Request) (model.Machine, error) {
	var m model.Machine
	_, err := p.call(r, http.MethodGet, "/machines/"+url.PathEscape(r.PathValue("id")), nil, &m)
	return m, err
}

func (p *Portal) machinePage(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	m, err := p.getMachine(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.showMachine(w, r, v, http.StatusOK, m, machineEditOf(m))
}

func (p *Portal) showMachine(w http.ResponseWriter, r *http.Request, v *view, status int, m model.Machine, form machineEdit) {
	d := machineData{Machine: m, Form: form}
	d.Environments, d.EnvNames = p.environmentList(r)
	var pools wire.Page[model.WorkerPool]
	p.call(r, http.MethodGet, "/workerpools?take=1000", nil, &pools)
	d.Pools = pools.Items
	var policies wire.Page[model.MachinePolicy]
	p.call(r, http.MethodGet, "/machinepolicies?take=1000", nil, &policies)
	d.Policies = policies.Items
	for _, mp := range d.Policies {
		if mp.ID == m.PolicyID {
			d.PolicyName = mp.Name
		}
	}
	v.Title, v.Nav, v.Data = m.Name, "infrastructure", d
	p.render(w, status, "machine", v)
}

func (p *Portal) saveMachine(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	m, err := p.getMachine(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	r.ParseForm()
	form := machineEdit{Name: strings.TrimSpace(r.PostFormValue("name")), Roles: r.PostFormValue("roles"),
		PolicyID: r.PostFormValue("policy"), EnvironmentIDs: r.PostForm["environment"], WorkerPoolIDs: r.PostForm["pool"],
		Enabled: r.PostFormValue("enabled") != ""}
	// The API replaces the whole machine: start from what is stored, so
	// what the form does not show (address, trust, SSH settings) stays.
	changed := m
	changed.Name, changed.Disabled = form.Name, !form.Enabled
	if form.PolicyID != "" {
		changed.PolicyID = form.PolicyID
	}
	if m.Usage == model.UsageWorker {
		changed.WorkerPoolIDs = form.WorkerPoolIDs
	} else {
		changed.EnvironmentIDs, changed.Roles = form.EnvironmentIDs, splitComma(form.Roles)
	}
	if _, err := p.call(r, http.MethodPut, "/machines/"+url.PathEscape(m.ID), changed, &changed); err != nil {
		v.Error = err
		p.showMachine(w, r, v, statusOf(err), m, form)
		return
	}
	http.Redirect(w, r, "/machines/"+url.PathEscape(m.ID)+"?done="+url.QueryEscape("Saved "+changed.Name), http.StatusSeeOther)
}

func (p *Portal) deleteMachine(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	m, err := p.getMachine(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		v.Error = notConfirmed(m.Name)
		p.showMachine(w, r, v, http.StatusBadRequest, m, machineEditOf(m))
		return
	}
	if _, err := p.call(r, http.MethodDelete, "/machines/"+url.PathEscape(m.ID), nil, nil); err != nil {
		v.Error = err
		p.showMachine(w, r, v, statusOf(err), m, machineEditOf(m))
		return
	}
	http.Redirect(w, r, "/infrastructure?done="+url.QueryEscape("Deleted "+m.Name), http.StatusSeeOther)
}

// worker pools

type poolData struct {
	// Pool is as stored; Form is what the settings form shows.
	Pool      model.WorkerPool
	Form      model.WorkerPool
	Workers   []model.Machine
	ServerURL string
}

func poolFormOf(r *http.Request) model.WorkerPool {
	return model.WorkerPool{Name: strings.TrimSpace(r.PostFormValue("name")), Description: strings.TrimSpace(r.PostFormValue("description")),
		IsDefault: r.PostFormValue("default") != ""}
}

func (p *Portal) getPool(r *http.Request) (model.WorkerPool, error) {
	var wp model.WorkerPool
	_, err := p.call(r, http.MethodGet, "/workerpools/"+url.PathEscape(r.PathValue("id")), nil, &wp)
	return wp, err
}

func (p *Portal) poolPage(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	wp, err := p.getPool(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.showPool(w, r, v, http.StatusOK, wp, wp)
}

func (p *Portal) showPool(w http.ResponseWriter, r *http.Request, v *view, status int, wp, form model.WorkerPool) {
	d := poolData{Pool: wp, Form: form, ServerURL: portalURL(r)}
	var workers wire.Page[model.Machine]
	p.call(r, http.MethodGet, "/machines?usage=worker&take=1000&workerPoolId="+url.QueryEscape(wp.ID), nil, &workers)
	d.Workers = workers.Items
	v.Title, v.Nav, v.Data = wp.Name, "infrastructure", d
	p.render(w, status, "workerpool", v)
}

func (p *Portal) createPool(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	wp := poolFormOf(r)
	if _, err := p.call(r, http.MethodPost, "/workerpools", wp, &wp); err != nil {
		v.Error = err
		p.showInfra(w, r, v, statusOf(err), infraData{Failed: "pool", PoolForm: wp})
		return
	}
	http.Redirect(w, r, "/workerpools/"+url.PathEscape(wp.ID)+"?done="+url.QueryEscape("Created worker pool "+wp.Name), http.StatusSeeOther)
}

func (p *Portal) savePool(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	wp, err := p.getPool(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	form := poolFormOf(r)
	changed := wp
	// The default stays the default (its box is not sent): another pool
	// takes it over by asking.
	changed.Name, changed.Description, changed.IsDefault = form.Name, form.Description, wp.IsDefault || form.IsDefault
	if _, err := p.call(r, http.MethodPut, "/workerpools/"+url.PathEscape(wp.ID), changed, &changed); err != nil {
		v.Error = err
		p.showPool(w, r, v, statusOf(err), wp, form)
		return
	}
	http.Redirect(w, r, "/workerpools/"+url.PathEscape(wp.ID)+"?done="+url.QueryEscape("Saved "+changed.Name), http.StatusSeeOther)
}

func (p *Portal) deletePool(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	wp, err := p.getPool(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		v.Error = notConfirmed("the worker pool " + wp.Name)
		p.showPool(w, r, v, http.StatusBadRequest, wp, wp)
		return
	}
	if _, err := p.call(r, http.MethodDelete, "/workerpools/"+url.PathEscape(wp.ID), nil, nil); err != nil {
		v.Error = err
		p.showPool(w, r, v, statusOf(err), wp, wp)
		return
	}
	http.Redirect(w, r, "/infrastructure?done="+url.QueryEscape("Deleted worker pool "+wp.Name), http.StatusSeeOther)
}

// machine policies

// policyForm is a machine policy as its form has it: durations as text.
type policyForm struct {
	Name, Description, Interval, Script, WhenUnavailable, DeleteAfter string
}

// newPolicyForm is the create form's starting point: the default policy's
// settings.
var newPolicyForm = policyForm{Interval: "1h", WhenUnavailable: string(model.UnavailableFail), DeleteAfter: "0"}

func policyFormOf(mp model.MachinePolicy) policyForm {
	return policyForm{Name: mp.Name, Description: mp.Description, Interval: formDuration(mp.HealthCheckInterval.D),
		Script: mp.HealthCheckScript, WhenUnavailable: string(mp.WhenUnavailable), DeleteAfter: formDuration(mp.DeleteUnavailableAfter.D)}
}

func readPolicyForm(r *http.Request) policyForm {
	return policyForm{Name: strings.TrimSpace(r.PostFormValue("name")), Description: strings.TrimSpace(r.PostFormValue("description")),
		Interval: strings.TrimSpace(r.PostFormValue("interval")), WhenUnavailable: r.PostFormValue("whenUnavailable"),
		DeleteAfter: strings.TrimSpace(r.PostFormValue("deleteAfter")),
		// Browsers send a textarea's lines ending in CR LF; bash wants LF.
		Script: strings.ReplaceAll(r.PostFormValue("script"), "\r\n", "\n")}
}

// formDuration writes a duration as people type it: "1h", "15m", "0".
func formDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// parseFormDuration reads what formDuration writes, or whole seconds.
func parseFormDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: write it such as 30s, 15m or 2h, or 0", s)
	}
	return d, nil
}

// into sets the policy's fields from the form. Durations that do not read
// are refused here, with whatever else the policy's own checks find, so one
// answer lists every field to fix.
func (f policyForm) into(mp *model.MachinePolicy) error {
	mp.Name, mp.Description, mp.HealthCheckScript = f.Name, f.Description, f.Script
	mp.WhenUnavailable = model.UnavailableAction(f.WhenUnavailable)
	var bad []string
	unread := map[string]bool{}
	for _, d := range []struct {
		field, text string
		into        *model.Duration
	}{{"healthCheckInterval", f.Interval, &mp.HealthCheckInterval}, {"deleteUnavailableAfter", f.DeleteAfter, &mp.DeleteUnavailableAfter}} {
		v, err := parseFormDuration(d.text)
		if err != nil {
			bad, unread[d.field] = append(bad, d.field+": "+err.Error()), true
			continue
		}
		d.into.D = v
	}
	if len(bad) == 0 {
		return nil
	}
	var ve *model.ValidationError
	if errors.As(mp.Validate(), &ve) {
		for _, problem := range ve.Problems {
			if field, _, _ := strings.Cut(problem, ": "); !unread[field] {
				bad = append(bad, problem)
			}
		}
	}
	return &apiError{Status: http.StatusBadRequest, Message: "machine policy is invalid", Details: bad}
}

type policyData struct {
	// Policy is as stored; Form is what the settings form shows.
	Policy model.MachinePolicy
	Form   policyForm
	// Machines follow the policy.
	Machines  []model.Machine
	IsDefault bool
}

func (p *Portal) getPolicy(r *http.Request) (model.MachinePolicy, error) {
	var mp model.MachinePolicy
	_, err := p.call(r, http.MethodGet, "/machinepolicies/"+url.PathEscape(r.PathValue("id")), nil, &mp)
	return mp, err
}

func (p *Portal) policyPage(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	mp, err := p.getPolicy(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.showPolicy(w, r, v, http.StatusOK, mp, policyFormOf(mp))
}

func (p *Portal) showPolicy(w http.ResponseWriter, r *http.Request, v *view, status int, mp model.MachinePolicy, form policyForm) {
	d := policyData{Policy: mp, Form: form, IsDefault: model.SameName(mp.Name, model.DefaultMachinePolicyName)}
	var machines wire.Page[model.Machine]
	p.call(r, http.MethodGet, "/machines?take=1000", nil, &machines)
	for _, m := range machines.Items {
		if m.PolicyID == mp.ID {
			d.Machines = append(d.Machines, m)
		}
	}
	v.Title, v.Nav, v.Data = mp.Name, "infrastructure", d
	p.render(w, status, "machinepolicy", v)
}

func (p *Portal) createPolicy(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	form := readPolicyForm(r)
	var mp model.MachinePolicy
	err := form.into(&mp)
	if err == nil {
		_, err = p.call(r, http.MethodPost, "/machinepolicies", mp, &mp)
	}
	if err != nil {
		v.Error = err
		p.showInfra(w, r, v, statusOf(err), infraData{Failed: "policy", PolicyForm: form})
		return
	}
	http.Redirect(w, r, "/machinepolicies/"+url.PathEscape(mp.ID)+"?done="+url.QueryEscape("Created machine policy "+mp.Name), http.StatusSeeOther)
}

func (p *Portal) savePolicy(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	mp, err := p.getPolicy(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	form := readPolicyForm(r)
	changed := mp
	err = form.into(&changed)
	if err == nil {
		_, err = p.call(r, http.MethodPut, "/machinepolicies/"+url.PathEscape(mp.ID), changed, &changed)
	}
	if err != nil {
		v.Error = err
		p.showPolicy(w, r, v, statusOf(err), mp, form)
		return
	}
	http.Redirect(w, r, "/machinepolicies/"+url.PathEscape(mp.ID)+"?done="+url.QueryEscape("Saved "+changed.Name), http.StatusSeeOther)
}

func (p *Portal) deletePolicy(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	mp, err := p.getPolicy(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		v.Error = notConfirmed("the machine policy " + mp.Name)
		p.showPolicy(w, r, v, http.StatusBadRequest, mp, policyFormOf(mp))
		return
	}
	if _, err := p.call(r, http.MethodDelete, "/machinepolicies/"+url.PathEscape(mp.ID), nil, nil); err != nil {
		v.Error = err
		p.showPolicy(w, r, v, statusOf(err), mp, policyFormOf(mp))
		return
	}
	http.Redirect(w, r, "/infrastructure?done="+url.QueryEscape("Deleted machine policy "+mp.Name), http.StatusSeeOther)
}

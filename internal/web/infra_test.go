package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/server"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// The infrastructure forms are tried against a whole server (the portal in
// front of the real API), as a browser without JavaScript sends them.

const infraAdminKey = "API-WEBTESTADMINKEY0123456789"

type portalSite struct {
	t    *testing.T
	url  string
	http *http.Client
	csrf string
}

// startPortal serves a fresh node and logs a person in through the portal's
// login form.
func startPortal(t *testing.T) *portalSite {
	t.Helper()
	n, err := server.New(context.Background(), server.Config{DataDir: t.TempDir(), AdminAPIKey: infraAdminKey, NodeName: "test", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(n.Handler())
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { hs.CloseClientConnections(); hs.Close(); n.Close() }) })
	jar, _ := cookiejar.New(nil)
	s := &portalSite{t: t, url: hs.URL, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	const password = "a long enough passphrase"
	s.api("POST", "/users", wire.CreateUserRequest{Username: "ops", Password: password, IsAdmin: true}, nil, http.StatusCreated)
	if status, _, loc := s.post("/login", url.Values{"username": {"ops"}, "password": {password}, "next": {"/infrastructure"}}); status != http.StatusSeeOther || loc != "/infrastructure" {
		t.Fatalf("log in: %d to %q", status, loc)
	}
	status, body := s.get("/infrastructure")
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		t.Fatalf("the infrastructure page after logging in: %d\n%s", status, body)
	}
	s.csrf = m[1]
	return s
}

// api calls the API with the administrator's key and checks the status.
func (s *portalSite) api(method, path string, in, out any, want int) {
	s.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, s.url+"/api/v1"+path, body)
	req.Header.Set("Authorization", "Bearer "+infraAdminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func (s *portalSite) get(path string) (int, string) {
	s.t.Helper()
	resp, err := s.http.Get(s.url + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// post sends a form with the session's CSRF token, and returns the status,
// the page and where a redirect goes.
func (s *portalSite) post(path string, form url.Values) (int, string, string) {
	s.t.Helper()
	if s.csrf != "" {
		form.Set("csrf_token", s.csrf)
	}
	resp, err := s.http.PostForm(s.url+path, form)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), resp.Header.Get("Location")
}

func (s *portalSite) machine(id string) model.Machine {
	var m model.Machine
	s.api("GET", "/machines/"+id, nil, &m, http.StatusOK)
	return m
}

func (s *portalSite) policy(id string) model.MachinePolicy {
	var mp model.MachinePolicy
	s.api("GET", "/machinepolicies/"+id, nil, &mp, http.StatusOK)
	return mp
}

func (s *portalSite) pool(id string) model.WorkerPool {
	var wp model.WorkerPool
	s.api("GET", "/workerpools/"+id, nil, &wp, http.StatusOK)
	return wp
}

func TestInfrastructureForms(t *testing.T) {
	s := startPortal(t)
	var dev, prod model.Environment
	s.api("POST", "/environments", model.Environment{Name: "Dev"}, &dev, http.StatusCreated)
	s.api("POST", "/environments", model.Environment{Name: "Prod"}, &prod, http.StatusCreated)
	var linux model.WorkerPool
	s.api("POST", "/workerpools", model.WorkerPool{Name: "Linux"}, &linux, http.StatusCreated)
	// Nothing listens at port 1: health checks find it Unavailable at once.
	web := model.Machine{Name: "web-01", Kind: model.MachineListening, Usage: model.UsageTarget, Address: "127.0.0.1:1",
		Thumbprint: strings.Repeat("AB", 32), EnvironmentIDs: []string{dev.ID}, Roles: []string{"web"}}
	s.api("POST", "/machines", web, &web, http.StatusCreated)
	worker := model.Machine{Name: "w-01", Kind: model.MachinePolling, Usage: model.UsageWorker, Thumbprint: strings.Repeat("CD", 32),
		WorkerPoolIDs: []string{linux.ID}}
	s.api("POST", "/machines", worker, &worker, http.StatusCreated)
	const defaultPolicy, defaultPool = "MachinePolicies-1", "WorkerPools-1"

	// Each case sends one form, and checks the answer and what the API
	// then says. They run in order: later cases see earlier changes.
	var quick model.MachinePolicy
	tests := []struct {
		name string
		path string
		form url.Values
		// status is the answer's; location, the start of where a redirect
		// goes; body, what a re-shown form must say.
		status   int
		location string
		body     []string
		check    func(t *testing.T)
	}{
		{name: "a target's roles, environments and state", path: "/machines/" + web.ID + "/edit",
			form:   url.Values{"name": {"web-01"}, "roles": {"web, api"}, "environment": {dev.ID, prod.ID}, "policy": {defaultPolicy}},
			status: http.StatusSeeOther, location: "/machines/" + web.ID + "?done=",
			check: func(t *testing.T) {
				m := s.machine(web.ID)
				if strings.Join(m.Roles, ",") != "web,api" || len(m.EnvironmentIDs) != 2 || !m.Disabled {
					t.Errorf("saved %+v", m)
				}
				if m.Address != web.Address || m.Thumbprint != web.Thumbprint || m.Kind != model.MachineListening || m.Usage != model.UsageTarget {
					t.Errorf("fields the form does not show changed: %+v", m)
				}
			}},
		{name: "a target without roles or environments", path: "/machines/" + web.ID + "/edit",
			form:   url.Values{"name": {"web-02"}, "roles": {" , "}, "policy": {defaultPolicy}, "enabled": {"on"}},
			status: http.StatusBadRequest, body: []string{`<span class="field-error">a deployment target needs at least one role`,
				`<span class="field-error">a deployment target needs at least one environment`, `value="web-02"`},
			check: func(t *testing.T) {
				if m := s.machine(web.ID); m.Name != "web-01" || len(m.Roles) != 2 || !m.Disabled {
					t.Errorf("a refused form changed the machine: %+v", m)
				}
			}},
		{name: "a target given a role with a space", path: "/machines/" + web.ID + "/edit",
			form:   url.Values{"name": {"web-01"}, "roles": {"web, front end"}, "environment": {dev.ID}, "policy": {defaultPolicy}},
			status: http.StatusBadRequest, body: []string{`<span class="field-error">&#34;front end&#34; is not a role name`}},
		{name: "a target given another machine's name", path: "/machines/" + web.ID + "/edit",
			form:   url.Values{"name": {"W-01"}, "roles": {"web"}, "environment": {dev.ID}, "policy": {defaultPolicy}},
			status: http.StatusConflict, body: []string{"already exists"}},
		{name: "a worker's pools", path: "/machines/" + worker.ID + "/edit",
			form:   url.Values{"name": {"w-01"}, "pool": {linux.ID, defaultPool}, "policy": {defaultPolicy}, "enabled": {"on"}, "roles": {"ignored"}},
			status: http.StatusSeeOther, location: "/machines/" + worker.ID,
			check: func(t *testing.T) {
				if m := s.machine(worker.ID); len(m.WorkerPoolIDs) != 2 || len(m.Roles) != 0 || m.Disabled {
					t.Errorf("saved %+v", m)
				}
			}},
		{name: "a worker without pools", path: "/machines/" + worker.ID + "/edit",
			form:   url.Values{"name": {"w-01"}, "policy": {defaultPolicy}, "enabled": {"on"}},
			status: http.StatusBadRequest, body: []string{`<span class="field-error">a worker needs at least one worker pool`},
			check: func(t *testing.T) {
				if m := s.machine(worker.ID); len(m.WorkerPoolIDs) != 2 {
					t.Errorf("a refused form changed the worker: %+v", m)
				}
			}},
		{name: "a health check from the machine's page", path: "/machines/" + web.ID + "/health", form: url.Values{"back": {"/machines/" + web.ID}},
			status: http.StatusSeeOther, location: "/machines/" + web.ID + "?done=web-01+is+Unavailable"},
		{name: "a health check sent elsewhere", path: "/machines/" + web.ID + "/health", form: url.Values{"back": {"https://evil.example/"}},
			status: http.StatusSeeOther, location: "/infrastructure?done="},

		{name: "a new machine policy", path: "/machinepolicies",
			form: url.Values{"name": {"Quick"}, "description": {"for tests"}, "interval": {"15m"}, "script": {"echo ok\r\nexit 0\r\n"},
				"whenUnavailable": {"skip"}, "deleteAfter": {"24h"}},
			status: http.StatusSeeOther, location: "/machinepolicies/",
			check: func(t *testing.T) {
				var page wire.Page[model.MachinePolicy]
				s.api("GET", "/machinepolicies?name=Quick", nil, &page, http.StatusOK)
				if len(page.Items) != 1 {
					t.Fatalf("policies named Quick: %+v", page.Items)
				}
				quick = page.Items[0]
				if quick.HealthCheckInterval.D != 15*time.Minute || quick.HealthCheckScript != "echo ok\nexit 0\n" ||
					quick.WhenUnavailable != model.UnavailableSkip || quick.DeleteUnavailableAfter.D != 24*time.Hour || quick.Description != "for tests" {
					t.Errorf("created %+v", quick)
				}
			}},
		{name: "a new machine policy with an unreadable interval", path: "/machinepolicies",
			form:   url.Values{"name": {"Bad"}, "interval": {"soon"}, "whenUnavailable": {"fail"}, "deleteAfter": {"0"}},
			status: http.StatusBadRequest, body: []string{`<span class="field-error">&#34;soon&#34; is not a duration`, `value="soon"`, `value="Bad"`},
			check: func(t *testing.T) {
				var page wire.Page[model.MachinePolicy]
				if s.api("GET", "/machinepolicies?name=Bad", nil, &page, http.StatusOK); len(page.Items) != 0 {
					t.Errorf("a refused form made a policy: %+v", page.Items)
				}
			}},
		{name: "a policy's interval, unreadable", path: "/machinepolicies/{quick}/edit",
			form:   url.Values{"name": {"Quicker"}, "interval": {"1 hour"}, "whenUnavailable": {"fail"}, "deleteAfter": {"0"}},
			status: http.StatusBadRequest, body: []string{`<span class="field-error">&#34;1 hour&#34; is not a duration`},
			check: func(t *testing.T) {
				if mp := s.policy(quick.ID); mp.Name != "Quick" || mp.HealthCheckInterval.D != 15*time.Minute {
					t.Errorf("a refused form changed the policy: %+v", mp)
				}
			}},
		{name: "a policy's interval, too short", path: "/machinepolicies/{quick}/edit",
			form:   url.Values{"name": {"Quick"}, "interval": {"5s"}, "whenUnavailable": {"fail"}, "deleteAfter": {"0"}},
			status: http.StatusBadRequest, body: []string{`<span class="field-error">must be 0 (no scheduled checks) or at least 10s`},
			check: func(t *testing.T) {
				if mp := s.policy(quick.ID); mp.HealthCheckInterval.D != 15*time.Minute || mp.WhenUnavailable != model.UnavailableSkip {
					t.Errorf("a refused form changed the policy: %+v", mp)
				}
			}},
		{name: "a policy without scheduled checks", path: "/machinepolicies/{quick}/edit",
			form:   url.Values{"name": {"Quick"}, "interval": {"0"}, "script": {""}, "whenUnavailable": {"fail"}, "deleteAfter": {"0"}},
			status: http.StatusSeeOther, location: "/machinepolicies/{quick}?done=",
			check: func(t *testing.T) {
				if mp := s.policy(quick.ID); mp.HealthCheckInterval.D != 0 || mp.HealthCheckScript != "" || mp.WhenUnavailable != model.UnavailableFail || mp.Description != "" {
					t.Errorf("saved %+v", mp)
				}
			}},
		{name: "a target moved to the new policy", path: "/machines/" + web.ID + "/edit",
			form:   url.Values{"name": {"web-01"}, "roles": {"web"}, "environment": {dev.ID}, "policy": {"{quick}"}, "enabled": {"on"}},
			status: http.StatusSeeOther, location: "/machines/" + web.ID,
			check: func(t *testing.T) {
				if m := s.machine(web.ID); m.PolicyID != quick.ID || m.Disabled {
					t.Errorf("saved %+v", m)
				}
			}},
		{name: "a policy a machine follows, deleted", path: "/machinepolicies/{quick}/delete", form: url.Values{"confirm": {"yes"}},
			status: http.StatusConflict, body: []string{"used by 1 machines"}},

		{name: "a new worker pool, the default", path: "/workerpools", form: url.Values{"name": {"Windows"}, "description": {"win"}, "default": {"on"}},
			status: http.StatusSeeOther, location: "/workerpools/",
			check: func(t *testing.T) {
				if s.pool(defaultPool).IsDefault {
					t.Errorf("the old default pool is still the default")
				}
			}},
		{name: "a new worker pool without a name", path: "/workerpools", form: url.Values{"name": {""}, "description": {"kept"}},
			status: http.StatusBadRequest, body: []string{`<span class="field-error">is required`, `value="kept"`}},
		{name: "a worker pool renamed, and the default again", path: "/workerpools/" + linux.ID + "/edit",
			form:   url.Values{"name": {"Linux workers"}, "description": {"x64"}, "default": {"on"}},
			status: http.StatusSeeOther, location: "/workerpools/" + linux.ID + "?done=",
			check: func(t *testing.T) {
				if wp := s.pool(linux.ID); wp.Name != "Linux workers" || wp.Description != "x64" || !wp.IsDefault {
					t.Errorf("saved %+v", wp)
				}
			}},
		{name: "the default pool, its box not sent", path: "/workerpools/" + linux.ID + "/edit",
			form:   url.Values{"name": {"Linux workers"}, "description": {"x64"}},
			status: http.StatusSeeOther, location: "/workerpools/" + linux.ID,
			check: func(t *testing.T) {
				if !s.pool(linux.ID).IsDefault {
					t.Errorf("the default pool lost its place: there must always be one")
				}
			}},
		{name: "a worker pool renamed to nothing", path: "/workerpools/" + linux.ID + "/edit", form: url.Values{"name": {""}},
			status: http.StatusBadRequest, body: []string{`<span class="field-error">is required`},
			check: func(t *testing.T) {
				if wp := s.pool(linux.ID); wp.Name != "Linux workers" {
					t.Errorf("a refused form changed the pool: %+v", wp)
				}
			}},
		{name: "a pool with workers, deleted", path: "/workerpools/" + defaultPool + "/delete", form: url.Values{"confirm": {"yes"}},
			status: http.StatusConflict, body: []string{"has 1 workers"}},

		{name: "a machine deleted without the box ticked", path: "/machines/" + worker.ID + "/delete", form: url.Values{},
			status: http.StatusBadRequest, body: []string{"nothing was deleted"},
			check: func(t *testing.T) { s.machine(worker.ID) }},
		{name: "a machine deleted", path: "/machines/" + worker.ID + "/delete", form: url.Values{"confirm": {"yes"}},
			status: http.StatusSeeOther, location: "/infrastructure?done=Deleted+w-01",
			check: func(t *testing.T) { s.api("GET", "/machines/"+worker.ID, nil, nil, http.StatusNotFound) }},
		{name: "an empty pool deleted", path: "/workerpools/" + defaultPool + "/delete", form: url.Values{"confirm": {"yes"}},
			status: http.StatusSeeOther, location: "/infrastructure?done=",
			check: func(t *testing.T) { s.api("GET", "/workerpools/"+defaultPool, nil, nil, http.StatusNotFound) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The policy made by an earlier case is named by its id.
			fill := func(s string) string { return strings.ReplaceAll(s, "{quick}", quick.ID) }
			for k, vals := range tt.form {
				for i := range vals {
					vals[i] = fill(vals[i])
				}
				tt.form[k] = vals
			}
			status, body, loc := s.post(fill(tt.path), tt.form)
			if status != tt.status {
				t.Fatalf("status %d, want %d (to %q)\n%s", status, tt.status, loc, body)
			}
			if !strings.HasPrefix(loc, fill(tt.location)) {
				t.Errorf("sent to %q, want %q…", loc, fill(tt.location))
			}
			for _, want := range tt.body {
				if !strings.Contains(body, want) {
					t.Errorf("the page does not say %q:\n%s", want, body)
				}
			}
			if tt.status >= 400 && !strings.Contains(body, "<h1>") {
				t.Errorf("a refused form is not shown again on its page:\n%s", body)
			}
			if tt.check != nil {
				tt.check(t)
			}
		})
	}

	// The pages themselves, and the links to them.
	_, infra := s.get("/infrastructure")
	for _, link := range []string{`href="/machines/` + web.ID + `"`, `href="/workerpools/` + linux.ID + `"`, `href="/machinepolicies/` + quick.ID + `"`} {
		if !strings.Contains(infra, link) {
			t.Errorf("the infrastructure page has no link %s", link)
		}
	}
	for path, want := range map[string]string{"/machines/" + web.ID: "<h1>web-01", "/workerpools/" + linux.ID: "<h1>Linux workers",
		"/machinepolicies/" + quick.ID: "<h1>Quick", "/machinepolicies/" + defaultPolicy: "cannot be deleted"} {
		if status, body := s.get(path); status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, without %q\n%s", path, status, want, body)
		}
	}
	if status, _ := s.get("/machines/Machines-999"); status != http.StatusNotFound {
		t.Errorf("a machine that does not exist: %d", status)
	}
}

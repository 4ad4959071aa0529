package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// The portal adds and edits a health check step; one without roles comes
// back with the problem next to the roles field.
func TestThePortalAddsAndEditsAHealthCheckStep(t *testing.T) {
	hs, _ := tlsServer(t)
	b := portalAdmin(t, hs)
	var web model.Project
	admin(t, hs, "POST", "/api/v1/projects", model.Project{Name: "web"}, &web)

	resp, body := b.post("/projects/"+web.ID+"/steps", url.Values{"kind": {"health-check"}, "name": {"Check"}, "roles": {"web, api"},
		"healthtype": {"connectionOnly"}, "healthonerror": {"skip"}, "includenew": {"on"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d\n%s", resp.StatusCode, body)
	}
	s := stepNamed(processOf(t, hs, web.ID), "Check")
	want := model.HealthCheckAction{Type: model.HealthCheckConnection, OnError: model.HealthCheckSkip, IncludeNewTargets: true}
	if s == nil || s.HealthCheck == nil || *s.HealthCheck != want || strings.Join(s.TargetRoles, ",") != "web,api" || s.Script != nil {
		t.Fatalf("step: %+v", s)
	}

	page := b.getPage("/projects/" + web.ID + "/steps/" + s.ID)
	for _, w := range []string{`<option value="connectionOnly" selected>`, `name="includenew" checked`, `value="web, api"`} {
		if !strings.Contains(page, w) {
			t.Errorf("the step page lacks %q", w)
		}
	}
	resp, body = b.post("/projects/"+web.ID+"/steps/"+s.ID+"/edit", url.Values{"name": {"Check"}, "roles": {"web"},
		"healthtype": {"full"}, "healthonerror": {"fail"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", resp.StatusCode, body)
	}
	s = stepNamed(processOf(t, hs, web.ID), "Check")
	if *s.HealthCheck != (model.HealthCheckAction{Type: model.HealthCheckFull, OnError: model.HealthCheckFail}) || strings.Join(s.TargetRoles, ",") != "web" {
		t.Fatalf("edited: %+v %+v", s, s.HealthCheck)
	}

	resp, body = b.post("/projects/"+web.ID+"/steps", url.Values{"kind": {"health-check"}, "name": {"Roleless"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `<span class="field-error">is required: a health check checks the deployment targets of these roles</span>`) {
		t.Fatalf("a health check without roles: %d\n%s", resp.StatusCode, body)
	}
}

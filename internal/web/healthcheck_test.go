package web

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

func TestHealthCheckStepsInThePortal(t *testing.T) {
	p, err := New(http.NotFoundHandler(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	step := model.Step{ID: "s1", Name: "Check", TargetRoles: []string{"web", "api"},
		HealthCheck: &model.HealthCheckAction{Type: model.HealthCheckConnection, OnError: model.HealthCheckSkip, IncludeNewTargets: true}}
	render := func(page string, data any) string {
		t.Helper()
		var b bytes.Buffer
		if err := p.pages[page].Execute(&b, &view{Title: page, User: &model.User{Username: "admin"}, CSRF: "token", Data: data}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}

	project := render("project", projectData{Project: model.Project{ID: "Projects-1", Name: "web"},
		Process: model.DeploymentProcess{Steps: []model.Step{step}}, StepForm: stepForm{Kind: kindHealthCheck, HealthOnError: "skip", IncludeNew: true}})
	for _, want := range []string{"connection test of web, api; skips unhealthy targets; includes new targets",
		`value="health-check" checked`, `<option value="skip" selected>`, `name="includenew" checked`} {
		if !strings.Contains(project, want) {
			t.Errorf("the project page lacks %q", want)
		}
	}
	edit := render("step", stepEditData{Project: model.Project{ID: "Projects-1", Name: "web"}, Step: step})
	for _, want := range []string{`name="roles" value="web, api"`, `<option value="connectionOnly" selected>`, `<option value="skip" selected>`, `name="includenew" checked`} {
		if !strings.Contains(edit, want) {
			t.Errorf("the step page lacks %q", want)
		}
	}

	// The edit form's fields make the step's health check; unticked is off.
	s := step
	s.HealthCheck = &model.HealthCheckAction{}
	applyStepForm(&s, url.Values{"name": {"Check"}, "roles": {"web"}, "healthtype": {"full"}, "healthonerror": {"fail"}, "parallelism": {"3"}})
	if *s.HealthCheck != (model.HealthCheckAction{Type: model.HealthCheckFull, OnError: model.HealthCheckFail}) || s.MaxParallelism != 3 ||
		strings.Join(s.TargetRoles, ",") != "web" || s.Script != nil {
		t.Fatalf("step: %+v, health check %+v", s, s.HealthCheck)
	}
	applyStepForm(&s, url.Values{"name": {"Check"}, "roles": {"web"}, "healthtype": {"connectionOnly"}, "healthonerror": {"skip"}, "includenew": {"on"}})
	if *s.HealthCheck != *step.HealthCheck {
		t.Fatalf("health check %+v", s.HealthCheck)
	}
}

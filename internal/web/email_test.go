package web

import (
	"bytes"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// The add and edit forms make an email step; the edit form keeps the Cc and
// Bcc teams of a form that lacks them.
func TestEmailStepForms(t *testing.T) {
	added := model.Step{Email: &model.EmailAction{}}
	applyStepForm(&added, url.Values{"name": {"Mail"}, "roles": {"web"}, "email-to": {"a@example.com, #{Owner}"}, "email-teams": {"Ops, Dev"},
		"email-cc": {"lead@example.com"}, "email-bcc": {""}, "email-subject": {" #{Octopus.Release.Number} "}, "email-body": {"line 1\r\nline 2"},
		"email-html": {"on"}, "condition": {"failure"}})
	want := &model.EmailAction{To: []string{"a@example.com", "#{Owner}"}, ToTeams: []string{"Ops", "Dev"}, Cc: []string{"lead@example.com"},
		Subject: "#{Octopus.Release.Number}", Body: "line 1\nline 2", IsHTML: true}
	if !reflect.DeepEqual(added.Email, want) || added.TargetRoles != nil || added.Condition != model.ConditionFailure {
		t.Fatalf("added %+v: %+v", added, added.Email)
	}
	edited := model.Step{Email: &model.EmailAction{To: []string{"a@example.com"}, CcTeams: []string{"Teams-2"}, BccTeams: []string{"Teams-3"}, Subject: "S"}}
	applyStepForm(&edited, url.Values{"name": {"Mail"}, "email-to": {"b@example.com"}, "email-bcc-teams": {""}, "email-subject": {"T"}})
	if !reflect.DeepEqual(edited.Email, &model.EmailAction{To: []string{"b@example.com"}, CcTeams: []string{"Teams-2"}, Subject: "T"}) {
		t.Fatalf("edited %+v", edited.Email)
	}
	if got := namedTeams(map[string]string{"Teams-1": "Ops"}, []string{"Teams-1", "Teams-9"}); got != "Ops, Teams-9" {
		t.Fatalf("named teams %q", got)
	}
}

// The project page lists an email step with its teams by name, the add
// form offers the kind, and the step page shows every email field, each
// with a label.
func TestEmailStepPagesRender(t *testing.T) {
	p, err := New(http.NotFoundHandler(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	step := model.Step{ID: "s1", Name: "Mail", Condition: model.ConditionFailure, Email: &model.EmailAction{To: []string{"a@example.com"}, ToTeams: []string{"Teams-1"},
		Cc: []string{"c@example.com"}, Bcc: []string{"audit@example.com"}, BccTeams: []string{"Teams-2"}, Subject: "Failed: #{Octopus.Project.Name}", Body: "<p>#{Octopus.Deployment.Error}</p>", IsHTML: true}}
	teams := &emailTeams{To: "Ops", Bcc: "Audit"}
	for _, tt := range []struct {
		page string
		data any
		want []string
	}{
		{"project", projectData{Project: model.Project{ID: "Projects-1", Name: "web"}, Process: model.DeploymentProcess{Steps: []model.Step{step}},
			EmailTeams: map[string]*emailTeams{"s1": teams}, StepForm: stepForm{Kind: kindEmail, Email: emailForm{To: "x@example.com", Subject: "typed"}}},
			[]string{"emails “Failed: #{Octopus.Project.Name}” to a@example.com team Ops, cc c@example.com (and blind copies)",
				`value="email" checked`, `<label for="step-email-to">`, `id="step-email-to" name="email-to" value="x@example.com"`, `value="typed"`}},
		{"step", stepEditData{Project: model.Project{ID: "Projects-1", Name: "web"}, Step: step, EmailTeams: teams},
			[]string{`id="edit-email-to" name="email-to" value="a@example.com"`, `id="edit-email-teams" name="email-teams" value="Ops"`,
				`id="edit-email-bcc-teams" name="email-bcc-teams" value="Audit"`, `name="email-html" checked`,
				"&lt;p&gt;#{Octopus.Deployment.Error}&lt;/p&gt;</textarea>"}},
	} {
		var b bytes.Buffer
		if err := p.pages[tt.page].Execute(&b, &view{Title: tt.page, User: &model.User{Username: "admin"}, CSRF: "token", Data: tt.data}); err != nil {
			t.Fatalf("%s: %v", tt.page, err)
		}
		html := b.String()
		for _, w := range tt.want {
			if !strings.Contains(html, w) {
				t.Errorf("%s page lacks %q", tt.page, w)
			}
		}
		for _, id := range []string{"email-to", "email-cc", "email-bcc", "email-subject", "email-body"} {
			prefix := map[string]string{"project": "step-", "step": "edit-"}[tt.page]
			if !strings.Contains(html, `<label for="`+prefix+id+`">`) {
				t.Errorf("%s page: no label for %s%s", tt.page, prefix, id)
			}
		}
	}
}

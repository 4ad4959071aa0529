package server_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// The portal's library lists step templates with where they are used; a
// step made from a template shows its version and parameters (a secret
// never), saves parameter values (keeping the secret when left empty),
// and offers "update to vN" with the changes listed.
func TestThePortalShowsStepTemplates(t *testing.T) {
	hs, _ := tlsServer(t)
	b := portalAdmin(t, hs)
	var tmpl model.StepTemplate
	if st := admin(t, hs, "POST", "/api/v1/step-templates", model.StepTemplate{Name: "Notify",
		Parameters: []model.StepTemplateParameter{{Name: "Channel", Label: "Chat channel", DefaultValue: "#ops"}, {Name: "Hook", Control: model.ControlSensitive}},
		Script:     &model.ScriptAction{Body: "echo #{Channel}"}}, &tmpl); st != 201 {
		t.Fatalf("create template: %d", st)
	}
	var p model.Project
	admin(t, hs, "POST", "/api/v1/projects", model.Project{Name: "web"}, &p)
	var d model.DeploymentProcess
	if st := admin(t, hs, "PUT", "/api/v1/projects/"+p.ID+"/process", model.DeploymentProcess{Steps: []model.Step{{Name: "Tell",
		Template: &model.StepTemplateRef{ID: tmpl.ID, Version: 1, Parameters: map[string]string{"Hook": "hook-secret-value"}}}}}, &d); st != 200 {
		t.Fatalf("save process: %d", st)
	}
	stepID := d.Steps[0].ID

	_, page := b.do("GET", "/step-templates", "", nil)
	for _, want := range []string{"Notify", "version 1", "Chat channel", "/projects/" + p.ID + "/steps/" + stepID} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the library page lacks %q", want)
		}
	}
	_, page = b.do("GET", "/projects/"+p.ID+"/steps/"+stepID, "", nil)
	for _, want := range []string{"Made from step template", "version 1", `name="param.Channel"`, "set: leave empty to keep it"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the step page lacks %q", want)
		}
	}
	if strings.Contains(string(page), "hook-secret-value") || strings.Contains(string(page), `name="body"`) {
		t.Errorf("the step page shows the secret or an editable script")
	}
	resp, raw := b.post("/projects/"+p.ID+"/steps/"+stepID+"/edit", url.Values{"name": {"Tell"}, "param.Channel": {"#deploys"}, "param.Hook": {""}, "sensitive": {"Hook"}})
	if resp.StatusCode != 303 {
		t.Fatalf("save step: %d %s", resp.StatusCode, raw)
	}
	s := processOf(t, hs, p.ID).Steps[0]
	if s.Template.Parameters["Channel"] != "#deploys" {
		t.Errorf("saved parameters: %+v", s.Template)
	}
	if _, ok := s.Template.Sensitive["Hook"]; !ok {
		t.Errorf("the secret was lost: %+v", s.Template)
	}

	tmpl.Script.Body = "echo v2 #{Channel}"
	tmpl.Parameters = append(tmpl.Parameters, model.StepTemplateParameter{Name: "Emoji", DefaultValue: ":rocket:"})
	if st := admin(t, hs, "PUT", "/api/v1/step-templates/"+tmpl.ID, tmpl, &tmpl); st != 200 {
		t.Fatalf("update template: %d", st)
	}
	_, page = b.do("GET", "/projects/"+p.ID+"/steps/"+stepID, "", nil)
	for _, want := range []string{"Update to version 2", "script.body", "Adds parameters Emoji"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the step page lacks %q", want)
		}
	}
	if resp, raw := b.post("/projects/"+p.ID+"/steps/"+stepID+"/update-template", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("update: %d %s", resp.StatusCode, raw)
	}
	if s := processOf(t, hs, p.ID).Steps[0]; s.Template.Version != 2 || s.Script.Body != "echo v2 #{Channel}" {
		t.Errorf("after the update: %+v %+v", s.Template, s.Script)
	}

	// The add-a-step form makes a step from a template, at its newest version.
	_, page = b.do("GET", "/projects/"+p.ID, "", nil)
	if !strings.Contains(string(page), "Use a step template from the library") || !strings.Contains(string(page), "Notify (version 2)") {
		t.Errorf("the add form offers no template")
	}
	if resp, raw := b.post("/projects/"+p.ID+"/steps", url.Values{"kind": {"template"}, "name": {"Tell again"}, "template": {tmpl.ID}}); resp.StatusCode != 303 {
		t.Fatalf("add: %d %s", resp.StatusCode, raw)
	}
	if s := stepNamed(processOf(t, hs, p.ID), "Tell again"); s == nil || s.Template == nil || s.Template.Version != 2 || s.Script == nil {
		t.Errorf("the added step: %+v", s)
	}
}

package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// TestStepTemplateVersionsAndUse: every saved change is a kept version, a
// step keeps the version it names, moving it is a dry run first, and a
// template or module in use cannot go.
func TestStepTemplateVersionsAndUse(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		ctx := context.Background()
		box, _ := secrets.New(secrets.NewKey())
		s.SetSealer(box)
		tmpl := model.StepTemplate{Name: "Migrate", Parameters: []model.StepTemplateParameter{
			{Name: "Db", DefaultValue: "main"}, {Name: "Password", Control: model.ControlSensitive}},
			Script: &model.ScriptAction{Body: "migrate #{Db}"}}
		tx(t, s, func(q *store.Queries) error { return q.CreateStepTemplate(ctx, &tmpl) })
		if tmpl.Version != 1 || tmpl.Script.Syntax != model.SyntaxBash {
			t.Fatalf("created: %+v", tmpl)
		}
		// The same name again is a conflict.
		mustFail(t, s, store.ErrConflict, func(q *store.Queries) error {
			return q.CreateStepTemplate(ctx, &model.StepTemplate{Name: "migrate", Script: &model.ScriptAction{Body: "x"}})
		})
		// A save that changes nothing makes no version.
		same := tmpl
		tx(t, s, func(q *store.Queries) error { return q.UpdateStepTemplate(ctx, &same) })
		if same.Version != 1 {
			t.Fatalf("an unchanged save made version %d", same.Version)
		}

		var p model.Project
		var d model.DeploymentProcess
		tx(t, s, func(q *store.Queries) error {
			p = model.Project{Name: "app"}
			if err := q.CreateProject(ctx, &p); err != nil {
				return err
			}
			m := model.ScriptModule{Name: "common", Body: "say() { echo \"$1\"; }"}
			if err := q.CreateScriptModule(ctx, &m); err != nil {
				return err
			}
			d = model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Migrate", ScriptModules: []string{"common"},
				Template: &model.StepTemplateRef{ID: tmpl.ID, Version: 1, Parameters: map[string]string{"Password": "pw-1"}}}}}
			if err := q.SaveProcess(ctx, &d); err != nil {
				return err
			}
			return q.CreateRelease(ctx, &model.Release{ProjectID: p.ID, Version: "1.0.0"})
		})
		step := d.Steps[0]
		if step.Script == nil || step.Script.Body != "migrate #{Db}" || step.Template.Defaults["Db"] != "main" || step.Template.Parameters != nil {
			t.Fatalf("the saved step: %+v %+v", step.Script, step.Template)
		}
		sealed := step.Template.Sensitive["Password"]
		if plain, err := box.Open(sealed); err != nil || string(plain) != "pw-1" {
			t.Fatalf("the sealed password %q opens to %q, %v", sealed, plain, err)
		}
		// Sent without it (as the API returns it), the sealed value stays; a
		// value smuggled into Sensitive is ignored.
		d.Steps[0].Template.Sensitive = map[string]string{"Password": "forged"}
		tx(t, s, func(q *store.Queries) error { return q.SaveProcess(ctx, &d) })
		if d.Steps[0].Template.Sensitive["Password"] != sealed {
			t.Fatalf("the sealed value changed: %+v", d.Steps[0].Template.Sensitive)
		}

		tmpl.Script.Body = "migrate --v2 #{Db}"
		tmpl.Parameters = append(tmpl.Parameters, model.StepTemplateParameter{Name: "Timeout", DefaultValue: "30"})
		tx(t, s, func(q *store.Queries) error { return q.UpdateStepTemplate(ctx, &tmpl) })
		if tmpl.Version != 2 {
			t.Fatalf("the change made version %d", tmpl.Version)
		}
		var usage []model.StepTemplateUsage
		tx(t, s, func(q *store.Queries) (err error) { usage, err = q.StepTemplateUsage(ctx, tmpl.ID); return })
		if len(usage) != 1 || usage[0].Version != 1 || usage[0].Latest != 2 || !usage[0].Behind {
			t.Fatalf("usage: %+v", usage)
		}
		// The project keeps version 1 until moved.
		tx(t, s, func(q *store.Queries) error {
			got, err := q.GetProcess(ctx, p.ID)
			if err != nil {
				return err
			}
			if got.Steps[0].Script.Body != "migrate #{Db}" {
				t.Errorf("the step changed with the template: %+v", got.Steps[0].Script)
			}
			change, dry, err := q.UpdateStepToNewestTemplate(ctx, p.ID, "migrate", true)
			if err != nil {
				return err
			}
			if dry.Version != got.Version || len(change.Fields) != 1 || change.Fields[0] != "script.body" || len(change.ParametersAdded) != 1 {
				t.Errorf("dry run: %+v (process version %d)", change, dry.Version)
			}
			_, moved, err := q.UpdateStepToNewestTemplate(ctx, p.ID, d.Steps[0].ID, false)
			if err != nil {
				return err
			}
			if moved.Version != got.Version+1 || moved.Steps[0].Script.Body != "migrate --v2 #{Db}" || moved.Steps[0].Template.Sensitive["Password"] != sealed {
				t.Errorf("moved: %+v", moved.Steps[0])
			}
			return nil
		})
		// The release keeps version 1's body and the module's body then.
		tx(t, s, func(q *store.Queries) error {
			m, err := q.FindScriptModule(ctx, "common")
			if err != nil {
				return err
			}
			m.Body = "say() { :; }"
			if err := q.UpdateScriptModule(ctx, &m); err != nil {
				return err
			}
			rel, err := q.FindRelease(ctx, p.ID, "1.0.0")
			if err != nil {
				return err
			}
			if rel.ProcessSnapshot.Steps[0].Script.Body != "migrate #{Db}" || len(rel.ProcessSnapshot.ScriptModules) != 1 ||
				!strings.Contains(rel.ProcessSnapshot.ScriptModules[0].Body, "echo") {
				t.Errorf("the release snapshot: %+v", rel.ProcessSnapshot)
			}
			return nil
		})
		// In use: neither the template nor the module can be deleted, nor
		// the module renamed.
		err := mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { return q.DeleteStepTemplate(ctx, tmpl.ID) })
		if !strings.Contains(err.Error(), "app") {
			t.Errorf("the refusal does not name the project: %v", err)
		}
		mustFail(t, s, store.ErrConflict, func(q *store.Queries) error {
			m, _ := q.FindScriptModule(ctx, "common")
			return q.DeleteScriptModule(ctx, m.ID)
		})
		mustFail(t, s, store.ErrConflict, func(q *store.Queries) error {
			m, _ := q.FindScriptModule(ctx, "common")
			m.Name = "renamed"
			return q.UpdateScriptModule(ctx, &m)
		})
		// Unused, both go; the kept versions with the template.
		tx(t, s, func(q *store.Queries) error {
			d, err := q.GetProcess(ctx, p.ID)
			if err != nil {
				return err
			}
			d.Steps = []model.Step{{Name: "Plain", Script: &model.ScriptAction{Body: "echo"}}}
			if err := q.SaveProcess(ctx, &d); err != nil {
				return err
			}
			if err := q.DeleteStepTemplate(ctx, tmpl.ID); err != nil {
				return err
			}
			m, _ := q.FindScriptModule(ctx, "common")
			return q.DeleteScriptModule(ctx, m.ID)
		})
		tx(t, s, func(q *store.Queries) error {
			if _, err := q.GetStepTemplateVersion(ctx, tmpl.ID, 1); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a deleted template's version: %v", err)
			}
			return nil
		})
		// A runbook step made from a template seals its value too.
		var rb model.Runbook
		tx(t, s, func(q *store.Queries) error {
			rt := model.StepTemplate{Name: "Rb", Parameters: []model.StepTemplateParameter{{Name: "Key", Control: model.ControlSensitive}},
				Script: &model.ScriptAction{Body: "echo #{Key}"}}
			if err := q.CreateStepTemplate(ctx, &rt); err != nil {
				return err
			}
			rb = model.Runbook{ProjectID: p.ID, Name: "ops", Steps: []model.Step{{Name: "Go",
				Template: &model.StepTemplateRef{ID: rt.ID, Version: 1, Parameters: map[string]string{"Key": "rb-key"}}}}}
			return q.CreateRunbook(ctx, &rb)
		})
		// Rotating the master key re-seals the step's value in the release
		// and in the runbook.
		to, _ := secrets.New(secrets.NewKey())
		tx(t, s, func(q *store.Queries) error {
			if _, err := q.RotateSecrets(ctx, box, to); err != nil {
				return err
			}
			got, err := q.GetRunbook(ctx, rb.ID)
			if err != nil {
				return err
			}
			if plain, err := to.Open(got.Steps[0].Template.Sensitive["Key"]); err != nil || string(plain) != "rb-key" {
				t.Errorf("after rotation the runbook's value opens to %q, %v", plain, err)
			}
			rel, err := q.FindRelease(ctx, p.ID, "1.0.0")
			if err != nil {
				return err
			}
			if plain, err := to.Open(rel.ProcessSnapshot.Steps[0].Template.Sensitive["Password"]); err != nil || string(plain) != "pw-1" {
				t.Errorf("after rotation the release's value opens to %q, %v", plain, err)
			}
			return nil
		})
	})
}

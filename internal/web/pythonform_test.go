package web

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// The step forms set a script's language, and editing a package step keeps
// the language of its inline scripts (the form edits their bodies only).
func TestStepFormsKeepPythonScripts(t *testing.T) {
	s := model.Step{Script: &model.ScriptAction{}}
	applyStepForm(&s, url.Values{"name": {"Check"}, "syntax": {"python"}, "body": {"print(1)\r\n"}})
	if s.Script.Syntax != model.SyntaxPython || s.Script.Body != "print(1)\n" {
		t.Errorf("script step %+v", s.Script)
	}
	s = model.Step{Package: &model.PackageAction{PackageID: "app",
		Deploy: &model.ScriptAction{Syntax: model.SyntaxPython, Body: "print(1)"}}}
	applyStepForm(&s, url.Values{"name": {"Install"}, "package": {"app"}, "deploy": {"print(2)"}, "postdeploy": {"echo new"}})
	if d := s.Package.Deploy; d == nil || d.Syntax != model.SyntaxPython || d.Body != "print(2)" {
		t.Errorf("Deploy %+v", d)
	}
	if p := s.Package.PostDeploy; p == nil || p.Syntax != model.SyntaxBash {
		t.Errorf("a new inline script is bash: %+v", p)
	}
}

// The step page offers python and says which inline scripts are Python.
func TestStepPageShowsPython(t *testing.T) {
	p, err := New(http.NotFoundHandler(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		step model.Step
		want string
	}{
		{model.Step{ID: "s1", Name: "Check", Script: &model.ScriptAction{Syntax: model.SyntaxPython, Body: "print(1)"}},
			`<option value="python" selected>python (python3)</option>`},
		{model.Step{ID: "s2", Name: "Site", Package: &model.PackageAction{PackageID: "app",
			Deploy: &model.ScriptAction{Syntax: model.SyntaxPython, Body: "print(1)"}, PostDeploy: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "x"}}},
			`<label for="edit-deploy">Deploy (python)</label>`},
	} {
		var b bytes.Buffer
		if err := p.pages["step"].Execute(&b, &view{Title: "step", User: &model.User{}, Data: stepEditData{Step: tt.step}}); err != nil {
			t.Fatalf("step page for %s: %v", tt.step.Name, err)
		}
		if !strings.Contains(b.String(), tt.want) {
			t.Errorf("step page for %s lacks %s", tt.step.Name, tt.want)
		}
		if strings.Contains(b.String(), `<label for="edit-postdeploy">Post-deploy (`) {
			t.Errorf("a bash inline script is marked")
		}
	}
}

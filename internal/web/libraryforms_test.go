package web

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// stepTemplateSample is a template at version 2 with a step behind, as
// its page gets it for someone who may change it.
func stepTemplateSample() stepTemplateData {
	v1 := model.StepTemplate{ID: "ActionTemplates-1", Name: "Notify", Version: 1, Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo #{Channel}"},
		Parameters: []model.StepTemplateParameter{{Name: "Channel", Label: "Chat channel", Control: model.ControlText, DefaultValue: "#ops"}}}
	v2 := v1
	v2.Version, v2.Script = 2, &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo v2 #{Channel}"}
	v2.Parameters = append(v2.Parameters, model.StepTemplateParameter{Name: "Hook", Control: model.ControlSensitive},
		model.StepTemplateParameter{Name: "Mode", Control: model.ControlSelect, Options: []string{"loud", "quiet"}, DefaultValue: "quiet"})
	change := model.DiffStepTemplates(v1, v2)
	return stepTemplateData{Template: v2, Form: stepTemplateFormOf(v2), MayEdit: true, Behind: 1,
		Versions: []templateVersion{{Template: v2, Change: &change}, {Template: v1}},
		Usage: []model.StepTemplateUsage{{ProjectID: "Projects-1", ProjectName: "web", StepID: "step-1", StepName: "Tell", Version: 1, Latest: 2, Behind: true},
			{ProjectID: "Projects-2", ProjectName: "api", StepID: "step-2", StepName: "Tell", Version: 2, Latest: 2}},
		Feeds: []model.Feed{model.BuiltInFeed(), {ID: "Feeds-1", Name: "Files", Type: model.FeedHTTP}}}
}

// The library's forms draw each state: new, current, refused at the
// fields with what was typed, changed meanwhile, and read-only for
// someone who may not change the library.
func TestStepTemplatePagesRenderEachState(t *testing.T) {
	p, err := New(http.NotFoundHandler(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	current := stepTemplateSample()
	viewer := current
	viewer.MayEdit, viewer.Form = false, stepTemplateForm{}

	typed := readStepTemplateForm(url.Values{"name": {"Notify"}, "kind": {"package"}, "package": {""}, "feed": {"Feeds-1"}, "acquisition": {"target"},
		"substitute": {"a.json, b.json"}, "deploy": {"./go.sh"}, "version": {"2"}, "rows": {"3"},
		"parameters[0].name": {"1bad"}, "parameters[0].control": {"text"},
		"parameters[1].name": {""}, "parameters[1].control": {"text"},
		"parameters[2].name": {"Secret"}, "parameters[2].control": {"sensitive"}, "parameters[2].defaultValue": {"typed-secret"}})
	typed.pad(emptyParameterRows)
	refused := &apiError{Status: http.StatusBadRequest, Message: "step template is invalid", Details: []string{
		`parameters[0].name: "1bad" is not a variable name`, "parameters[1].defaultValue: a sensitive parameter has no default",
		"package.packageId: is required"}}
	refusedData := current
	refusedData.Form = typed
	stale := current
	stale.Form = stepTemplateFormOf(current.Template)
	stale.Form.Version, stale.Form.Newest = 1, 2
	inUse := &apiError{Status: http.StatusConflict, Message: `step template "Notify" is used by web (step "Tell"); change those steps first`}
	fresh := stepTemplateData{Form: stepTemplateFormOf(model.StepTemplate{}), MayEdit: true}

	modules := scriptModulesData{Items: []model.ScriptModule{{ID: "ScriptModules-1", Name: "common", Syntax: model.SyntaxBash, Body: "say() { echo \"$1\"; }"}}}
	typedModule := modules
	typedModule.MayEdit, typedModule.Form = true, model.ScriptModule{Name: "bad name", Syntax: model.SyntaxPython, Body: "\nimport os"}
	badModule := &apiError{Status: http.StatusBadRequest, Message: "script module is invalid", Details: []string{`name: "bad name" is not a module name`}}

	for _, tt := range []struct {
		name, page   string
		err          error
		data         any
		want, banned []string
	}{
		{"a new template", "steptemplate", nil, fresh,
			[]string{"New step template", `action="/step-templates"`, `name="rows" value="2"`, `name="parameters[1].name"`, `value="script" checked`,
				`<option value="bash" selected>`, "Create step template", `name="more"`},
			[]string{"Version history", "Delete", "field-error", "Used by"}},
		{"the current version", "steptemplate", nil, current,
			[]string{`id="current-version">version 2`, "Save as version 3", `name="version" value="2"`, `name="rows" value="5"`,
				`name="parameters[0].name" value="Channel"`, `value="#ops"`, `name="parameters[1].name" value="Hook"`,
				`<option value="sensitive" selected>`, "\nloud\nquiet</textarea>", "\necho v2 #{Channel}</textarea>",
				"behind: update to 2", "1 step(s) use an older version", `href="/projects/Projects-1/steps/step-1"`,
				"changes script.body", "Adds parameters Hook, Mode", "the first version", `action="/step-templates/ActionTemplates-1/delete"`,
				`<option value="Feeds-1" >Files (http)</option>`},
			[]string{"field-error", "open it as it is now"}},
		{"a refused form", "steptemplate", refused, refusedData,
			[]string{`value="package" checked`, `name="parameters[0].name" value="1bad"`, `&#34;1bad&#34; is not a variable name`,
				`name="parameters[1].name" value="Secret"`, "a sensitive parameter has no default", "package.packageId: is required",
				`<span class="field-error">is required</span>`, `<option value="Feeds-1" selected>`, `<option value="target" selected>`,
				`value="a.json, b.json"`, "\n./go.sh</textarea>", `name="rows" value="4"`},
			[]string{"typed-secret"}},
		{"a template changed meanwhile", "steptemplate", &apiError{Status: http.StatusConflict, Message: "step template \"Notify\" changed since version 1 was read"}, stale,
			[]string{"It is now version 2", `<a href="/step-templates/ActionTemplates-1">open it as it is now</a>`, `name="version" value="1"`}, nil},
		{"a delete refused", "steptemplate", inUse, current,
			[]string{"is used by web (step &#34;Tell&#34;); change those steps first"}, []string{"open it as it is now", "field-error"}},
		{"a viewer", "steptemplate", nil, viewer,
			[]string{"What it does", "Runs a bash script", "echo v2 #{Channel}", "Chat channel", "Version history", "behind: update to 2"},
			[]string{`action="/step-templates`, "Delete", "Save as"}},
		{"script modules for a viewer", "scriptmodules", nil, modules,
			[]string{"common", "say() { echo &#34;$1&#34;; }"}, []string{`name="body"`, "Delete", "Edit"}},
		{"a refused module", "scriptmodules", badModule, typedModule,
			[]string{`value="bad name"`, `<option value="python" selected>`, "\n\nimport os</textarea>", `<span class="field-error">&#34;bad name&#34; is not a module name</span>`,
				`action="/script-modules/ScriptModules-1/delete"`, `href="/script-modules?edit=ScriptModules-1#form-h"`, "Add a script module"}, nil},
		{"the templates for a viewer", "steptemplates", nil, stepTemplatesData{Rows: []stepTemplateRow{{Template: current.Template}}},
			[]string{`href="/step-templates/ActionTemplates-1"`, "No project step uses it"}, []string{"/step-templates/new"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := p.pages[tt.page].Execute(&b, &view{Title: tt.name, User: &model.User{Username: "admin"}, CSRF: "token", Error: tt.err, Data: tt.data}); err != nil {
				t.Fatal(err)
			}
			html := b.String()
			for _, w := range tt.want {
				if !strings.Contains(html, w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			for _, w := range tt.banned {
				if strings.Contains(html, w) {
					t.Errorf("the page has %q", w)
				}
			}
		})
	}
}

// The form reads what was typed, drops removed and empty rows, keeps what
// it does not show, and adds rows on request.
func TestStepTemplateFormReading(t *testing.T) {
	f := readStepTemplateForm(url.Values{"name": {" Deploy site "}, "kind": {"package"}, "package": {"site"}, "feed": {"feeds-builtin"}, "acquisition": {"target"},
		"substitute": {"a.json,, b.json"}, "deploy": {"./run.sh\r\n"}, "version": {"3"}, "rows": {"4"},
		"parameters[0].name": {"Port"}, "parameters[0].control": {"select"}, "parameters[0].options": {"80\r\n\r\n 443 \n"}, "parameters[0].defaultValue": {"443"},
		"parameters[1].name": {"Gone"}, "parameters[1].remove": {"on"},
		"parameters[2].control": {"text"},
		"parameters[3].name":    {"Key"}, "parameters[3].control": {"sensitive"},
		"parameters[9].name": {"beyond the rows"}})
	was := model.StepTemplate{ID: "ActionTemplates-1", Package: &model.PackageAction{PackageID: "old", StructuredConfigFiles: []string{"app.yaml"},
		Deploy: &model.ScriptAction{Syntax: model.SyntaxSh, Body: "old"}}}
	f.into(&was)
	pa := was.Package
	if was.Name != "Deploy site" || was.Version != 3 || was.Script != nil || pa.PackageID != "site" || pa.Acquisition != "" ||
		strings.Join(pa.SubstituteFiles, "|") != "a.json|b.json" || strings.Join(pa.StructuredConfigFiles, "|") != "app.yaml" ||
		pa.Deploy.Syntax != model.SyntaxSh || pa.Deploy.Body != "./run.sh\n" {
		t.Errorf("the template: %+v %+v", was, pa)
	}
	if len(was.Parameters) != 2 || was.Parameters[0].Name != "Port" || strings.Join(was.Parameters[0].Options, "|") != "80|443" ||
		was.Parameters[1].Name != "Key" || was.Parameters[1].Control != model.ControlSensitive {
		t.Errorf("the parameters: %+v", was.Parameters)
	}
	// Back to a script: the package goes, the rows come back compacted with
	// blanks after them.
	f.Kind, f.Syntax, f.Body = "script", "bash", "echo"
	f.into(&was)
	if was.Package != nil || was.Script == nil || was.Script.Body != "echo" {
		t.Errorf("as a script: %+v", was)
	}
	f.pad(emptyParameterRows)
	if len(f.Parameters) != 2+emptyParameterRows || f.Parameters[1].Name != "Key" || f.Parameters[2].Name != "" {
		t.Errorf("padded rows: %+v", f.Parameters)
	}
	f.more()
	if len(f.Parameters) != 3+emptyParameterRows {
		t.Errorf("one more row: %d", len(f.Parameters))
	}
	if got := stepTemplateFormOf(model.StepTemplate{Package: &model.PackageAction{PackageID: "x", FeedID: "Feeds-1", Acquisition: model.AcquireOnTarget,
		Deploy: &model.ScriptAction{Body: "go"}}}); got.Kind != "package" || got.Feed != "Feeds-1" || got.Acquisition != "target" || got.Deploy != "go" {
		t.Errorf("the form of a package template: %+v", got)
	}
}

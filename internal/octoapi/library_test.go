package octoapi

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// Each kind of step template becomes the Octopus action that does the
// same, with the properties Octopus's own steps use.
func TestStepTemplatesAsOctopusActions(t *testing.T) {
	cases := []struct {
		name     string
		template model.StepTemplate
		action   string
		props    map[string]string
		packages []packageReference
	}{
		{"an sh script", model.StepTemplate{Script: &model.ScriptAction{Syntax: model.SyntaxSh, Body: "ls"}}, "Octopus.Script",
			map[string]string{"Octopus.Action.Script.Syntax": "Bash", "Octopus.Action.Script.ScriptSource": "Inline", "Octopus.Action.Script.ScriptBody": "ls"}, nil},
		{"a python script", model.StepTemplate{Script: &model.ScriptAction{Syntax: model.SyntaxPython, Body: "print(1)"}}, "Octopus.Script",
			map[string]string{"Octopus.Action.Script.Syntax": "Python", "Octopus.Action.Script.ScriptBody": "print(1)"}, nil},
		{"a script from a package", model.StepTemplate{Script: &model.ScriptAction{Syntax: model.SyntaxBash, FromPackage: &model.ScriptPackage{
			PackageID: "tools", FeedID: "Feeds-2", Acquisition: model.AcquireOnTarget, File: "bin/migrate.sh", Arguments: "--fast"},
			Packages: []model.PackageReference{{Name: "img", PackageID: "nginx", FeedID: "Feeds-3", Acquisition: model.AcquireNone}}}}, "Octopus.Script",
			map[string]string{"Octopus.Action.Script.ScriptSource": "Package", "Octopus.Action.Script.ScriptFileName": "bin/migrate.sh",
				"Octopus.Action.Script.ScriptParameters": "--fast"},
			[]packageReference{{Name: "", PackageID: "tools", FeedID: "Feeds-2", AcquisitionLocation: "ExecutionTarget"},
				{Name: "img", PackageID: "nginx", FeedID: "Feeds-3", AcquisitionLocation: "NotAcquired"}}},
		{"a package in a custom folder", model.StepTemplate{Package: &model.PackageAction{PackageID: "web", CustomInstallDir: "/srv/web",
			PurgeCustomInstallDir: true, StructuredConfigFiles: []string{"appsettings.json"}, SkipPackageScripts: true,
			PreDeploy: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "stop"}}}, "Octopus.TentaclePackage",
			map[string]string{"Octopus.Action.Package.CustomInstallationDirectory": "/srv/web",
				"Octopus.Action.Package.CustomInstallationDirectoryShouldBePurgedBeforeDeployment": "True",
				"Octopus.Action.Package.JsonConfigurationVariablesTargets":                         "appsettings.json",
				"Octopus.Action.CustomScripts.PreDeploy.sh":                                        "stop", "Octopus.Action.Package.RunPackageScripts": "False",
				"Octopus.Action.Package.FeedId": "feeds-builtin", "Octopus.Action.Package.DownloadOnTentacle": "False",
				"Octopus.Action.EnabledFeatures": "Octopus.Features.JsonConfigurationVariables,Octopus.Features.CustomDirectory,Octopus.Features.CustomScripts"},
			[]packageReference{{PackageID: "web", FeedID: "feeds-builtin", AcquisitionLocation: "Server"}}},
	}
	for _, c := range cases {
		c.template.ID = "ActionTemplates-4"
		got := actionTemplateOf(c.template)
		if got.ActionType != c.action {
			t.Errorf("%s: action %q, want %q", c.name, got.ActionType, c.action)
		}
		for k, v := range c.props {
			if got.Properties[k] != v {
				t.Errorf("%s: %s is %q, want %q", c.name, k, got.Properties[k], v)
			}
		}
		if len(got.Packages) != len(c.packages) {
			t.Fatalf("%s: packages %+v", c.name, got.Packages)
		}
		for i, want := range c.packages {
			p := got.Packages[i]
			if p.Name != want.Name || p.PackageID != want.PackageID || p.FeedID != want.FeedID || p.AcquisitionLocation != want.AcquisitionLocation || p.ID == "" {
				t.Errorf("%s: package %d is %+v, want %+v", c.name, i, p, want)
			}
		}
	}
}

// A sensitive parameter's default never leaves, even were one stored.
func TestSensitiveParameterDefaultsNeverLeave(t *testing.T) {
	p := templateParameterOf("ActionTemplates-1", model.StepTemplateParameter{Name: "Pw", Control: model.ControlSensitive, DefaultValue: "hunter2"})
	b, _ := json.Marshal(p)
	if strings.Contains(string(b), "hunter2") || !strings.Contains(string(b), `"DefaultValue":{"HasValue":true}`) {
		t.Errorf("the sensitive parameter: %s", b)
	}
}

func TestStableGUIDs(t *testing.T) {
	a, b := stableGUID("ActionTemplates-1", "parameter", "Pw"), stableGUID("ActionTemplates-1", "parameter", "Pw")
	if a != b || !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(a) {
		t.Errorf("%q, %q", a, b)
	}
	if stableGUID("ActionTemplates-1", "parameter", "Pw2") == a || stableGUID("ActionTemplates-2", "parameter", "Pw") == a {
		t.Error("different parameters share a GUID")
	}
}

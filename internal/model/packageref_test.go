package model_test

import (
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

func TestStepsTakingPackagesFromFeeds(t *testing.T) {
	script := func(refs ...model.PackageReference) model.Step {
		return model.Step{Name: "s", Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo", Packages: refs}}
	}
	pkg := func(a model.PackageAction) model.Step { return model.Step{Name: "s", Package: &a} }
	cases := []struct {
		name string
		step model.Step
		want string // "" when valid
	}{
		{"a built-in package", pkg(model.PackageAction{PackageID: "web"}), ""},
		{"an external package downloaded by targets", pkg(model.PackageAction{PackageID: "com.acme:web", FeedID: "Feeds-1", Acquisition: model.AcquireOnTarget}), ""},
		{"a Maven id needs an external feed", pkg(model.PackageAction{PackageID: "com.acme:web"}), `"com.acme:web" is not a package id`},
		{"targets cannot download from the built-in feed", pkg(model.PackageAction{PackageID: "web", Acquisition: model.AcquireOnTarget}), "a target downloads from an external feed only"},
		{"a package step's package must be acquired", pkg(model.PackageAction{PackageID: "web", FeedID: "Feeds-1", Acquisition: model.AcquireNone}), "must be acquired"},
		{"an unknown acquisition", pkg(model.PackageAction{PackageID: "web", Acquisition: "sometimes"}), `"sometimes" is not an acquisition`},
		{"an image a script refers to", script(model.PackageReference{Name: "web", PackageID: "library/nginx", FeedID: "Feeds-2", Acquisition: model.AcquireNone}), ""},
		{"two references of one name", script(model.PackageReference{Name: "web", PackageID: "a"}, model.PackageReference{Name: "WEB", PackageID: "b"}), `another package of this step is called "WEB"`},
		{"a reference name that cannot be a variable's", script(model.PackageReference{Name: "my web", PackageID: "a"}), `"my web" is not a reference name`},
		{"extracting what nobody downloads", script(model.PackageReference{Name: "w", PackageID: "a", FeedID: "Feeds-2", Acquisition: model.AcquireNone, Extract: true}), "cannot be extracted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			proc := model.DeploymentProcess{Steps: []model.Step{c.step}}
			err := proc.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("want an error containing %q, got %v", c.want, err)
			}
		})
	}
}

func TestAStepListsItsOwnPackageFirst(t *testing.T) {
	step := model.Step{Name: "s", Script: &model.ScriptAction{
		FromPackage: &model.ScriptPackage{PackageID: "tools", File: "run.sh"},
		Packages:    []model.PackageReference{{Name: "img", PackageID: "library/nginx", FeedID: "Feeds-2", Acquisition: model.AcquireNone}},
	}}
	got := step.Packages()
	if len(got) != 2 || got[0].Reference != "" || got[0].PackageID != "tools" || got[0].Acquisition != model.AcquireOnServer ||
		got[1].Reference != "img" || !got[1].External() || got[1].Acquisition != model.AcquireNone {
		t.Fatalf("packages: %+v", got)
	}
}

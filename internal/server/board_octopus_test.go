package server_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/OctopusDeploy/go-octopusdeploy/v2/pkg/buildinformation"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// Pipelines that push build information with Octopus's tools reach
// Pulpo's build information, and releases take it.
func TestOctopusClientPushesBuildInformation(t *testing.T) {
	s := start(t, "")
	ctx := context.Background()
	oc := octopus(t, s, "Spaces-1")
	cmd := buildinformation.NewCreateBuildInformationCommand("Spaces-1", "web", "2.0.0", buildinformation.OctopusBuildInformation{
		BuildNumber: "77", BuildUrl: "https://ci.example/builds/77", Branch: "main", VcsType: "Git", VcsRoot: "https://git.example/web",
		Commits: []*buildinformation.Commit{{Id: "f00d", Comment: "Faster pages"}}})
	got, err := buildinformation.Add(oc, cmd)
	if err != nil {
		t.Fatalf("push through Octopus's client: %v", err)
	}
	if got.PackageID != "web" || got.Version != "2.0.0" || got.BuildURL != "https://ci.example/builds/77" || len(got.Commits) != 1 || got.ID == "" {
		t.Fatalf("the answer: %+v", got)
	}
	if _, err := buildinformation.Add(oc, cmd); apiStatus(err) != 409 {
		t.Fatalf("a second push without overwrite: %v", err)
	}
	cmd.OverwriteMode = buildinformation.OverwriteModeOverwriteExisting
	if _, err := buildinformation.Add(oc, cmd); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	all, err := buildinformation.GetAll(oc, "Spaces-1")
	if err != nil || len(all) != 1 || all[0].BuildNumber != "77" {
		t.Fatalf("list through Octopus's client: %v %+v", err, all)
	}
	// Pulpo's own API sees the same record, and its work items reach a release.
	if _, err := s.client.PushBuildInformation(ctx, model.BuildInformation{PackageID: "web", Version: "2.1.0",
		WorkItems: []model.WorkItem{{ID: "WEB-3", Title: "Search"}}}, ""); err != nil {
		t.Fatal(err)
	}
	list, err := s.client.BuildInformation(ctx, "web")
	if err != nil || len(list) != 2 {
		t.Fatalf("native list: %v %+v", err, list)
	}
	p, err := s.client.CreateProject(ctx, model.Project{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{
		{Name: "Site", TargetRoles: []string{"web"}, Package: &model.PackageAction{PackageID: "web"}}}}); err != nil {
		t.Fatal(err)
	}
	pkg := tarGzOf(t, map[string]string{"index.html": "hi"})
	if _, err := s.client.PushPackage(ctx, "web.2.1.0.tar.gz", bytes.NewReader(pkg), int64(len(pkg)), client.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	rel, err := s.client.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID, Version: "2.1.0"})
	if err != nil || workItemIDs(rel.Release.WorkItems) != "WEB-3" || rel.Release.WorkItems[0].Source != model.WorkItemFromBuild {
		t.Fatalf("the release's work items: %v %+v", err, rel.Release.WorkItems)
	}
}

package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// zipOf is an archive (a .jar or .nupkg is a zip) holding the given files.
func zipOf(t *testing.T, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// A release takes versions from a real Maven repository and a real NuGet
// v3 feed (static files behind servers that check the credentials): the
// server downloads the Maven artifact and sends it to the target, which
// deploys it by the conventions; the NuGet package is downloaded by the
// target itself and extracted for the script. No log line holds a
// password.
func TestDeploymentsTakePackagesFromMavenAndNuGetFeeds(t *testing.T) {
	const mavenPassword, nugetPassword = "maven-Pa55-word", "nuget-Pa55-word"
	maven := staticFeed(t, "deployer", mavenPassword, func(string) map[string]string {
		return map[string]string{
			"org/acme/api/maven-metadata.xml":  `<metadata><versioning><versions><version>3.0.0</version><version>3.1.0</version></versions></versioning></metadata>`,
			"org/acme/api/3.0.0/api-3.0.0.jar": zipOf(t, map[string]string{"version.txt": "api three-oh"}),
			"org/acme/api/3.1.0/api-3.1.0.jar": zipOf(t, map[string]string{"version.txt": "api three-one"}),
		}
	})
	nuget := staticFeed(t, "ci", nugetPassword, func(url string) map[string]string {
		return map[string]string{
			"v3/index.json":                                fmt.Sprintf(`{"version": "3.0.0", "resources": [{"@id": "%s/flat/", "@type": "PackageBaseAddress/3.0.0"}]}`, url),
			"flat/acme.tools/index.json":                   `{"versions": ["1.0.0", "2.0.0"]}`,
			"flat/acme.tools/2.0.0/acme.tools.2.0.0.nupkg": zipOf(t, map[string]string{"tools/greet.sh": "echo tools two", "Acme.Tools.nuspec": "<package/>"}),
		}
	})
	ts := start(t, "")
	ctx := context.Background()
	c := ts.client
	nexus, err := c.CreateFeed(ctx, model.Feed{Name: "Nexus", Type: model.FeedMaven, URL: maven.URL, Username: "deployer", Password: mavenPassword})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateFeed(ctx, model.Feed{Name: "TeamCity", Type: model.FeedNuGet, URL: nuget.URL + "/v3/index.json", Username: "ci", Password: nugetPassword}); err != nil {
		t.Fatal(err)
	}
	dev, err := c.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.CreateProject(ctx, model.Project{Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{
		{Name: "Install", Package: &model.PackageAction{PackageID: "org.acme:api", FeedID: nexus.ID,
			Deploy: &model.ScriptAction{Syntax: model.SyntaxBash, Body: `echo "installed $(cat version.txt)"`}}},
		{Name: "Tools", Script: &model.ScriptAction{Syntax: model.SyntaxBash,
			Body: `bash "#{Octopus.Action.Package[tools].ExtractedPath}/tools/greet.sh"; echo "tools=#{Octopus.Action.Package[tools].PackageVersion}"`,
			// By name: the step keeps the feed's id.
			Packages: []model.PackageReference{{Name: "tools", PackageID: "Acme.Tools", FeedID: "TeamCity", Acquisition: model.AcquireOnTarget, Extract: true}}}},
	}}); err != nil {
		t.Fatal(err)
	}

	rel, err := c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID, Version: "1.0.0", Packages: map[string]string{"Install": "3.0.0"}})
	if err != nil {
		t.Fatal(err)
	}
	chosen := map[string]string{}
	for _, rp := range rel.Packages {
		chosen[rp.StepName+"/"+rp.Reference] = rp.PackageID + " " + rp.Version
	}
	if chosen["Install/"] != "org.acme:api 3.0.0" || chosen["Tools/tools"] != "Acme.Tools 2.0.0" {
		t.Fatalf("the release's packages: %v", chosen)
	}
	if _, err := c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID, Version: "1.0.1", Packages: map[string]string{"Install": "9.9.9"}}); err == nil ||
		!strings.Contains(err.Error(), "the feed has no version 9.9.9 (newest: 3.1.0)") {
		t.Fatalf("a version the feed lacks: %v", err)
	}

	d, err := c.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: rel.ID, EnvironmentID: dev.ID})
	if err != nil {
		t.Fatal(err)
	}
	end := follow(t, ts, d.TaskID)
	log, _ := c.TaskLog(ctx, d.TaskID, 0)
	var text strings.Builder
	for _, l := range log.Lines {
		text.WriteString(l.Text + "\n")
	}
	if end.State != model.TaskSuccess {
		t.Fatalf("deployment: %+v\n%s", end, text.String())
	}
	for _, want := range []string{"installed api three-oh", "tools two", "tools=2.0.0", "downloads package Acme.Tools 2.0.0 from feed TeamCity itself"} {
		if !strings.Contains(text.String(), want) {
			t.Fatalf("the log lacks %q:\n%s", want, text.String())
		}
	}
	for _, secret := range []string{mavenPassword, nugetPassword} {
		if strings.Contains(text.String(), secret) {
			t.Fatalf("a feed's password is in the log:\n%s", text.String())
		}
	}
}

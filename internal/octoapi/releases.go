package octoapi

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

type release struct {
	ID                                 string            `json:"Id"`
	Version                            string            `json:"Version"`
	ProjectID                          string            `json:"ProjectId"`
	ChannelID                          string            `json:"ChannelId"`
	SpaceID                            string            `json:"SpaceId"`
	ReleaseNotes                       string            `json:"ReleaseNotes"`
	Assembled                          time.Time         `json:"Assembled"`
	IgnoreChannelRules                 bool              `json:"IgnoreChannelRules"`
	ProjectDeploymentProcessSnapshotID string            `json:"ProjectDeploymentProcessSnapshotId"`
	ProjectVariableSetSnapshotID       string            `json:"ProjectVariableSetSnapshotId"`
	LibraryVariableSetSnapshotIDs      []string          `json:"LibraryVariableSetSnapshotIds"`
	SelectedPackages                   []selectedPackage `json:"SelectedPackages"`
	BuildInformation                   []any             `json:"BuildInformation"`
	Links                              map[string]string `json:"Links"`
}

type selectedPackage struct {
	ActionName           string `json:"ActionName"`
	StepName             string `json:"StepName"`
	PackageReferenceName string `json:"PackageReferenceName"`
	Version              string `json:"Version"`
}

func releaseOf(r model.Release) release {
	out := release{ID: r.ID, Version: r.Version, ProjectID: r.ProjectID, ChannelID: r.ChannelID, SpaceID: SpaceID,
		ReleaseNotes: r.Notes, Assembled: r.CreatedAt, ProjectDeploymentProcessSnapshotID: "deploymentprocess-" + r.ID,
		ProjectVariableSetSnapshotID: "variableset-" + r.ID, LibraryVariableSetSnapshotIDs: []string{},
		SelectedPackages: []selectedPackage{}, BuildInformation: []any{},
		Links: map[string]string{"Self": spacePath + "/releases/" + r.ID, "Project": spacePath + "/projects/" + r.ProjectID}}
	if out.ChannelID == "" {
		out.ChannelID = implicitChannelPrefix + r.ProjectID
	}
	out.Links["Channel"] = spacePath + "/channels/" + out.ChannelID
	for _, p := range r.Packages {
		out.SelectedPackages = append(out.SelectedPackages, selectedPackage{ActionName: p.StepName, StepName: p.StepName, PackageReferenceName: p.Reference, Version: p.Version})
	}
	return out
}

// releases serves /api/Spaces-1/releases…
func (h *Handler) releases(c *call, segs []string) error {
	switch {
	case len(segs) == 2 && strings.EqualFold(segs[0], "create") && strings.EqualFold(segs[1], "v1"):
		if c.r.Method != http.MethodPost {
			return methodNotAllowed(c.r)
		}
		return h.createRelease(c)
	case len(segs) == 0:
		return c.get(func(c *call) error { return h.listReleases(c, "") })
	case len(segs) == 1:
		return c.get(func(c *call) error { return getOne(c, "/releases/"+url.PathEscape(segs[0]), releaseOf) })
	}
	return c.unserved("")
}

// listReleases pages releases, newest first, of one project or all; ids
// picks some.
func (h *Handler) listReleases(c *call, projectID string) error {
	p, err := pagingOf(c.r)
	if err != nil {
		return err
	}
	if ids := queryList(c.r.URL.Query(), "ids"); len(ids) > 0 {
		var list []release
		for _, id := range ids {
			var r model.Release
			err := c.getJSON("/releases/"+url.PathEscape(id), nil, &r)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			if projectID == "" || r.ProjectID == projectID {
				list = append(list, releaseOf(r))
			}
		}
		return c.ok(pageItems(c.r, "Release", list, len(list), p, false))
	}
	// The native API lists newest first too, so a page here is a range there.
	q := url.Values{}
	if projectID != "" {
		q.Set("projectId", projectID)
	}
	items, total, err := innerRange[model.Release](c, "/releases", q, p)
	if err != nil {
		return err
	}
	list := make([]release, 0, len(items))
	for _, r := range items {
		list = append(list, releaseOf(r))
	}
	return c.ok(pageItems(c.r, "Release", list, total, p, true))
}

func (h *Handler) releaseByVersion(c *call, projectID, version string) error {
	return getOne(c, "/projects/"+url.PathEscape(projectID)+"/releases/"+url.PathEscape(version), releaseOf)
}

// createReleaseCommand is Octopus's "create release" command (v1).
type createReleaseCommand struct {
	SpaceID               string            `json:"spaceId"`
	ProjectName           string            `json:"projectName"`
	PackageVersion        string            `json:"packageVersion"`
	GitCommit             string            `json:"gitCommit"`
	GitRef                string            `json:"gitRef"`
	GitResources          []string          `json:"gitResources"`
	ReleaseVersion        string            `json:"releaseVersion"`
	ChannelName           string            `json:"channelName"`
	Packages              []string          `json:"packages"`
	ReleaseNotes          string            `json:"releaseNotes"`
	IgnoreIfAlreadyExists bool              `json:"ignoreIfAlreadyExists"`
	IgnoreChannelRules    bool              `json:"ignoreChannelRules"`
	PackagePrerelease     string            `json:"packagePrerelease"`
	CustomFields          map[string]string `json:"customFields"`
}

type createReleaseResponse struct {
	ReleaseID                         string   `json:"ReleaseId"`
	ReleaseVersion                    string   `json:"ReleaseVersion"`
	AutomaticallyDeployedEnvironments []string `json:"AutomaticallyDeployedEnvironments"`
}

func (h *Handler) createRelease(c *call) error {
	var cmd createReleaseCommand
	if err := c.decodeBody(&cmd); err != nil {
		return err
	}
	if cmd.ProjectName == "" {
		return badRequest("projectName is required: the project's name or id")
	}
	if cmd.GitRef != "" || cmd.GitCommit != "" || len(cmd.GitResources) > 0 {
		return badRequest("gitRef, gitCommit and gitResources are for version-controlled projects; Pulpo keeps processes in its own store, so leave them out")
	}
	if cmd.PackagePrerelease != "" {
		return badRequest("packagePrerelease is not supported; give each package's version with packages or packageVersion")
	}
	proj, err := projects.find(c, cmd.ProjectName)
	if isNotFound(err) {
		return badRequest("there is no project %q: give its name or id", cmd.ProjectName)
	}
	if err != nil {
		return err
	}
	ch, err := findChannel(c, proj.ID, cmd.ChannelName)
	if err != nil {
		return err
	}
	if cmd.IgnoreIfAlreadyExists && cmd.ReleaseVersion != "" {
		var existing model.Release
		err := c.getJSON("/projects/"+url.PathEscape(proj.ID)+"/releases/"+url.PathEscape(cmd.ReleaseVersion), nil, &existing)
		if err == nil {
			return c.ok(createReleaseResponse{ReleaseID: existing.ID, ReleaseVersion: existing.Version, AutomaticallyDeployedEnvironments: []string{}})
		}
		if !isNotFound(err) {
			return err
		}
	}
	req := wire.CreateReleaseRequest{ProjectID: proj.ID, Version: cmd.ReleaseVersion, Notes: cmd.ReleaseNotes, Packages: map[string]string{}}
	if !strings.HasPrefix(ch.ID, implicitChannelPrefix) {
		req.Channel = ch.ID
	}
	if cmd.PackageVersion != "" {
		// The default version of every package step the list below does
		// not name, by package id or step.
		var process model.DeploymentProcess
		if err := c.getJSON("/projects/"+url.PathEscape(proj.ID)+"/process", nil, &process); err != nil {
			return err
		}
		for _, s := range process.Steps {
			if s.PackageID() != "" && !namedIn(cmd.Packages, s.Name, s.PackageID()) {
				req.Packages[s.Name] = cmd.PackageVersion
			}
		}
	}
	for _, spec := range cmd.Packages {
		key, version, err := packageSpec(spec)
		if err != nil {
			return err
		}
		req.Packages[key] = version
	}
	var res wire.CreateReleaseResponse
	if err := c.sendJSON(http.MethodPost, "/releases", req, &res); err != nil {
		return err
	}
	out := createReleaseResponse{ReleaseID: res.Release.ID, ReleaseVersion: res.Release.Version, AutomaticallyDeployedEnvironments: []string{}}
	for _, d := range res.AutomaticDeployments {
		out.AutomaticallyDeployedEnvironments = append(out.AutomaticallyDeployedEnvironments, d.EnvironmentID)
	}
	return c.created(out)
}

// packageSpec reads "StepOrPackage:Version", or "Step:PackageReference:Version"
// (the native API's "Step:Reference" key; a step's own package has an
// empty reference name in Octopus, so "Step::Version" names it).
func packageSpec(spec string) (key, version string, err error) {
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[len(parts)-1] == "" {
		return "", "", badRequest("package %q: write it as StepOrPackageId:Version (or Step:PackageReference:Version)", spec)
	}
	if len(parts) == 3 && parts[1] != "" {
		return parts[0] + ":" + parts[1], parts[2], nil
	}
	return parts[0], parts[len(parts)-1], nil
}

// namedIn reports whether a package spec names the step or its package.
func namedIn(specs []string, step, packageID string) bool {
	for _, spec := range specs {
		key, _, err := packageSpec(spec)
		if err == nil && (strings.EqualFold(key, step) || strings.EqualFold(key, packageID)) {
			return true
		}
	}
	return false
}

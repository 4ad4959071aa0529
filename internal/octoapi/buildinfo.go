package octoapi

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// octoBuildInfoPush is what Octopus's clients (the `octopus` CLI, octo
// build-information, the GitHub action) push for a package version.
type octoBuildInfoPush struct {
	PackageID     string `json:"PackageId"`
	Version       string `json:"Version"`
	OverwriteMode string `json:"OverwriteMode"`
	Build         *struct {
		BuildEnvironment string `json:"BuildEnvironment"`
		BuildNumber      string `json:"BuildNumber"`
		BuildURL         string `json:"BuildUrl"`
		Branch           string `json:"Branch"`
		VcsType          string `json:"VcsType"`
		VcsRoot          string `json:"VcsRoot"`
		VcsCommitNumber  string `json:"VcsCommitNumber"`
		Commits          []struct {
			ID      string `json:"Id"`
			Comment string `json:"Comment"`
			LinkURL string `json:"LinkUrl"`
		} `json:"Commits"`
	} `json:"OctopusBuildInformation"`
}

// octoBuildInfo is Octopus's build information resource.
type octoBuildInfo struct {
	ID          string            `json:"Id"`
	PackageID   string            `json:"PackageId"`
	Version     string            `json:"Version"`
	BuildNumber string            `json:"BuildNumber,omitempty"`
	BuildURL    string            `json:"BuildUrl,omitempty"`
	Branch      string            `json:"Branch,omitempty"`
	VcsType     string            `json:"VcsType,omitempty"`
	VcsRoot     string            `json:"VcsRoot,omitempty"`
	Commits     []octoCommit      `json:"Commits"`
	WorkItems   []octoWorkItem    `json:"WorkItems"`
	Created     time.Time         `json:"Created"`
	Links       map[string]string `json:"Links"`
}

type octoCommit struct {
	ID      string `json:"Id"`
	Comment string `json:"Comment,omitempty"`
	LinkURL string `json:"LinkUrl,omitempty"`
}

type octoWorkItem struct {
	ID          string `json:"Id"`
	Description string `json:"Description,omitempty"`
	LinkURL     string `json:"LinkUrl,omitempty"`
	Source      string `json:"Source,omitempty"`
}

func toOctoBuildInfo(b model.BuildInformation) octoBuildInfo {
	o := octoBuildInfo{ID: b.ID, PackageID: b.PackageID, Version: b.Version, BuildNumber: b.BuildNumber, BuildURL: b.BuildURL,
		Branch: b.Branch, VcsType: b.VcsType, VcsRoot: b.VcsRoot, Created: b.CreatedAt, Commits: []octoCommit{}, WorkItems: []octoWorkItem{},
		Links: map[string]string{"Self": "/api/" + SpaceID + "/build-information/" + b.ID}}
	for _, c := range b.Commits {
		o.Commits = append(o.Commits, octoCommit{ID: c.ID, Comment: c.Comment, LinkURL: c.URL})
	}
	for _, w := range b.WorkItems {
		o.WorkItems = append(o.WorkItems, octoWorkItem{ID: w.ID, Description: w.Title, LinkURL: w.URL, Source: "Pulpo"})
	}
	return o
}

// buildInformation serves /api/Spaces-1/build-information: the push, a
// list (optionally of one package) and one record by id. Octopus takes
// work items from commit messages through an issue tracker extension;
// Pulpo has none, so pushes through here carry commits only (Pulpo's own
// API takes work items directly).
func (h *Handler) buildInformation(c *call, segs []string) error {
	switch {
	case len(segs) == 0 && c.r.Method == http.MethodPost:
		var in octoBuildInfoPush
		if err := c.decodeBody(&in); err != nil {
			return err
		}
		b := model.BuildInformation{PackageID: in.PackageID, Version: in.Version}
		if in.Build != nil {
			b.BuildNumber, b.BuildURL, b.Branch, b.VcsType, b.VcsRoot = in.Build.BuildNumber, in.Build.BuildURL, in.Build.Branch, in.Build.VcsType, in.Build.VcsRoot
			for _, cm := range in.Build.Commits {
				b.Commits = append(b.Commits, model.Commit{ID: cm.ID, Comment: cm.Comment, URL: cm.LinkURL})
			}
		}
		mode := c.r.URL.Query().Get("overwriteMode")
		if mode == "" {
			mode = in.OverwriteMode
		}
		path := "/build-information"
		if mode != "" {
			path += "?overwriteMode=" + url.QueryEscape(mode)
		}
		var res wire.BuildInformationPushResult
		if err := c.sendJSON(http.MethodPost, path, b, &res); err != nil {
			return err
		}
		return c.created(toOctoBuildInfo(res.BuildInformation))
	case len(segs) == 0 && c.r.Method == http.MethodGet:
		p, err := pagingOf(c.r)
		if err != nil {
			return err
		}
		q := url.Values{"take": {"1000"}}
		if id := c.r.URL.Query().Get("packageId"); id != "" {
			q.Set("packageId", id)
		}
		var page wire.Page[model.BuildInformation]
		if err := c.getJSON("/build-information", q, &page); err != nil {
			return err
		}
		items := make([]octoBuildInfo, 0, len(page.Items))
		for _, b := range page.Items {
			items = append(items, toOctoBuildInfo(b))
		}
		return c.ok(pageItems(c.r, "OctopusPackageVersionBuildInformation", items, len(items), p, false))
	case len(segs) == 1 && c.r.Method == http.MethodGet:
		return getOne(c, "/build-information/"+url.PathEscape(segs[0]), toOctoBuildInfo)
	case len(segs) == 1 && c.r.Method == http.MethodDelete && !strings.EqualFold(segs[0], "bulk"):
		if _, err := c.innerCall(http.MethodDelete, "/build-information/"+url.PathEscape(segs[0]), nil, nil, "", nil); err != nil {
			return err
		}
		c.w.WriteHeader(http.StatusOK)
		return nil
	}
	return c.unserved("Pulpo's own API has /api/v1/build-information")
}

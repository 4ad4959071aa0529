package extfeed

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// nuget reads a NuGet v3 feed: the service index names the flat container
// (PackageBaseAddress/3.0.0), which lists versions and serves .nupkg
// files, and the search service.
type nuget struct {
	*base
	mu     sync.Mutex
	loaded bool
	flat   string
	search string
}

type nugetIndex struct {
	Version   string `json:"version"`
	Resources []struct {
		ID   string `json:"@id"`
		Type string `json:"@type"`
	} `json:"resources"`
}

// services reads the service index once per client.
func (n *nuget) services(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.loaded {
		return nil
	}
	body, err := n.get(ctx, n.feed.URL, n.authHeader(), maxDocument, "")
	if err != nil {
		return err
	}
	var idx nugetIndex
	if err := json.Unmarshal(body, &idx); err != nil || !strings.HasPrefix(idx.Version, "3") {
		return n.errorf("%s is not a NuGet v3 service index: give the feed's .../v3/index.json", redact(n.feed.URL))
	}
	// Prefer the newest search service the feed offers.
	searchRank := -1
	for _, r := range idx.Resources {
		switch {
		case r.Type == "PackageBaseAddress/3.0.0":
			n.flat = strings.TrimSuffix(r.ID, "/")
		case strings.HasPrefix(r.Type, "SearchQueryService"):
			rank := slices.Index([]string{"SearchQueryService", "SearchQueryService/3.0.0-rc", "SearchQueryService/3.0.0-beta", "SearchQueryService/3.5.0"}, r.Type)
			if rank > searchRank || n.search == "" {
				n.search, searchRank = r.ID, rank
			}
		}
	}
	if n.flat == "" {
		return n.errorf("the service index offers no PackageBaseAddress/3.0.0, which Pulpo reads versions and packages from")
	}
	n.loaded = true
	return nil
}

func (n *nuget) Test(ctx context.Context) error { return n.services(ctx) }

func (n *nuget) Search(ctx context.Context, term string, limit int) ([]string, error) {
	if err := n.services(ctx); err != nil {
		return nil, err
	}
	if n.search == "" {
		return nil, n.errorf("the feed offers no search service: give the package id exactly")
	}
	if limit <= 0 {
		limit = 100
	}
	q := url.Values{"q": {term}, "take": {strconv.Itoa(limit)}, "prerelease": {"true"}, "semVerLevel": {"2.0.0"}}
	body, err := n.get(ctx, n.search+"?"+q.Encode(), n.headerFor(n.search, n.authHeader()), maxDocument, "")
	if err != nil {
		return nil, err
	}
	var res struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, n.errorf("the search service answered something other than search results: %v", err)
	}
	var out []string
	for _, d := range res.Data {
		out = append(out, d.ID)
	}
	return limitTo(out, limit), nil
}

func (n *nuget) Versions(ctx context.Context, packageID string) ([]string, error) {
	if err := n.services(ctx); err != nil {
		return nil, err
	}
	id := strings.ToLower(packageID)
	if id == "" || strings.ContainsAny(id, "/\\?#") {
		return nil, n.errorf("%q is not a NuGet package id", packageID)
	}
	u := join(n.flat, url.PathEscape(id), "index.json")
	body, err := n.get(ctx, u, n.headerFor(u, n.authHeader()), maxDocument, "package "+packageID+" is not in the feed")
	if err != nil {
		return nil, err
	}
	var res struct {
		Versions []string `json:"versions"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, n.errorf("the versions of %s: %v", packageID, err)
	}
	return limitTo(SortVersions(res.Versions), maxVersions), nil
}

func (n *nuget) Locate(ctx context.Context, packageID, version string) (Location, error) {
	versions, err := n.Versions(ctx, packageID)
	if err != nil {
		return Location{}, err
	}
	if !slices.ContainsFunc(versions, func(v string) bool { return strings.EqualFold(v, version) }) {
		return Location{}, n.notFound("package %s has no version %s", packageID, version)
	}
	id, ver := url.PathEscape(strings.ToLower(packageID)), url.PathEscape(strings.ToLower(version))
	u := join(n.flat, id, ver, id+"."+ver+".nupkg")
	return Location{URL: u, Header: n.headerFor(u, n.authHeader()), Extension: ".nupkg"}, nil
}

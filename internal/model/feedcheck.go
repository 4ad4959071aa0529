package model

import (
	"net/url"
	"strings"
)

// ExternalFeedTypes are the types a stored feed may have: all but the
// built-in feed, which is the server's own.
var ExternalFeedTypes = []FeedType{FeedDocker, FeedNuGet, FeedMaven, FeedHelm, FeedGitHub, FeedHTTP}

// GitHubAPIURL is the API base of github.com, a GitHub feed's URL when
// none is given.
const GitHubAPIURL = "https://api.github.com"

// BuiltInFeed is the read-only entry that stands for the server's own
// feed in lists of feeds.
func BuiltInFeed() Feed {
	return Feed{ID: BuiltInFeedID, Name: "Built-in", Type: FeedBuiltIn}
}

func feedTypeNames() string {
	names := make([]string, len(ExternalFeedTypes))
	for i, t := range ExternalFeedTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// Validate checks a feed on its own. A GitHub feed without a URL gets
// github.com's API.
func (f *Feed) Validate() error {
	p := problems{subject: "feed"}
	checkName(&p, "name", f.Name)
	switch f.Type {
	case "":
		p.add("type", "is required: one of %s", feedTypeNames())
		return p.err()
	case FeedBuiltIn:
		p.add("type", "the built-in feed is the server's own and always there (id %s); an added feed is one of %s", BuiltInFeedID, feedTypeNames())
		return p.err()
	case FeedDocker, FeedNuGet, FeedMaven, FeedHelm, FeedGitHub, FeedHTTP:
	default:
		p.add("type", "%q is not a feed type: use one of %s", f.Type, feedTypeNames())
		return p.err()
	}
	if f.Type == FeedGitHub && f.URL == "" {
		f.URL = GitHubAPIURL
	}
	if f.URL == "" {
		p.add("url", "is required: the feed's http(s) address")
		return p.err()
	}
	u, err := url.Parse(f.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		p.add("url", "%q is not an http(s) URL", f.URL)
		return p.err()
	}
	if u.User != nil {
		p.add("url", "must not hold credentials: give them as username and password, which are kept sealed")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		p.add("url", "must not have a query or fragment")
	}
	path := strings.TrimSuffix(u.Path, "/")
	switch f.Type {
	case FeedDocker:
		if path != "" {
			p.add("url", "a registry is addressed by its host alone: use %s://%s (images are named by the package id, such as library/nginx)", u.Scheme, u.Host)
		}
	case FeedNuGet:
		if !strings.HasSuffix(strings.ToLower(path), "/index.json") {
			p.add("url", "a NuGet v3 feed is given by its service index, ending in /index.json, such as https://api.nuget.org/v3/index.json (TeamCity: .../app/nuget/feed/<project>/<feed>/v3/index.json)")
		}
	case FeedHelm:
		if strings.HasSuffix(strings.ToLower(path), "/index.yaml") {
			p.add("url", "give the chart repository's address without /index.yaml: %s", strings.TrimSuffix(f.URL, "/index.yaml"))
		}
	case FeedGitHub:
		if strings.EqualFold(u.Host, "github.com") || strings.EqualFold(u.Host, "www.github.com") {
			p.add("url", "give GitHub's API, not its web site: %s (GitHub Enterprise: https://HOST/api/v3)", GitHubAPIURL)
		}
	}
	if strings.IndexFunc(f.Username, func(r rune) bool { return r < ' ' }) >= 0 {
		p.add("username", "must not contain control characters")
	}
	return p.err()
}

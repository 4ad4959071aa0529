package model

import (
	"strings"
	"testing"
)

func TestFeedValidate(t *testing.T) {
	for _, row := range []struct {
		feed Feed
		want string // part of the problem; empty when valid
	}{
		{Feed{Name: "Hub", Type: FeedDocker, URL: "https://index.docker.io"}, ""},
		{Feed{Name: "Local", Type: FeedDocker, URL: "http://127.0.0.1:5000/"}, ""},
		{Feed{Name: "Hub", Type: FeedDocker, URL: "https://index.docker.io/library/nginx"}, "addressed by its host alone"},
		{Feed{Name: "NuGet", Type: FeedNuGet, URL: "https://api.nuget.org/v3/index.json"}, ""},
		{Feed{Name: "TeamCity", Type: FeedNuGet, URL: "https://tc/httpAuth/app/nuget/feed/Web/default/v2"}, "ending in /index.json"},
		{Feed{Name: "Nexus", Type: FeedMaven, URL: "https://nexus/repository/maven-releases/"}, ""},
		{Feed{Name: "Charts", Type: FeedHelm, URL: "https://charts.example.com/index.yaml"}, "without /index.yaml"},
		{Feed{Name: "GitHub", Type: FeedGitHub}, ""},
		{Feed{Name: "GitHub", Type: FeedGitHub, URL: "https://github.com"}, "https://api.github.com"},
		{Feed{Name: "Files", Type: FeedHTTP, URL: "https://u:p@files.example.com/"}, "must not hold credentials"},
		{Feed{Name: "Files", Type: FeedHTTP, URL: "ftp://files.example.com/"}, "not an http(s) URL"},
		{Feed{Name: "Files", Type: FeedHTTP}, "url: is required"},
		{Feed{Name: "X", Type: "svn", URL: "https://x"}, `"svn" is not a feed type`},
		{Feed{Name: "X", URL: "https://x"}, "type: is required"},
		{Feed{Name: "X", Type: FeedBuiltIn}, "server's own"},
		{Feed{Type: FeedHTTP, URL: "https://x"}, "name: is required"},
	} {
		err := row.feed.Validate()
		switch {
		case row.want == "" && err != nil:
			t.Errorf("%+v: %v", row.feed, err)
		case row.want != "" && (err == nil || !strings.Contains(err.(*ValidationError).Problems[0], row.want)):
			t.Errorf("%+v: %v, want %q", row.feed, err, row.want)
		}
	}
	f := Feed{Name: "GitHub", Type: FeedGitHub}
	f.Validate()
	if f.URL != GitHubAPIURL {
		t.Errorf("a GitHub feed without a URL: %q", f.URL)
	}
}

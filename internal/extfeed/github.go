package extfeed

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// github reads a GitHub repository's tags through GitHub's REST API, as
// Octopus does: the package id is owner/repo, versions are the tags that
// read as versions (a leading "v" dropped), and a version's package is
// the source archive (zip) of the tagged commit. The feed's URL is the API
// (https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise);
// the password is a token.
type github struct{ *base }

// maxTagPages bounds how many pages of 100 tags are read.
const maxTagPages = 20

var githubRepoPattern = regexp.MustCompile(`^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$`)

func (g *github) header() http.Header {
	h := http.Header{"Accept": {"application/vnd.github+json"}, "X-Github-Api-Version": {"2022-11-28"}}
	if g.password != "" {
		h.Set("Authorization", "Bearer "+g.password)
	}
	return h
}

func (g *github) Test(ctx context.Context) error {
	_, err := g.get(ctx, join(g.feed.URL, "rate_limit"), g.header(), maxDocument, "")
	return err
}

// Search follows Octopus's forms: "node" finds repositories named with
// node, "nodejs/" all of nodejs's, "nodejs/node" nodejs's named with node.
func (g *github) Search(ctx context.Context, term string, limit int) ([]string, error) {
	term = strings.TrimSpace(term)
	if term == "" {
		return nil, g.errorf("GitHub is searched with a term: part of a repository's name, owner/, or owner/part")
	}
	q := term + " in:name"
	if owner, rest, ok := strings.Cut(term, "/"); ok {
		q = "user:" + owner
		if rest != "" {
			q = rest + " in:name " + q
		}
	}
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	u := join(g.feed.URL, "search", "repositories") + "?" + url.Values{"q": {q}, "per_page": {strconv.Itoa(limit)}}.Encode()
	body, err := g.get(ctx, u, g.header(), maxDocument, "")
	if err != nil {
		return nil, err
	}
	var res struct {
		Items []struct {
			FullName string `json:"full_name"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, g.errorf("the repository search answered something else: %v", err)
	}
	var out []string
	for _, it := range res.Items {
		out = append(out, it.FullName)
	}
	return limitTo(out, limit), nil
}

// tags lists a repository's tags as version → tag.
func (g *github) tags(ctx context.Context, packageID string) ([]string, map[string]string, error) {
	if !githubRepoPattern.MatchString(packageID) {
		return nil, nil, g.errorf("%q is not a GitHub repository: use owner/repo, such as OctopusDeploy/Calamari", packageID)
	}
	byVersion := map[string]string{}
	var versions []string
	for page := 1; page <= maxTagPages; page++ {
		u := join(g.feed.URL, "repos", packageID, "tags") + "?per_page=100&page=" + strconv.Itoa(page)
		body, err := g.get(ctx, u, g.header(), maxDocument, "repository "+packageID+" is not there, or the feed's token cannot see it")
		if err != nil {
			return nil, nil, err
		}
		var list []struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, nil, g.errorf("the tags of %s: %v", packageID, err)
		}
		for _, t := range list {
			v := strings.TrimPrefix(strings.TrimPrefix(t.Name, "v"), "V")
			if model.ValidateVersion(v) != nil {
				continue
			}
			if _, dup := byVersion[v]; !dup {
				byVersion[v] = t.Name
				versions = append(versions, v)
			}
		}
		if len(list) < 100 {
			break
		}
	}
	return SortVersions(versions), byVersion, nil
}

func (g *github) Versions(ctx context.Context, packageID string) ([]string, error) {
	vs, _, err := g.tags(ctx, packageID)
	return limitTo(vs, maxVersions), err
}

// Locate is the source archive of the tagged commit; the API redirects to
// the archive's host, and the token is not sent there.
func (g *github) Locate(ctx context.Context, packageID, version string) (Location, error) {
	_, byVersion, err := g.tags(ctx, packageID)
	if err != nil {
		return Location{}, err
	}
	tag, ok := byVersion[strings.TrimPrefix(version, "v")]
	if !ok {
		return Location{}, g.notFound("repository %s has no tag for version %s", packageID, version)
	}
	h := http.Header{}
	if g.password != "" {
		h.Set("Authorization", "Bearer "+g.password)
	}
	return Location{URL: join(g.feed.URL, "repos", packageID, "zipball", url.PathEscape(tag)), Header: h, Extension: ".zip"}, nil
}

package extfeed

import (
	"context"
	"net/url"
	"slices"
	"sort"
	"sync"

	"go.yaml.in/yaml/v3"
)

// helm reads a Helm chart repository's index.yaml: the package id is the
// chart's name.
type helm struct {
	*base
	mu    sync.Mutex
	index *helmIndex
}

type helmIndex struct {
	Entries map[string][]struct {
		Version string   `yaml:"version"`
		URLs    []string `yaml:"urls"`
	} `yaml:"entries"`
}

// load reads the index once per client.
func (h *helm) load(ctx context.Context) (*helmIndex, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.index != nil {
		return h.index, nil
	}
	body, err := h.get(ctx, join(h.feed.URL, "index.yaml"), h.authHeader(), maxHelmIndex, "")
	if err != nil {
		return nil, err
	}
	var idx helmIndex
	if err := yaml.Unmarshal(body, &idx); err != nil {
		return nil, h.errorf("index.yaml is not a chart repository's index: %v", err)
	}
	if idx.Entries == nil {
		return nil, h.errorf("index.yaml has no entries: is %s a chart repository?", redact(h.feed.URL))
	}
	h.index = &idx
	return h.index, nil
}

func (h *helm) Test(ctx context.Context) error {
	_, err := h.load(ctx)
	return err
}

func (h *helm) Search(ctx context.Context, term string, limit int) ([]string, error) {
	idx, err := h.load(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for name := range idx.Entries {
		if matches(name, term) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return limitTo(out, limit), nil
}

func (h *helm) Versions(ctx context.Context, packageID string) ([]string, error) {
	idx, err := h.load(ctx)
	if err != nil {
		return nil, err
	}
	charts, ok := idx.Entries[packageID]
	if !ok {
		return nil, h.notFound("chart %s is not in the repository", packageID)
	}
	var vs []string
	for _, c := range charts {
		if !slices.Contains(vs, c.Version) {
			vs = append(vs, c.Version)
		}
	}
	return limitTo(SortVersions(vs), maxVersions), nil
}

// Locate finds the chart's .tgz; the index's URLs are absolute or relative
// to the repository.
func (h *helm) Locate(ctx context.Context, packageID, version string) (Location, error) {
	idx, err := h.load(ctx)
	if err != nil {
		return Location{}, err
	}
	charts, ok := idx.Entries[packageID]
	if !ok {
		return Location{}, h.notFound("chart %s is not in the repository", packageID)
	}
	for _, c := range charts {
		if c.Version != version {
			continue
		}
		if len(c.URLs) == 0 {
			return Location{}, h.errorf("chart %s %s has no URL in index.yaml", packageID, version)
		}
		base, err := url.Parse(join(h.feed.URL, ""))
		if err != nil {
			return Location{}, h.errorf("%v", err)
		}
		ref, err := url.Parse(c.URLs[0])
		if err != nil {
			return Location{}, h.errorf("chart %s %s: %q is not a URL", packageID, version, c.URLs[0])
		}
		u := base.ResolveReference(ref)
		if u.Scheme != "https" && u.Scheme != "http" {
			return Location{}, h.errorf("chart %s %s: %q is not an http(s) URL", packageID, version, c.URLs[0])
		}
		return Location{URL: u.String(), Header: h.headerFor(u.String(), h.authHeader()), Extension: ".tgz"}, nil
	}
	return Location{}, h.notFound("chart %s has no version %s", packageID, version)
}

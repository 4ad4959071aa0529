package extfeed

import (
	"context"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// folder reads a plain HTTP folder of files named <id>.<version><ext>,
// found through the links of its index page (Apache's and nginx's
// autoindex, Go's http.FileServer).
type folder struct {
	*base
	mu    sync.Mutex
	files map[string]map[string]folderFile // lower-case id → version → file
}

type folderFile struct {
	id, url, ext string
}

var hrefPattern = regexp.MustCompile(`(?i)<a\s[^>]*href\s*=\s*["']([^"']+)["']`)

// maxFolderFiles bounds how many links of a listing are kept.
const maxFolderFiles = 100000

func (f *folder) listing() string {
	return strings.TrimSuffix(f.feed.URL, "/") + "/"
}

// load reads the listing once per client.
func (f *folder) load(ctx context.Context) (map[string]map[string]folderFile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.files != nil {
		return f.files, nil
	}
	body, err := f.get(ctx, f.listing(), f.authHeader(), maxDocument, "")
	if err != nil {
		return nil, err
	}
	base, _ := url.Parse(f.listing())
	files := map[string]map[string]folderFile{}
	n := 0
	for _, m := range hrefPattern.FindAllStringSubmatch(string(body), -1) {
		ref, err := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
		if err != nil || ref.RawQuery != "" || strings.HasSuffix(ref.Path, "/") {
			continue // sort links, folders
		}
		u := base.ResolveReference(ref)
		if u.Host != base.Host || path.Dir(u.Path) != path.Clean(base.Path) {
			continue // only files of this folder
		}
		id, version, ext, err := model.ParsePackageFileName(path.Base(u.Path))
		if err != nil {
			continue
		}
		key := strings.ToLower(id)
		if files[key] == nil {
			files[key] = map[string]folderFile{}
		}
		files[key][version] = folderFile{id: id, url: u.String(), ext: ext}
		if n++; n >= maxFolderFiles {
			break
		}
	}
	f.files = files
	return files, nil
}

func (f *folder) Test(ctx context.Context) error {
	_, err := f.load(ctx)
	return err
}

func (f *folder) Search(ctx context.Context, term string, limit int) ([]string, error) {
	files, err := f.load(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, versions := range files {
		for _, file := range versions {
			if matches(file.id, term) {
				out = append(out, file.id)
			}
			break
		}
	}
	sort.Strings(out)
	return limitTo(out, limit), nil
}

func (f *folder) Versions(ctx context.Context, packageID string) ([]string, error) {
	files, err := f.load(ctx)
	if err != nil {
		return nil, err
	}
	versions, ok := files[strings.ToLower(packageID)]
	if !ok {
		return nil, f.notFound("the folder has no file of package %s (files are named %s.<version>.tar.gz, .zip, ...)", packageID, packageID)
	}
	var vs []string
	for v := range versions {
		vs = append(vs, v)
	}
	sort.Strings(vs) // a stable order before sorting by version
	return limitTo(SortVersions(vs), maxVersions), nil
}

func (f *folder) Locate(ctx context.Context, packageID, version string) (Location, error) {
	files, err := f.load(ctx)
	if err != nil {
		return Location{}, err
	}
	file, ok := files[strings.ToLower(packageID)][version]
	if !ok {
		return Location{}, f.notFound("the folder has no file of %s version %s", packageID, version)
	}
	return Location{URL: file.url, Header: f.headerFor(file.url, f.authHeader()), Extension: file.ext}, nil
}

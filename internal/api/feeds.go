package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/extfeed"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// maxFeedTake bounds how many package ids or versions one answer holds.
const maxFeedTake = 1000

// feedRoutes serves external feeds: the collection (the built-in feed
// listed first, read-only), testing, searching and listing versions.
func (a *API) feedRoutes() {
	addCRUD(a, crud[model.Feed]{path: "/feeds", kind: "feed", plural: "feeds (the built-in feed first; passwords are write-only)", tag: "packages",
		id:    func(v *model.Feed) *string { return &v.ID },
		perms: crudPerms{model.FeedView, model.FeedEdit, model.FeedEdit, model.FeedEdit},
		list: func(q *store.Queries, ctx context.Context, _ *http.Request, o store.ListOptions) ([]model.Feed, int, error) {
			// The built-in feed is no row: page over it and the stored ones.
			skip, take := o.Skip, o.Take
			o.Skip, o.Take = 0, 0
			stored, _, err := q.ListFeeds(ctx, o)
			if err != nil {
				return nil, 0, err
			}
			all := stored
			if builtin := model.BuiltInFeed(); (o.Name == "" || strings.EqualFold(o.Name, builtin.Name)) &&
				(o.PartialName == "" || strings.Contains(strings.ToLower(builtin.Name), strings.ToLower(o.PartialName))) {
				all = append([]model.Feed{builtin}, stored...)
			}
			total := len(all)
			all = all[min(skip, total):]
			if take > 0 {
				all = all[:min(take, len(all))]
			}
			return all, total, nil
		},
		get: func(q *store.Queries, ctx context.Context, id string) (model.Feed, error) {
			if strings.EqualFold(id, model.BuiltInFeedID) {
				return model.BuiltInFeed(), nil
			}
			return q.GetFeed(ctx, id)
		},
		create: (*store.Queries).CreateFeed, update: (*store.Queries).UpdateFeed, delete: (*store.Queries).DeleteFeed})

	a.add(route{method: "POST", path: Prefix + "/feeds/{id}/test", tag: "packages", perm: model.FeedView, response: wire.FeedTest{},
		summary: "Check that a feed answers and takes its credentials; a feed that does not is a 502 saying what failed",
		h: func(w http.ResponseWriter, r *http.Request) error {
			c, f, err := a.feedClient(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			if err := c.Test(r.Context()); err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, wire.FeedTest{FeedID: f.ID, OK: true, Message: fmt.Sprintf("feed %s answered and took its credentials", f.Name)})
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/feeds/{id}/packages", tag: "packages", perm: model.FeedView, response: wire.FeedPackages{},
		summary: "Search a feed's package ids (Maven repositories take only an exact groupId:artifactId; Docker Hub cannot be listed)",
		query:   []param{{"search", "string", "part of the package id; empty lists what the feed lists"}, {"take", "integer", "at most this many (default 30)"}},
		h: func(w http.ResponseWriter, r *http.Request) error {
			take, err := feedTake(r, 30)
			if err != nil {
				return err
			}
			c, f, err := a.feedClient(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			term := r.URL.Query().Get("search")
			ids, err := c.Search(r.Context(), term, take)
			if err != nil {
				return err
			}
			if ids == nil {
				ids = []string{}
			}
			writeJSON(w, http.StatusOK, wire.FeedPackages{FeedID: f.ID, Search: term, Packages: ids})
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/feeds/{id}/versions", tag: "packages", perm: model.FeedView, response: wire.FeedVersions{},
		summary: "A package's versions in a feed, newest first (the package id is a query parameter: ids hold '/' and ':')",
		query: []param{{"packageId", "string", "the package id: an image (team/app), groupId:artifactId, owner/repo, a chart..."},
			{"take", "integer", "at most this many (default 100)"}},
		h: func(w http.ResponseWriter, r *http.Request) error {
			take, err := feedTake(r, 100)
			if err != nil {
				return err
			}
			pkg := r.URL.Query().Get("packageId")
			if pkg == "" {
				return badRequest("give the package: ?packageId=...")
			}
			c, f, err := a.feedClient(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			vs, err := c.Versions(r.Context(), pkg)
			if err != nil {
				return err
			}
			out := wire.FeedVersions{FeedID: f.ID, PackageID: pkg, Versions: vs, Total: len(vs)}
			out.Versions = out.Versions[:min(take, len(vs))]
			if out.Versions == nil {
				out.Versions = []string{}
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/feeds/{id}/locate", tag: "packages", perm: model.FeedView, response: wire.FeedLocation{},
		summary: "Where a package version of an external feed is fetched from: its file's URL, or a container image's reference",
		query:   []param{{"packageId", "string", "the package id"}, {"version", "string", "the version (a tag, for images)"}},
		h: func(w http.ResponseWriter, r *http.Request) error {
			q := r.URL.Query()
			if q.Get("packageId") == "" || q.Get("version") == "" {
				return badRequest("give the package and version: ?packageId=...&version=...")
			}
			c, f, err := a.feedClient(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			loc, err := c.Locate(r.Context(), q.Get("packageId"), q.Get("version"))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, wire.FeedLocation{FeedID: f.ID, PackageID: q.Get("packageId"), Version: q.Get("version"),
				URL: loc.URL, Extension: loc.Extension, Image: loc.Image})
			return nil
		}})
}

func feedTake(r *http.Request, def int) (int, error) {
	s := r.URL.Query().Get("take")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxFeedTake {
		return 0, badRequest("take must be a whole number from 1 to %d, not %q", maxFeedTake, s)
	}
	return n, nil
}

// feedClient opens a feed by id or name: the built-in feed from the store,
// an external one through the resolver.
func (a *API) feedClient(ctx context.Context, id string) (extfeed.Client, model.Feed, error) {
	if strings.EqualFold(id, model.BuiltInFeedID) {
		return BuiltInFeedClient(a.Store), model.BuiltInFeed(), nil
	}
	c, f, err := a.Feeds.Client(ctx, id)
	if err != nil {
		return nil, f, err
	}
	return c, f, nil
}

// StoreFeedResolver resolves feeds stored in st, the built-in feed
// included; hc as extfeed.Open's.
func StoreFeedResolver(st *store.Store, hc *http.Client) *extfeed.StoreResolver {
	r := extfeed.NewResolver(func(ctx context.Context, id string) (model.Feed, string, error) {
		return st.Read().FeedWithPassword(ctx, id)
	}, hc)
	r.BuiltIn = BuiltInFeedClient(st)
	return r
}

// BuiltInFeedClient answers for the built-in feed from the store's list of
// packages. Its files are not fetched over HTTP: Locate names only the
// extension, and the server reads the file from its own feed.
func BuiltInFeedClient(st *store.Store) extfeed.Client { return builtInFeed{st} }

type builtInFeed struct{ st *store.Store }

func (builtInFeed) Test(context.Context) error { return nil }

func (b builtInFeed) Search(ctx context.Context, term string, limit int) ([]string, error) {
	all, _, err := b.st.Read().ListPackages(ctx, store.PackageFilter{ListOptions: store.ListOptions{PartialName: term}})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, p := range all {
		if !slices.ContainsFunc(ids, func(id string) bool { return strings.EqualFold(id, p.PackageID) }) {
			ids = append(ids, p.PackageID)
		}
	}
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	return ids, nil
}

func (b builtInFeed) Versions(ctx context.Context, packageID string) ([]string, error) {
	all, _, err := b.st.Read().ListPackages(ctx, store.PackageFilter{PackageID: packageID})
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, &extfeed.Error{Feed: model.BuiltInFeed().Name, Msg: "package " + packageID + " is not in the feed", NotFound: true}
	}
	vs := make([]string, len(all))
	for i, p := range all {
		vs[i] = p.Version
	}
	return vs, nil
}

func (b builtInFeed) Locate(ctx context.Context, packageID, version string) (extfeed.Location, error) {
	p, err := b.st.Read().FindPackage(ctx, packageID, version)
	if errors.Is(err, store.ErrNotFound) {
		return extfeed.Location{}, &extfeed.Error{Feed: model.BuiltInFeed().Name, Msg: fmt.Sprintf("package %s has no version %s", packageID, version), NotFound: true}
	}
	if err != nil {
		return extfeed.Location{}, err
	}
	return extfeed.Location{Extension: p.Extension}, nil
}

package api

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pulpo-deploy/pulpo/internal/feed"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

func (a *API) packageRoutes() {
	a.add(route{method: "POST", path: Prefix + "/packages", tag: "packages", perm: model.FeedPush, response: wire.PushResult{}, status: http.StatusCreated,
		summary: "Push a package to the built-in feed: the body is the file itself (streamed to disk, checked whole, then recorded)",
		query: []param{{"fileName", "string", "the file's name, such as myapp.1.4.0.tar.gz (id and version are read from it)"},
			{"packageId", "string", "the package id, when the name does not say it"}, {"version", "string", "the version, when the name does not say it"},
			{"overwriteMode", "string", "FailIfExists (default), OverwriteExisting or IgnoreIfExists"}},
		h: func(w http.ResponseWriter, r *http.Request) error {
			q := r.URL.Query()
			if q.Get("fileName") == "" {
				return badRequest("give the package's file name: ?fileName=myapp.1.4.0.tar.gz")
			}
			mode, err := feed.ParseOverwriteMode(q.Get("overwriteMode"))
			if err != nil {
				return badRequest("%v", err)
			}
			size := r.ContentLength
			if size < 0 {
				size = -1
			}
			p, outcome, err := a.Feed.Push(r.Context(), feed.PushRequest{FileName: q.Get("fileName"), PackageID: q.Get("packageId"),
				Version: q.Get("version"), Mode: mode, Size: size, By: caller(r)}, r.Body)
			if err != nil {
				return err
			}
			status := http.StatusCreated
			if outcome != feed.Created {
				status = http.StatusOK
			}
			res := wire.PushResult{Package: p, Outcome: string(outcome)}
			if outcome != feed.Ignored {
				made, problems := a.Engine.PackagePushed(r.Context(), p)
				for _, rel := range made {
					res.Releases = append(res.Releases, redactRelease(rel))
				}
				res.TriggerProblems = problems
			}
			writeJSON(w, status, res)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/packages", tag: "packages", perm: model.FeedView, response: wire.Page[model.Package]{},
		summary: "List the feed's packages, each package's newest version first",
		query:   append([]param{{"packageId", "string", "one package's versions"}, {"partialName", "string", "packages whose id contains this"}}, pagingParams...),
		h: func(w http.ResponseWriter, r *http.Request) error {
			p, err := pagingOf(r)
			if err != nil {
				return err
			}
			items, total, err := a.Store.Read().ListPackages(r.Context(), store.PackageFilter{
				ListOptions: store.ListOptions{Skip: p.skip, Take: p.take, PartialName: r.URL.Query().Get("partialName")},
				PackageID:   r.URL.Query().Get("packageId")})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, page(items, total, p))
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/packages/{id}", tag: "packages", perm: model.FeedView, response: model.Package{}, summary: "Get a package version",
		h: func(w http.ResponseWriter, r *http.Request) error {
			p, err := a.Store.Read().GetPackage(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, p)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/packages/{id}/raw", tag: "packages", perm: model.FeedView, summary: "Download a package version's file",
		h: func(w http.ResponseWriter, r *http.Request) error {
			file, p, err := a.Feed.Open(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			defer file.Close()
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.FormatInt(p.SizeBytes, 10))
			w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", p.FileName()))
			w.Header().Set("X-Pulpo-SHA256", p.SHA256)
			io.Copy(w, file)
			return nil
		}})
	a.add(route{method: "DELETE", path: Prefix + "/packages/{id}", tag: "packages", perm: model.FeedAdminister, status: http.StatusNoContent, summary: "Delete a package version",
		h: func(w http.ResponseWriter, r *http.Request) error {
			if _, err := a.Feed.Delete(r.Context(), r.PathValue("id")); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}})
}

func (a *API) artifactRoutes() {
	a.add(route{method: "GET", path: Prefix + "/tasks/{id}/artifacts", tag: "tasks", perm: model.TaskView, scope: a.pathTask, response: []model.Artifact{},
		summary: "List the files a task's scripts handed over",
		h: func(w http.ResponseWriter, r *http.Request) error {
			if _, err := a.Store.Read().GetTask(r.Context(), r.PathValue("id")); err != nil {
				return err
			}
			list, err := a.Store.Read().ListArtifacts(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			if list == nil {
				list = []model.Artifact{}
			}
			writeJSON(w, http.StatusOK, list)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/tasks/{id}/artifacts/{n}/raw", tag: "tasks", perm: model.TaskView, scope: a.pathTask, summary: "Download a task's artifact",
		h: func(w http.ResponseWriter, r *http.Request) error {
			n, err := strconv.Atoi(r.PathValue("n"))
			if err != nil {
				return badRequest("artifact number %q is not a number", r.PathValue("n"))
			}
			art, err := a.Store.Read().GetArtifact(r.Context(), r.PathValue("id"), n)
			if err != nil {
				return err
			}
			f, err := os.Open(filepath.Join(a.ArtifactsDir, art.File))
			if err != nil {
				return fmt.Errorf("artifact %d of %s: %w", n, art.TaskID, err)
			}
			defer f.Close()
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.FormatInt(art.SizeBytes, 10))
			w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", art.Name))
			io.Copy(w, f)
			return nil
		}})
}

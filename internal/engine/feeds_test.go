package engine_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/extfeed"
	"github.com/pulpo-deploy/pulpo/internal/localtarget"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// folderFeed is an external feed of files on a real HTTP server on
// loopback that asks for a token; it counts the downloads of each file.
// The engine reaches feeds only through extfeed.Client; the real feed
// types are proven against real repositories in extfeed's tests.
type folderFeed struct {
	srv      *httptest.Server
	versions map[string][]string // package id → versions, newest first
	image    string              // a registry host, for ids with a "/"
	mu       sync.Mutex
	hits     map[string]int
}

const feedToken = "Bearer feed-s3cret-token"

func newFolderFeed(t *testing.T, files map[string][]byte) *folderFeed {
	f := &folderFeed{versions: map[string][]string{}, hits: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != feedToken {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		body, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		f.mu.Lock()
		f.hits[r.URL.Path]++
		f.mu.Unlock()
		w.Write(body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *folderFeed) downloads(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits["/"+name]
}

func (f *folderFeed) Test(context.Context) error { return nil }
func (f *folderFeed) Search(context.Context, string, int) ([]string, error) {
	return nil, nil
}
func (f *folderFeed) Versions(_ context.Context, id string) ([]string, error) {
	return f.versions[id], nil
}
func (f *folderFeed) Locate(_ context.Context, id, version string) (extfeed.Location, error) {
	if strings.Contains(id, "/") {
		return extfeed.Location{Image: f.image + "/" + id + ":" + version}, nil
	}
	return extfeed.Location{URL: fmt.Sprintf("%s/%s.%s.tar.gz", f.srv.URL, id, version), Extension: ".tar.gz",
		Header: http.Header{"Authorization": {feedToken}}}, nil
}

// feeds is a resolver of feeds by id.
type feeds map[string]struct {
	client extfeed.Client
	feed   model.Feed
}

func (fs feeds) Client(_ context.Context, id string) (extfeed.Client, model.Feed, error) {
	f, ok := fs[id]
	if !ok {
		return nil, model.Feed{}, fmt.Errorf("feed %s does not exist", id)
	}
	return f.client, f.feed, nil
}

// tarGz is a package holding hello.txt with the given text.
func tarGz(t *testing.T, text string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(text))}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(text))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestStepsTakePackagesFromExternalFeeds(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		folder := newFolderFeed(t, map[string][]byte{"app.1.0.0.tar.gz": tarGz(t, "v1.0"), "app.1.1.0.tar.gz": tarGz(t, "v1.1")})
		folder.versions["app"] = []string{"1.1.0", "1.0.0"}
		folder.versions["library/nginx"] = []string{"1.27", "1.26"}
		folder.image = "registry.example:5000"
		resolver := feeds{
			"Feeds-1": {folder, model.Feed{ID: "Feeds-1", Name: "Artifacts", Type: model.FeedHTTP}},
			"Feeds-2": {folder, model.Feed{ID: "Feeds-2", Name: "Registry", Type: model.FeedDocker}},
		}

		f := setup(t, s, twoPhases())
		err := s.Tx(context.Background(), func(q *store.Queries) error {
			for _, feed := range []model.Feed{resolver["Feeds-1"].feed, resolver["Feeds-2"].feed} {
				feed.ID, feed.URL = "", folder.srv.URL
				if err := q.CreateFeed(context.Background(), &feed); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		setSteps(t, s, f,
			model.Step{Name: "Deploy app", Package: &model.PackageAction{PackageID: "app", FeedID: "Feeds-1",
				Deploy: &model.ScriptAction{Syntax: model.SyntaxBash, Body: `echo "deployed $(cat hello.txt)"`}}},
			model.Step{Name: "Use refs", Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: strings.Join([]string{
				`echo "image=#{Octopus.Action.Package[img].Image}"`,
				`echo "tool=#{Octopus.Action.Package[tool].PackageVersion} $(cat '#{Octopus.Action.Package[tool].ExtractedPath}/hello.txt')"`,
				`echo "feed=#{Octopus.Action.Package[tool].FeedId}"`,
			}, "\n"),
				Packages: []model.PackageReference{
					{Name: "img", PackageID: "library/nginx", FeedID: "Feeds-2", Acquisition: model.AcquireNone},
					{Name: "tool", PackageID: "app", FeedID: "Feeds-1", Acquisition: model.AcquireOnTarget, Extract: true},
				}}},
		)
		home, cacheDir := t.TempDir(), t.TempDir()
		srv := newServer(t, s, t.TempDir(), func(c *engine.Config) {
			worker, err := localtarget.New("built-in worker", home, "test", scriptsvc.Options{})
			if err != nil {
				t.Fatal(err)
			}
			c.Worker, c.Feeds, c.FeedCacheDir = worker, resolver, cacheDir
		})
		r := model.Release{ProjectID: f.project.ID, Version: "1.0.0", Packages: []model.ReleasePackage{{PackageID: "Use refs:tool", Version: "1.0.0"}}}
		if _, err := srv.engine.CreateRelease(context.Background(), &r); err != nil {
			t.Fatal(err)
		}
		for _, env := range []string{"Dev", "Test"} {
			d := srv.deploy(r, f.envs[env])
			waitTask(t, s, d.TaskID, model.TaskSuccess)
			log := logOf(t, s, d.TaskID)
			for _, want := range []string{"deployed v1.1", "image=registry.example:5000/library/nginx:1.27", "tool=1.0.0 v1.0", "feed=Feeds-1"} {
				if !strings.Contains(log, want) {
					t.Fatalf("%s: the log lacks %q:\n%s", env, want, log)
				}
			}
			if strings.Contains(log, "s3cret") {
				t.Fatalf("the feed's token is in the log:\n%s", log)
			}
		}
		// Each file left the feed once: the server keeps what it
		// downloaded, the target what it downloaded itself.
		if a, b := folder.downloads("app.1.1.0.tar.gz"), folder.downloads("app.1.0.0.tar.gz"); a != 1 || b != 1 {
			t.Fatalf("downloads from the feed: 1.1.0 (server) %d, 1.0.0 (target) %d; want 1 each", a, b)
		}

		t.Run("the server forgets what it has not sent for a while", func(t *testing.T) {
			if n, err := srv.engine.PruneFeedCache(time.Now(), time.Hour); n != 0 || err != nil {
				t.Fatalf("a fresh cache lost %d files: %v", n, err)
			}
			old := time.Now().Add(-2 * time.Hour)
			stale := filepath.Join(cacheDir, ".download-cut")
			os.WriteFile(stale, []byte("half"), 0o644)
			filepath.WalkDir(cacheDir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					os.Chtimes(p, old, old)
				}
				return nil
			})
			if n, err := srv.engine.PruneFeedCache(time.Now(), time.Hour); n != 2 || err != nil {
				t.Fatalf("pruned %d files (%v); want the package and the cut download", n, err)
			}
			d := srv.deploy(r, f.envs["Dev"])
			waitTask(t, s, d.TaskID, model.TaskSuccess)
			if n := folder.downloads("app.1.1.0.tar.gz"); n != 2 {
				t.Fatalf("after pruning, the server downloaded 1.1.0 %d times in all; want 2", n)
			}
		})
		t.Run("a feed that disappeared after the process was saved", func(t *testing.T) {
			delete(resolver, "Feeds-1")
			_, err := srv.engine.CreateRelease(context.Background(), &model.Release{ProjectID: f.project.ID, Version: "2.0.1"})
			if err == nil || !strings.Contains(err.Error(), "feed Feeds-1 does not exist") {
				t.Fatalf("want a clear refusal, got %v", err)
			}
		})
	})
}

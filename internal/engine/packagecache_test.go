package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/localtarget"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// A deployment sweeps the target's whole package cache by age, a script
// step with package references included: an old package no step uses, an
// old download of the target's own and an abandoned partial upload go; a
// partial upload in progress stays; and the package the server finds on
// the target stays, its time renewed, however old it was.
func TestADeploymentSweepsTheTargetsPackageCache(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		folder := newFolderFeed(t, map[string][]byte{"app.1.0.0.tar.gz": tarGz(t, "v1.0")})
		folder.versions["app"] = []string{"1.0.0"}
		resolver := feeds{"Feeds-1": {folder, model.Feed{ID: "Feeds-1", Name: "Artifacts", Type: model.FeedHTTP}}}
		f := setup(t, s, twoPhases())
		err := s.Tx(context.Background(), func(q *store.Queries) error {
			feed := resolver["Feeds-1"].feed
			feed.ID, feed.URL = "", folder.srv.URL
			return q.CreateFeed(context.Background(), &feed)
		})
		if err != nil {
			t.Fatal(err)
		}
		// The server acquires "app" and sends it; the script reads the file.
		setSteps(t, s, f, model.Step{Name: "Use a package", Script: &model.ScriptAction{Syntax: model.SyntaxBash,
			Body:     `echo "sent: $(tar -xzOf '#{Octopus.Action.Package[app].OriginalPath}' hello.txt)"`,
			Packages: []model.PackageReference{{Name: "app", PackageID: "app", FeedID: "Feeds-1"}}}})
		home := t.TempDir()
		srv := newServer(t, s, t.TempDir(), func(c *engine.Config) {
			worker, err := localtarget.New("built-in worker", home, "test", scriptsvc.Options{})
			if err != nil {
				t.Fatal(err)
			}
			c.Worker, c.Feeds, c.FeedCacheDir, c.FeedCacheMaxAge = worker, resolver, t.TempDir(), 24*time.Hour
		})
		packages := filepath.Join(home, "packages")
		longAgo, lately := time.Now().Add(-72*time.Hour), time.Now().Add(-time.Minute)
		files := []struct {
			name  string
			mtime time.Time
			kept  bool
		}{
			{"old.0.9.0123456789abcdef.tar.gz", longAgo, false},
			{"feeds/Feeds-1/lib.2.0.tar.gz", longAgo, false},
			{".gone.1.0.fedcba9876543210.tar.gz.partial-fedcba9876543210", longAgo, false},
			{".big.1.0.aaaaaaaaaaaaaaaa.tar.gz.partial-aaaaaaaaaaaaaaaa", lately, true},
		}
		for _, c := range files {
			p := filepath.Join(packages, filepath.FromSlash(c.name))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(p, c.mtime, c.mtime)
		}
		// A runner an older server sent, unused since.
		oldRunner := filepath.Join(home, "runners", "pulpo-0123456789abcdef")
		os.MkdirAll(filepath.Dir(oldRunner), 0o755)
		if err := os.WriteFile(oldRunner, []byte("runner"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(oldRunner, longAgo, longAgo)
		r := srv.release(f, "1.0.0")

		d := srv.deploy(r, f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log := logOf(t, s, d.TaskID)
		if !strings.Contains(log, "sent: v1.0") {
			t.Fatalf("the script did not read its package:\n%s", log)
		}
		for _, c := range files {
			_, err := os.Stat(filepath.Join(packages, filepath.FromSlash(c.name)))
			if (err == nil) != c.kept {
				t.Errorf("%s: kept %v, want %v", c.name, err == nil, c.kept)
			}
			if removed := strings.Contains(log, "Removed "+filepath.Base(c.name)+" from the package cache"); removed == c.kept {
				t.Errorf("%s: the deployment log says removed %v:\n%s", c.name, removed, log)
			}
		}

		if _, err := os.Stat(oldRunner); err == nil || !strings.Contains(log, "Removed pulpo-0123456789abcdef from the runners the server sent") {
			t.Errorf("the old runner is still there (%v):\n%s", err, log)
		}

		// The package the server sent, unused for long: the next
		// deployment finds it there (nothing sent) and it stays, renewed.
		sent, _ := filepath.Glob(filepath.Join(packages, "app.1.0.0.*.tar.gz"))
		if len(sent) != 1 {
			t.Fatalf("the sent package: %v", sent)
		}
		os.Chtimes(sent[0], longAgo, longAgo)
		d = srv.deploy(r, f.envs["Test"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log = logOf(t, s, d.TaskID)
		if !strings.Contains(log, "Package app 1.0.0 is on built-in worker already: 0 bytes sent") || !strings.Contains(log, "sent: v1.0") {
			t.Fatalf("the second deployment did not use the cached package:\n%s", log)
		}
		if st, err := os.Stat(sent[0]); err != nil || st.ModTime().Before(lately) {
			t.Fatalf("the package in use: %v, time %v; want it kept with its time renewed", err, st)
		}
	})
}

package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Once a step has its packages, whichever command runs it, the machine's
// whole package cache is swept by age: what no step used for the time the
// server gives goes (server-sent packages, downloads, abandoned partial
// uploads); the step's own packages stay and have their time renewed;
// the packages of installations retention keeps stay; a partial upload in
// progress (recent) stays; a runner the server sent that no step used for as
// long (left by an upgrade) goes too.
func TestTheRunnerSweepsThePackageCacheByAge(t *testing.T) {
	const keep = 30 * 24 * time.Hour
	longAgo := time.Now().Add(-keep - 24*time.Hour)
	lately := time.Now().Add(-time.Hour)
	files := []struct {
		name   string // under HOME/packages
		mtime  time.Time
		kept   bool
		reason string
	}{
		{"app.1.0.0.0123456789abcdef.tar.gz", longAgo, true, "the package the step takes, old as it is"},
		{"old.2.0.fedcba9876543210.tar.gz", longAgo, false, "an old package no step took"},
		{"retained.1.0.aaaaaaaaaaaaaaaa.tar.gz", longAgo, true, "the package of an installation retention keeps"},
		{"retired.1.0.bbbbbbbbbbbbbbbb.tar.gz", longAgo, false, "the package of an installation retention removed"},
		{"fresh.3.0.cccccccccccccccc.tar.gz", lately, true, "a package used lately"},
		{".big.1.0.dddddddddddddddd.tar.gz.partial-dddddddddddddddd", lately, true, "a partial upload in progress"},
		{".gone.1.0.eeeeeeeeeeeeeeee.tar.gz.partial-eeeeeeeeeeeeeeee", longAgo, false, "an abandoned partial upload"},
		{".x.tar.gz.part-123456", longAgo, false, "an abandoned whole-file upload"},
		{"feeds/Feeds-1/lib.1.0.nupkg", longAgo, false, "an old download of the machine's own"},
		{"feeds/Feeds-1/lib.2.0.nupkg", lately, true, "a recent download"},
	}
	commands := []struct {
		name string
		run  func(t *testing.T, home string, pkg PackageFile, cache *PackageCache) (string, error)
	}{
		{"run-package", func(t *testing.T, home string, pkg PackageFile, cache *PackageCache) (string, error) {
			m := Manifest{Package: pkg, Project: "web", Environment: "Production", AppsRoot: filepath.Join(home, "apps"),
				JournalPath: cache.Journal, CacheDir: cache.Root, PackageCache: cache}
			var out bytes.Buffer
			err := Run(context.Background(), m, Options{}, &out, &out)
			return out.String(), err
		}},
		{"run-script-package", func(t *testing.T, home string, pkg PackageFile, cache *PackageCache) (string, error) {
			t.Chdir(t.TempDir())
			m := ScriptManifest{Package: pkg, File: "run.sh", ExtractTo: "package", PackageCache: cache}
			var out bytes.Buffer
			err := RunScriptPackage(context.Background(), m, Options{}, &out, &out)
			return out.String(), err
		}},
		{"fetch-packages, to extract", func(t *testing.T, home string, pkg PackageFile, cache *PackageCache) (string, error) {
			t.Chdir(t.TempDir())
			m := FetchManifest{Packages: []FetchPackage{{Package: pkg, ExtractTo: "app"}}, PackageCache: cache}
			var out bytes.Buffer
			err := Fetch(context.Background(), m, Options{}, &out, &out)
			return out.String(), err
		}},
		{"fetch-packages, only to renew", func(t *testing.T, home string, pkg PackageFile, cache *PackageCache) (string, error) {
			m := FetchManifest{Packages: []FetchPackage{{Package: pkg}}, PackageCache: cache}
			var out bytes.Buffer
			err := Fetch(context.Background(), m, Options{}, &out, &out)
			return out.String(), err
		}},
	}
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			root := filepath.Join(home, "packages")
			for _, f := range files {
				p := filepath.Join(root, filepath.FromSlash(f.name))
				os.MkdirAll(filepath.Dir(p), 0o755)
				if strings.HasPrefix(f.name, "app.") {
					writeArchive(t, p, file("run.sh", "echo hi"))
				} else {
					writeFile(t, p, "x")
				}
				if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
					t.Fatal(err)
				}
			}
			journal := filepath.Join(home, "journal.json")
			if err := writeJournal(journal, []JournalEntry{
				{Project: "web", Environment: "Production", PackageID: "retained", Version: "1.0", Success: true,
					PackagePath: filepath.Join(root, "retained.1.0.aaaaaaaaaaaaaaaa.tar.gz"), InstalledTo: filepath.Join(home, "apps", "r")},
				{Project: "web", Environment: "Production", PackageID: "retired", Version: "1.0", Success: true, Removed: true,
					PackagePath: filepath.Join(root, "retired.1.0.bbbbbbbbbbbbbbbb.tar.gz"), InstalledTo: filepath.Join(home, "apps", "x")},
			}); err != nil {
				t.Fatal(err)
			}
			// Runners the server sent: one an upgrade left behind, one in use.
			runners := filepath.Join(home, "runners")
			os.MkdirAll(runners, 0o755)
			for name, mtime := range map[string]time.Time{"pulpo-0123456789abcdef": longAgo, "pulpo-fedcba9876543210": lately} {
				writeFile(t, filepath.Join(runners, name), "runner")
				os.Chtimes(filepath.Join(runners, name), mtime, mtime)
			}
			pkg := PackageFile{Path: filepath.Join(root, files[0].name), ID: "app", Version: "1.0.0"}
			cache := &PackageCache{Root: root, KeepSeconds: int64(keep / time.Second), Journal: journal, Runners: runners}
			before := time.Now().Add(-time.Minute)
			out, err := c.run(t, home, pkg, cache)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, f := range files {
				st, err := os.Stat(filepath.Join(root, filepath.FromSlash(f.name)))
				if (err == nil) != f.kept {
					t.Errorf("%s (%s): kept %v, want %v", f.name, f.reason, err == nil, f.kept)
				}
				if removed := strings.Contains(out, "Removed "+filepath.Base(f.name)+" from the package cache: unused since "+longAgo.UTC().Format(time.DateOnly)); removed == f.kept {
					t.Errorf("%s (%s): the log says removed %v:\n%s", f.name, f.reason, removed, out)
				}
				if err == nil && f.name == files[0].name && st.ModTime().Before(before) {
					t.Errorf("the step's package kept its old time %s: a use must renew it", st.ModTime())
				}
			}
			if _, err := os.Stat(filepath.Join(runners, "pulpo-0123456789abcdef")); err == nil ||
				!strings.Contains(out, "Removed pulpo-0123456789abcdef from the runners the server sent: unused since") {
				t.Errorf("the runner an upgrade left behind is still there (%v):\n%s", err, out)
			}
			if _, err := os.Stat(filepath.Join(runners, "pulpo-fedcba9876543210")); err != nil {
				t.Errorf("the runner used lately: %v", err)
			}
		})
	}
}

// Without a cache in the manifest (an older server's, or keep-all) the
// runner removes nothing; and a cache that cannot be read is a warning,
// never a failed step.
func TestASweepNeverFailsAStepAndIsOffWithoutACache(t *testing.T) {
	longAgo := time.Now().Add(-365 * 24 * time.Hour)
	cases := []struct {
		name     string
		cache    func(root, journal string) *PackageCache
		journal  string // its content; empty: none
		wantKept bool
		wantLog  string
	}{
		{name: "no cache in the manifest", cache: func(string, string) *PackageCache { return nil }, wantKept: true},
		{name: "keep all", cache: func(root, _ string) *PackageCache { return &PackageCache{Root: root} }, wantKept: true},
		{name: "a journal that cannot be read", journal: "{not json",
			cache: func(root, j string) *PackageCache {
				return &PackageCache{Root: root, KeepSeconds: 3600, Journal: j}
			}, wantKept: true, wantLog: "package cache: nothing was removed"},
		{name: "a cache folder not there yet", cache: func(root, _ string) *PackageCache {
			return &PackageCache{Root: filepath.Join(root, "nowhere"), KeepSeconds: 3600}
		}, wantKept: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			root := filepath.Join(home, "packages")
			old := writeFile(t, filepath.Join(root, "old.1.0.tar.gz"), "x") // creates root
			os.Chtimes(old, longAgo, longAgo)
			pkg := writeArchive(t, filepath.Join(root, "app.1.0.tar.gz"), file("a.txt", "a"))
			journal := filepath.Join(home, "journal.json")
			if c.journal != "" {
				writeFile(t, journal, c.journal)
			}
			t.Chdir(t.TempDir())
			var out bytes.Buffer
			m := FetchManifest{Packages: []FetchPackage{{Package: PackageFile{Path: pkg, ID: "app", Version: "1.0"}, ExtractTo: "app"}},
				PackageCache: c.cache(root, journal)}
			if err := Fetch(context.Background(), m, Options{}, &out, &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if _, err := os.Stat(old); (err == nil) != c.wantKept {
				t.Errorf("the old package kept %v, want %v\n%s", err == nil, c.wantKept, out.String())
			}
			if !strings.Contains(out.String(), c.wantLog) {
				t.Errorf("the log lacks %q:\n%s", c.wantLog, out.String())
			}
		})
	}
}

func TestAManifestsPackageCacheIsChecked(t *testing.T) {
	m := Manifest{Package: PackageFile{Path: "/p/app.tar.gz", ID: "app", Version: "1"}, Environment: "E", AppsRoot: "/apps",
		PackageCache: &PackageCache{Root: "packages", KeepSeconds: -1, Journal: "journal.json", Runners: "runners"}}
	err := m.Validate()
	for _, want := range []string{"packageCache.root must be an absolute path", "packageCache.keepSeconds must be 0", "packageCache.journal must be an absolute path", "packageCache.runners must be an absolute path"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}

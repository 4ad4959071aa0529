package runner

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// feedServer serves one archive at /app.1.0.0.tar.gz to callers with the
// right token, and counts what it serves.
func feedServer(t *testing.T, archive []byte) (*httptest.Server, *atomic.Int32) {
	var served atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != "Bearer s3cret-token":
			http.Error(w, "who are you", http.StatusUnauthorized)
		case r.URL.Path == "/app.1.0.0.tar.gz":
			served.Add(1)
			w.Write(archive)
		case r.URL.Path == "/cut.tar.gz": // promises more than it sends
			w.Header().Set("Content-Length", "100000")
			w.Write(archive[:10])
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &served
}

func TestATargetDownloadsItsPackageFromTheFeedOnce(t *testing.T) {
	dir := t.TempDir()
	archive, err := os.ReadFile(writeArchive(t, filepath.Join(dir, "src.tar.gz"), file("hello.txt", "hi")))
	if err != nil {
		t.Fatal(err)
	}
	srv, served := feedServer(t, archive)
	work := t.TempDir()
	t.Chdir(work)
	cache := filepath.Join(t.TempDir(), "packages", "feeds", "app.1.0.0.tar.gz")
	m := FetchManifest{Packages: []FetchPackage{{
		Package:   PackageFile{Path: cache, ID: "app", Version: "1.0.0", Download: &Download{URL: srv.URL + "/app.1.0.0.tar.gz", Header: map[string]string{"Authorization": "Bearer s3cret-token"}}},
		ExtractTo: "app",
	}}}
	var stdout, stderr bytes.Buffer
	if err := Fetch(context.Background(), m, Options{}, &stdout, &stderr); err != nil {
		t.Fatalf("fetch: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if b, err := os.ReadFile(filepath.Join(work, "app", "hello.txt")); err != nil || string(b) != "hi" {
		t.Fatalf("extracted file: %q %v", b, err)
	}
	m.Packages[0].ExtractTo = "again"
	if err := Fetch(context.Background(), m, Options{}, &stdout, &stderr); err != nil {
		t.Fatalf("second fetch: %v", err)
	}
	if n := served.Load(); n != 1 {
		t.Fatalf("the feed served the package %d times; the target's cache should have saved the second", n)
	}
	if strings.Contains(stdout.String()+stderr.String(), "s3cret-token") {
		t.Fatalf("the feed's token was printed:\n%s%s", stdout.String(), stderr.String())
	}
}

func TestAFailedDownloadLeavesNothingBehind(t *testing.T) {
	dir := t.TempDir()
	archive, _ := os.ReadFile(writeArchive(t, filepath.Join(dir, "src.tar.gz"), file("hello.txt", "hi")))
	srv, _ := feedServer(t, archive)
	cases := []struct {
		name, path, token, want string
	}{
		{"wrong credentials", "/app.1.0.0.tar.gz", "Bearer nope", "the feed answered 401 Unauthorized"},
		{"a missing version", "/app.9.tar.gz", "Bearer s3cret-token", "the feed answered 404 Not Found"},
		{"a connection cut short", "/cut.tar.gz", "Bearer s3cret-token", "unexpected EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cacheDir := t.TempDir()
			p := PackageFile{Path: filepath.Join(cacheDir, "app.tar.gz"), ID: "app", Version: "1.0.0",
				Download: &Download{URL: srv.URL + c.path, Header: map[string]string{"Authorization": c.token}}}
			var stdout, stderr bytes.Buffer
			err := Fetch(context.Background(), FetchManifest{Packages: []FetchPackage{{Package: p}}}, Options{}, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error containing %q, got %v", c.want, err)
			}
			if left, _ := os.ReadDir(cacheDir); len(left) != 0 {
				t.Fatalf("left in the cache: %v", left)
			}
		})
	}
}

// A manifest written before PackageCache bounded the downloads only,
// through its Download: the runner still sweeps them, and a use renews a
// file's time.
func TestAnOlderManifestsDownloadStillSweepsTheDownloads(t *testing.T) {
	dir := t.TempDir()
	archive, _ := os.ReadFile(writeArchive(t, filepath.Join(dir, "src.tar.gz"), file("hello.txt", "hi")))
	srv, _ := feedServer(t, archive)
	root := filepath.Join(t.TempDir(), "feeds")
	old, recent := filepath.Join(root, "Feeds-1", "old.1.0.tar.gz"), filepath.Join(root, "Feeds-2", "recent.1.0.tar.gz")
	used := filepath.Join(root, "Feeds-1", "used.1.0.tar.gz")
	for _, f := range []string{old, recent, used} {
		os.MkdirAll(filepath.Dir(f), 0o755)
		os.WriteFile(f, []byte("x"), 0o644)
	}
	longAgo := time.Now().Add(-48 * time.Hour)
	os.Chtimes(old, longAgo, longAgo)
	os.Chtimes(used, longAgo, longAgo)
	download := &Download{URL: srv.URL + "/app.1.0.0.tar.gz", Header: map[string]string{"Authorization": "Bearer s3cret-token"},
		CacheRoot: root, KeepSeconds: 24 * 3600}
	downloaded := filepath.Join(root, "Feeds-1", "app.1.0.0.tar.gz")
	var stdout, stderr bytes.Buffer
	// A step takes "used" from the cache and downloads "app".
	m := FetchManifest{Packages: []FetchPackage{
		{Package: PackageFile{Path: used, ID: "used", Version: "1.0", Download: download}},
		{Package: PackageFile{Path: downloaded, ID: "app", Version: "1.0.0", Download: download}},
	}}
	if err := Fetch(context.Background(), m, Options{}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	for f, want := range map[string]bool{old: false, recent: true, used: true, downloaded: true} {
		if _, err := os.Stat(f); (err == nil) != want {
			t.Errorf("%s kept: %v, want %v", filepath.Base(f), err == nil, want)
		}
	}
	if st, _ := os.Stat(used); st.ModTime().Before(time.Now().Add(-time.Hour)) {
		t.Errorf("the time of a package taken from the cache was not renewed: %s", st.ModTime())
	}
	if !strings.Contains(stdout.String(), "Removed old.1.0.tar.gz from the package cache") {
		t.Errorf("the log does not say what was removed:\n%s", stdout.String())
	}
}

package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// pulpo feed: create, list, show, test, search, versions, update and
// delete an HTTP folder feed served from a temporary folder.
func TestFeedCommands(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"app.1.0.0.zip", "app.1.4.0.tar.gz", "tool.2.0.0.tgz"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	files := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(files.Close)
	s := startCLIServer(t)

	var f model.Feed
	if err := json.Unmarshal([]byte(s.ok("feed", "create", "Files", "--type", "http", "--url", files.URL, "-o", "json")), &f); err != nil || f.ID == "" || f.Type != model.FeedHTTP {
		t.Fatalf("create: %+v %v", f, err)
	}
	if out := s.ok("feed", "list"); !strings.Contains(out, model.BuiltInFeedID) || !strings.Contains(out, "Files") ||
		strings.Index(out, model.BuiltInFeedID) > strings.Index(out, "Files") {
		t.Errorf("list:\n%s", out)
	}
	if out := s.ok("feed", "show", "Files"); !strings.Contains(out, files.URL) || !strings.Contains(out, "Password:  none") {
		t.Errorf("show:\n%s", out)
	}
	if out := s.ok("feed", "test", "Files"); !strings.Contains(out, "answered") {
		t.Errorf("test: %s", out)
	}
	if out := s.ok("feed", "search", "Files", "ap"); out != "app\n" {
		t.Errorf("search: %q", out)
	}
	var vs wire.FeedVersions
	if err := json.Unmarshal([]byte(s.ok("feed", "versions", "Files", "app", "-o", "json")), &vs); err != nil || strings.Join(vs.Versions, " ") != "1.4.0 1.0.0" {
		t.Errorf("versions: %+v %v", vs, err)
	}
	if out := s.ok("feed", "versions", "Files", "app", "--take", "1"); out != "1.4.0\n(1 of 2 versions; --take shows more)\n" {
		t.Errorf("versions --take 1: %q", out)
	}
	if r := s.pulpo("feed", "versions", "Files", "nothing"); r.code == 0 || !strings.Contains(r.stderr, "no file of package nothing") {
		t.Errorf("versions of a missing package: %+v", r)
	}
	s.ok("feed", "update", "Files", "--name", "Folder")
	if r := s.pulpo("feed", "create", "Bad", "--type", "svn", "--url", "https://x"); r.code == 0 || !strings.Contains(r.stderr, "not a feed type") {
		t.Errorf("create a bad feed: %+v", r)
	}
	if out := s.ok("feed", "delete", "Folder"); out != "Deleted feed \"Folder\"\n" {
		t.Errorf("delete: %q", out)
	}
}

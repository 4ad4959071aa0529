package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTarGz(t *testing.T, path string, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPackageFeedThroughTheCLI(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	dir := t.TempDir()
	pkg := filepath.Join(dir, "app.1.0.0.tar.gz")
	body := writeTarGz(t, pkg, map[string]string{"Deploy.sh": "echo deploying\n", "appsettings.json": `{"Level":"Info"}`})
	sum := sha256.Sum256(body)

	out := s.ok("package", "push", pkg)
	if !strings.Contains(out, "Created app 1.0.0") || !strings.Contains(out, hex.EncodeToString(sum[:])) {
		t.Fatalf("push:\n%s", out)
	}
	again := s.pulpo("package", "push", pkg)
	if again.code == 0 || !strings.Contains(again.stderr, "already in the feed") {
		t.Fatalf("pushing the same version again should fail by default; exit %d\n%s", again.code, again.stderr)
	}
	if out := s.ok("package", "push", pkg, "--overwrite-mode", "ignore"); !strings.Contains(out, "Ignored app 1.0.0") {
		t.Fatalf("ignore:\n%s", out)
	}
	if out := s.ok("package", "push", pkg, "--overwrite-mode", "overwrite"); !strings.Contains(out, "Replaced app 1.0.0") {
		t.Fatalf("overwrite:\n%s", out)
	}
	other := filepath.Join(dir, "build-output.tar.gz")
	writeTarGz(t, other, map[string]string{"x": "y"})
	s.ok("package", "push", other, "--package-id", "app", "--version", "1.1.0-beta.1")

	// A file cut short is refused, and the feed is as it was.
	cut := filepath.Join(dir, "app.2.0.0.tar.gz")
	os.WriteFile(cut, body[:len(body)-20], 0o644)
	if r := s.pulpo("package", "push", cut); r.code == 0 || !strings.Contains(r.stderr, "not a whole .tar.gz archive") {
		t.Fatalf("a truncated package: exit %d\n%s", r.code, r.stderr)
	}
	list := s.ok("package", "list")
	if !strings.Contains(list, "1.1.0-beta.1") || strings.Contains(list, "2.0.0") || strings.Index(list, "1.1.0-beta.1") > strings.Index(list, "1.0.0") {
		t.Fatalf("list (newest first, no 2.0.0):\n%s", list)
	}

	downloaded := filepath.Join(dir, "down.tar.gz")
	s.ok("package", "download", "app", "1.0.0", "-f", downloaded)
	if b, _ := os.ReadFile(downloaded); !bytes.Equal(b, body) {
		t.Fatal("the downloaded file differs from the pushed one")
	}
	s.ok("package", "delete", "app", "1.0.0")
	if r := s.pulpo("package", "show", "app", "1.0.0"); r.code == 0 || !strings.Contains(r.stderr, "was not found") {
		t.Fatalf("show after delete: exit %d\n%s", r.code, r.stderr)
	}
}

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const backupConfig = `environments:
  - name: Dev
projects:
  - name: shop
    steps:
      - name: Use the secret
        script:
          body: |
            [ "#{DbPassword}" = "s3cret-backup-value" ] && echo "the secret opens"
    variables:
      - name: DbPassword
        value: s3cret-backup-value
        sensitive: true
`

// TestBackupWhileRunningAndRestore backs up a running server, restores the
// backup into a fresh folder and starts a server on it.
func TestBackupWhileRunningAndRestore(t *testing.T) {
	work := t.TempDir()
	port := freePort(t)
	s := startServer(t, work, "", port)
	applyText(t, s, backupConfig)
	s.ok("release", "create", "--project", "shop", "--version", "1.0.0")
	if out := s.ok("release", "deploy", "--project", "shop", "--version", "1.0.0", "--environment", "Dev", "--watch"); !strings.Contains(out, "the secret opens") {
		t.Fatalf("deployment before the backup:\n%s", out)
	}
	archive := filepath.Join(t.TempDir(), "pulpo.tar.gz")
	out := s.ok("backup", "--data", filepath.Join(work, "pulpo-data"), "--to", archive)
	if !strings.Contains(out, "The master key is not in it") {
		t.Errorf("the backup does not warn about the master key:\n%s", out)
	}
	s.kill()

	restored := t.TempDir()
	data := filepath.Join(restored, "pulpo-data")
	s.ok("restore", "--from", archive, "--data", data)
	// Without its master key the server refuses to start, saying so.
	cmd := exec.Command(binary, "server", "--listen", "127.0.0.1:0", "--polling-listen", "")
	cmd.Dir = restored
	raw, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(raw), "master key") {
		t.Fatalf("a server without the master key started (or said nothing of it): %v\n%s", err, raw)
	}
	key, err := os.ReadFile(filepath.Join(work, "pulpo-data", "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, restored, "", freePort(t))
	var releases struct{ Items []struct{ Version string } }
	s.okJSON(&releases, "release", "list", "--project", "shop")
	if len(releases.Items) != 1 || releases.Items[0].Version != "1.0.0" {
		t.Fatalf("releases after restore: %+v", releases)
	}
	if out := s.ok("release", "deploy", "--project", "shop", "--version", "1.0.0", "--environment", "Dev", "--watch"); !strings.Contains(out, "the secret opens") {
		t.Fatalf("deployment after the restore:\n%s", out)
	}
	// Restoring over it again is refused.
	if r := s.pulpo("restore", "--from", archive, "--data", data); r.code == 0 || !strings.Contains(r.stderr, "server is running") {
		t.Errorf("restore over a running server: exit %d\n%s", r.code, r.stderr)
	}
}

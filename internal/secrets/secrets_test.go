package secrets_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/secrets"
)

func TestSealAndOpen(t *testing.T) {
	box, err := secrets.New(secrets.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	sealed := box.Seal([]byte("hunter2"))
	if strings.Contains(sealed, "hunter2") || sealed == box.Seal([]byte("hunter2")) {
		t.Fatalf("sealing shows the value or repeats itself: %s", sealed)
	}
	if got, err := box.Open(sealed); err != nil || string(got) != "hunter2" {
		t.Fatalf("open: %q %v", got, err)
	}
	other, _ := secrets.New(secrets.NewKey())
	if _, err := other.Open(sealed); !errors.Is(err, secrets.ErrWrongKey) {
		t.Fatalf("another key opened it: %v", err)
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := box.Open(tampered); err == nil {
		t.Fatal("a changed value opened")
	}
	for _, bad := range []string{"", "plain", "v1.!!!"} {
		if _, err := box.Open(bad); err == nil {
			t.Errorf("%q opened", bad)
		}
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	a, err := secrets.LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := secrets.LoadOrCreateKeyFile(path)
	if err != nil || string(a) != string(b) {
		t.Fatalf("the key changed: %v", err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode())
	}
	if _, err := secrets.ParseKey("c2hvcnQ="); err == nil {
		t.Fatal("a short key was accepted")
	}
}

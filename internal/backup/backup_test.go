package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// server makes a data folder with a database, a master key, a package
// and an artifact, as a server leaves them.
func server(t *testing.T) (string, *store.Store) {
	t.Helper()
	dir := t.TempDir()
	s, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for name, data := range map[string]string{
		"master.key":                            "c2VjcmV0LWtleS1mb3ItdGVzdHMtMzItYnl0ZXMhISE=",
		"packages/app/app.1.0.0.tar.gz":         "package bytes",
		"packages/app/app.2.0.0.tar.gz.partial": "half an upload",
		"artifacts/Tasks-1/report.txt":          "artifact bytes",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, s
}

func countEnvironments(t *testing.T, dir string) int {
	t.Helper()
	s, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	envs, err := s.Read().AllEnvironments(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(envs)
}

func TestABackupTakenWhileWritingRestoresConsistently(t *testing.T) {
	dir, s := server(t)
	ctx := context.Background()
	var written atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a busy server
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			e := model.Environment{Name: fmt.Sprintf("Env %d", i)}
			if err := s.Tx(ctx, func(q *store.Queries) error { return q.CreateEnvironment(ctx, &e) }); err != nil {
				t.Error(err)
				return
			}
			written.Add(1)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for written.Load() < 50 { // let it write a while first
		if time.Now().After(deadline) {
			t.Fatal("the writer did not get going")
		}
		time.Sleep(time.Millisecond)
	}
	var archive bytes.Buffer
	m, err := Create(ctx, &archive, Options{DataDir: dir, Version: "test"})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if m.Packages != 1 || m.Artifacts != 1 || m.MasterKey {
		t.Errorf("manifest %+v: want 1 package (the partial upload left out), 1 artifact, no master key", m)
	}

	to := t.TempDir()
	got, err := Restore(ctx, bytes.NewReader(archive.Bytes()), RestoreOptions{DataDir: to})
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt != m.CreatedAt {
		t.Errorf("restored manifest %+v", got)
	}
	n := countEnvironments(t, to)
	if n < 50 || int64(n) > written.Load() {
		t.Errorf("the restored database has %d environments; the backup began after 50 and ended by %d", n, written.Load())
	}
	for name, want := range map[string]string{"packages/app/app.1.0.0.tar.gz": "package bytes", "artifacts/Tasks-1/report.txt": "artifact bytes"} {
		if b, err := os.ReadFile(filepath.Join(to, name)); err != nil || string(b) != want {
			t.Errorf("%s: %q %v", name, b, err)
		}
	}
	for _, absent := range []string{"master.key", "packages/app/app.2.0.0.tar.gz.partial"} {
		if _, err := os.Stat(filepath.Join(to, absent)); err == nil {
			t.Errorf("%s was restored; it must not be in the backup", absent)
		}
	}
}

func TestTheMasterKeyIsIncludedOnlyWhenAsked(t *testing.T) {
	dir, _ := server(t)
	var archive bytes.Buffer
	if _, err := Create(context.Background(), &archive, Options{DataDir: dir, IncludeMasterKey: true}); err != nil {
		t.Fatal(err)
	}
	to := t.TempDir()
	if _, err := Restore(context.Background(), &archive, RestoreOptions{DataDir: to}); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "master.key"))
	if got, err := os.ReadFile(filepath.Join(to, "master.key")); err != nil || string(got) != string(want) {
		t.Errorf("master key: %q %v", got, err)
	}
}

func TestRestoreRefusesWhatWouldLoseData(t *testing.T) {
	dir, _ := server(t)
	var archive bytes.Buffer
	if _, err := Create(context.Background(), &archive, Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	evil := func(name string) []byte {
		var b bytes.Buffer
		gz := gzip.NewWriter(&b)
		tw := tar.NewWriter(gz)
		tw.WriteHeader(&tar.Header{Name: manifestName, Mode: 0o600, Size: 12, Typeflag: tar.TypeReg})
		tw.Write([]byte(`{"format":1}`))
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: 4, Typeflag: tar.TypeReg})
		tw.Write([]byte("evil"))
		tw.Close()
		gz.Close()
		return b.Bytes()
	}
	tests := []struct {
		name    string
		archive []byte
		prepare func(t *testing.T, to string)
		want    string
	}{
		{"a running server", archive.Bytes(), func(t *testing.T, to string) {
			unlock, err := lockDataDir(to)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(unlock)
		}, "a Pulpo server is running"},
		{"an existing database", archive.Bytes(), func(t *testing.T, to string) {
			os.WriteFile(filepath.Join(to, "pulpo.db"), []byte("precious"), 0o600)
		}, "already holds a database"},
		{"a path out of the folder", evil("../../escape"), nil, "a backup never does"},
		{"a cut archive", archive.Bytes()[:archive.Len()/2], nil, "damaged"},
		{"not a backup", []byte("hello"), nil, "not a Pulpo backup"},
		{"no database", evil("packages/x"), nil, "holds no database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			to := t.TempDir()
			if tt.prepare != nil {
				tt.prepare(t, to)
			}
			before, _ := os.ReadFile(filepath.Join(to, "pulpo.db"))
			_, err := Restore(context.Background(), bytes.NewReader(tt.archive), RestoreOptions{DataDir: to})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
			after, _ := os.ReadFile(filepath.Join(to, "pulpo.db"))
			if string(before) != string(after) {
				t.Error("the refused restore changed the database file")
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(to), "escape")); err == nil {
				t.Error("a file was written outside the data folder")
			}
			entries, _ := os.ReadDir(to)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".restore-") || e.Name() == "packages" {
					t.Errorf("the refused restore left %s behind", e.Name())
				}
			}
		})
	}
}

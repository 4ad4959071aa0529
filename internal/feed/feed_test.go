package feed_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/feed"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/testutil/archivetest"
)

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	return buf.Bytes()
}

// zipBomb is a small zip holding size bytes of zeros.
func zipBomb(t *testing.T, size int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("zeros.bin")
	zero := make([]byte, 1<<20)
	for n := int64(0); n < size; n += int64(len(zero)) {
		w.Write(zero)
	}
	zw.Close()
	return buf.Bytes()
}

func newFeed(t *testing.T) *feed.Feed {
	t.Helper()
	s, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &feed.Feed{Store: s, Dir: t.TempDir()}
}

func push(f *feed.Feed, name string, body []byte, mode feed.OverwriteMode) (model.Package, feed.Push, error) {
	return f.Push(context.Background(), feed.PushRequest{FileName: name, Mode: mode, Size: int64(len(body))}, bytes.NewReader(body))
}

func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".upload-") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestPackageNames(t *testing.T) {
	tests := []struct{ name, id, version, ext, err string }{
		{name: "myapp.1.4.0.tar.gz", id: "myapp", version: "1.4.0", ext: ".tar.gz"},
		{name: "My.App.1.4.0-beta.1.zip", id: "My.App", version: "1.4.0-beta.1", ext: ".zip"},
		{name: "web-api.2024.1.15.tgz", id: "web-api", version: "2024.1.15", ext: ".tgz"},
		{name: "lib.v2.1.0.nupkg", id: "lib.v2", version: "1.0", ext: ".nupkg"},
		{name: "tool.3.tar", id: "tool", version: "3", ext: ".tar"},
		{name: "noversion.tar.gz", err: "cannot read a package id and version"},
		{name: "app.1.0.0.rar", err: "is not a package the feed takes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, version, ext, err := model.ParsePackageFileName(tt.name)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || id != tt.id || version != tt.version || ext != tt.ext {
				t.Fatalf("got %q %q %q %v", id, version, ext, err)
			}
		})
	}
}

func TestPushStoresWholePackagesOnly(t *testing.T) {
	f := newFeed(t)
	body := tarGz(t, map[string]string{"Deploy.sh": "echo hi\n", "appsettings.json": "{}"})
	p, outcome, err := push(f, "app.1.0.0.tar.gz", body, "")
	sum := sha256.Sum256(body)
	if err != nil || outcome != feed.Created || p.SHA256 != hex.EncodeToString(sum[:]) || p.SizeBytes != int64(len(body)) || p.ID != "packages-app.1.0.0" {
		t.Fatalf("push: %+v %s %v", p, outcome, err)
	}
	file, got, err := f.Open(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(file)
	file.Close()
	if !bytes.Equal(stored, body) || got.Version != "1.0.0" {
		t.Fatal("the stored file differs")
	}

	tests := []struct {
		name string
		file string
		body []byte
		size int64
		want string
	}{
		{"cut short in transit", "app.1.0.1.tar.gz", body[:len(body)/2], int64(len(body)), "cut short: "},
		{"a truncated archive", "app.1.0.2.tar.gz", body[:len(body)-10], -1, "is not a whole .tar.gz archive"},
		{"not an archive", "app.1.0.3.zip", []byte("hello, not a zip"), -1, "is not a whole .zip archive"},
		{"empty", "app.1.0.4.tar.gz", nil, 0, "empty"},
		{"a bad version", "app.tar.gz", body, -1, "cannot read a package id and version"},
		{"an entry that climbs out", "app.1.0.5.tar.gz", archivetest.TarGz(t, tar.Header{Name: "../../etc/cron.d/evil", Size: 3}), -1,
			`is not a safe package: refused entry "../../etc/cron.d/evil": its path leaves the extraction folder`},
		{"an absolute entry", "app.1.0.6.tar.gz", archivetest.TarGz(t, tar.Header{Name: "/etc/passwd", Size: 3}), -1, "its path is absolute"},
		{"a symbolic link out of the folder", "app.1.0.7.tar.gz", archivetest.TarGz(t, tar.Header{Name: "logs", Typeflag: tar.TypeSymlink, Linkname: "../../var/log"}), -1,
			`refused entry "logs": it is a symbolic link to "../../var/log", outside the extraction folder`},
		{"a hard link out of the folder", "app.1.0.8.tar.gz", archivetest.TarGz(t, tar.Header{Name: "shadow", Typeflag: tar.TypeLink, Linkname: "../etc/shadow"}), -1,
			`it is a hard link to "../etc/shadow"`},
		{"a device file", "app.1.0.9.tar.gz", archivetest.TarGz(t, tar.Header{Name: "sda", Typeflag: tar.TypeBlock}), -1, "it is a device file"},
		{"a zip bomb", "app.1.0.10.zip", zipBomb(t, 300<<20), -1, "like a zip bomb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.Push(context.Background(), feed.PushRequest{FileName: tt.file, Size: tt.size}, bytes.NewReader(tt.body))
			var bp *feed.BadPackageError
			if !errors.As(err, &bp) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a refusal saying %q", err, tt.want)
			}
			if l := leftovers(t, f.Dir); len(l) > 0 {
				t.Fatalf("a refused push left %v behind", l)
			}
		})
	}
	if list, total, _ := f.Store.Read().ListPackages(context.Background(), store.PackageFilter{}); total != 1 || len(list) != 1 {
		t.Fatalf("only the good package should be in the feed: %+v", list)
	}
}

func TestOverwriteModes(t *testing.T) {
	f := newFeed(t)
	first := zipOf(t, map[string]string{"a": "1"})
	second := zipOf(t, map[string]string{"a": "2"})
	if _, _, err := push(f, "app.2.0.0.zip", first, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := push(f, "app.2.0.0.zip", second, feed.FailIfExists); err == nil || !strings.Contains(err.Error(), "already in the feed") {
		t.Fatalf("fail mode: %v", err)
	}
	p, outcome, err := push(f, "app.2.0.0.zip", second, feed.IgnoreIfExists)
	firstSum := sha256.Sum256(first)
	if err != nil || outcome != feed.Ignored || p.SHA256 != hex.EncodeToString(firstSum[:]) {
		t.Fatalf("ignore mode: %+v %s %v", p, outcome, err)
	}
	p, outcome, err = push(f, "app.2.0.0.zip", second, feed.OverwriteExisting)
	secondSum := sha256.Sum256(second)
	if err != nil || outcome != feed.Replaced || p.SHA256 != hex.EncodeToString(secondSum[:]) {
		t.Fatalf("overwrite mode: %+v %s %v", p, outcome, err)
	}
	if b, _ := os.ReadFile(filepath.Join(f.Dir, "app.2.0.0.zip")); !bytes.Equal(b, second) {
		t.Fatal("the file was not replaced")
	}
}

func TestRetentionKeepsTheNewestVersions(t *testing.T) {
	f := newFeed(t)
	f.Retention = feed.Retention{KeepVersions: 2}
	for _, v := range []string{"1.0.0", "1.10.0", "1.2.0", "1.9.0"} {
		if _, _, err := push(f, "svc."+v+".tar.gz", tarGz(t, map[string]string{"v": v}), ""); err != nil {
			t.Fatal(err)
		}
	}
	list, _, _ := f.Store.Read().ListPackages(context.Background(), store.PackageFilter{PackageID: "svc"})
	var versions []string
	for _, p := range list {
		versions = append(versions, p.Version)
	}
	if strings.Join(versions, ",") != "1.10.0,1.9.0" {
		t.Fatalf("kept %v, want the two newest by version", versions)
	}
	if _, err := os.Stat(filepath.Join(f.Dir, "svc.1.2.0.tar.gz")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a removed version's file is still there")
	}

	// Age: versions older than the limit go, the newest stays whatever its age.
	f.Retention = feed.Retention{MaxAge: time.Nanosecond}
	removed, err := f.ApplyRetention(context.Background(), "svc")
	if err != nil || len(removed) != 1 || removed[0].Version != "1.9.0" {
		t.Fatalf("age retention removed %+v (%v)", removed, err)
	}
}

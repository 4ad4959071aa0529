package runner

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestExtractUnpacksEveryFormatKeepingModesAndLinks(t *testing.T) {
	for _, name := range []string{"app.1.0.0.tar.gz", "app.1.0.0.tgz", "app.1.0.0.tar", "app.1.0.0.zip", "App.1.0.0.NUPKG"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			archive := writeArchive(t, filepath.Join(dir, name),
				folder("bin/"),
				executable("bin/start.sh", "#!/bin/sh\necho start\n"),
				file("config/app.json", `{"a":1}`),
				symlink("bin/current", "start.sh"),
				folder("empty/"),
			)
			dest := filepath.Join(dir, "out")

			files, size, err := Extract(context.Background(), archive, dest, Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"bin/", "bin/current -> start.sh", "bin/start.sh: #!/bin/sh\necho start\n", "config/", "config/app.json: {\"a\":1}", "empty/"}
			if got := tree(t, dest); !slices.Equal(got, want) {
				t.Errorf("extracted\n%q\nwant\n%q", got, want)
			}
			if files != 5 || size != int64(len("#!/bin/sh\necho start\n")+len(`{"a":1}`)) {
				t.Errorf("counted %d entries and %d bytes", files, size)
			}
			for p, mode := range map[string]os.FileMode{"bin/start.sh": 0o755, "config/app.json": 0o644} {
				fi, err := os.Stat(filepath.Join(dest, p))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != mode {
					t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), mode)
				}
			}
			if fi, _ := os.Stat(filepath.Join(dest, "bin/start.sh")); !fi.ModTime().Equal(testTime) {
				t.Errorf("modification time %v, want %v", fi.ModTime(), testTime)
			}
		})
	}
}

func TestExtractNupkgLeavesOutNuGetPackagingFiles(t *testing.T) {
	dir := t.TempDir()
	archive := writeArchive(t, filepath.Join(dir, "app.1.0.0.nupkg"),
		file("[Content_Types].xml", "<Types/>"),
		file("_rels/.rels", "<Relationships/>"),
		file("package/services/metadata/core-properties/x.psmdcp", "meta"),
		file("app.nuspec", "<package/>"),
		file("app.1.0.0.nupkg.sha512", "hash"),
		file("content/My%20File.txt", "spaced"),
		file("Deploy.sh", "echo hi"),
	)
	dest := filepath.Join(dir, "out")
	if _, _, err := Extract(context.Background(), archive, dest, Options{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"Deploy.sh: echo hi", "content/", "content/My File.txt: spaced"}
	if got := tree(t, dest); !slices.Equal(got, want) {
		t.Errorf("extracted %q, want %q", got, want)
	}
}

func TestExtractRefusesDangerousArchivesAndLeavesNothingBehind(t *testing.T) {
	truncate := func(t *testing.T, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b[:len(b)*2/3], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	big := strings.Repeat("x", 64<<10)
	cases := []struct {
		name    string
		archive string
		entries []archiveEntry
		build   func(t *testing.T, path string) // instead of entries
		opts    Options
		want    string
	}{
		{name: "zip-slip in a tar", archive: "p.tar.gz",
			entries: []archiveEntry{file("ok.txt", "fine"), file("../evil.txt", "pwned")},
			want:    `refused entry "../evil.txt": its path leaves the extraction folder`},
		{name: "zip-slip in a zip", archive: "p.zip",
			entries: []archiveEntry{file("a/../../evil.txt", "pwned")},
			want:    `refused entry "a/../../evil.txt": its path leaves the extraction folder`},
		{name: "zip-slip with backslashes", archive: "p.zip",
			entries: []archiveEntry{file(`..\evil.txt`, "pwned")},
			want:    `refused entry "../evil.txt": its path leaves the extraction folder`},
		{name: "absolute path", archive: "p.tar",
			entries: []archiveEntry{file("/tmp/evil.txt", "pwned")},
			want:    `refused entry "/tmp/evil.txt": its path is absolute`},
		{name: "symlink to /etc/passwd", archive: "p.tar.gz",
			entries: []archiveEntry{symlink("passwd", "/etc/passwd")},
			want:    `refused entry "passwd": it is a symbolic link to the absolute path "/etc/passwd"`},
		{name: "symlink to /etc/passwd in a zip", archive: "p.zip",
			entries: []archiveEntry{symlink("passwd", "/etc/passwd")},
			want:    `refused entry "passwd": it is a symbolic link to the absolute path "/etc/passwd"`},
		{name: "symlink escaping with ..", archive: "p.tar.gz",
			entries: []archiveEntry{folder("a/"), symlink("a/up", "../../..")},
			want:    `refused entry "a/up": it is a symbolic link to "../../..", outside the extraction folder`},
		{name: "symlinks that escape only together", archive: "p.tar.gz",
			entries: []archiveEntry{folder("p/q/"), symlink("p/q/up", ".."), symlink("x", "p/q/up/../..")},
			want:    `refused entry "x": the symbolic link to "p/q/up/../.." leads outside the extraction folder through other links`},
		{name: "writing through a symlink", archive: "p.tar.gz",
			entries: []archiveEntry{folder("sub/"), symlink("lnk", "sub"), file("lnk/x.txt", "sneaky")},
			want:    `refused entry "lnk/x.txt": it would be written through the symbolic link "lnk"`},
		{name: "hard link escaping", archive: "p.tar",
			entries: []archiveEntry{hardlink("passwd", "../../etc/passwd")},
			want:    `refused entry "passwd": it is a hard link to "../../etc/passwd" and its path leaves the extraction folder`},
		{name: "hard link to an absolute path", archive: "p.tar",
			entries: []archiveEntry{hardlink("passwd", "/etc/passwd")},
			want:    `refused entry "passwd": it is a hard link to "/etc/passwd" and its path is absolute`},
		{name: "hard link to something not extracted", archive: "p.tar",
			entries: []archiveEntry{hardlink("h", "nothing")},
			want:    `refused entry "h": it is a hard link to "nothing", which is not a file extracted before it`},
		{name: "device file", archive: "p.tar",
			entries: []archiveEntry{{name: "dev/null", kind: tar.TypeChar}},
			want:    `refused entry "dev/null": it is a device file`},
		{name: "named pipe in a zip", archive: "p.zip",
			entries: []archiveEntry{{name: "pipe", kind: tar.TypeFifo}},
			want:    `refused entry "pipe": it is a named pipe`},
		{name: "zip bomb", archive: "bomb.zip",
			build: func(t *testing.T, path string) { writeZipBomb(t, path, 1<<30) },
			opts:  Options{MinBytesForRatio: 1 << 20},
			want:  `refused entry "zeros.bin": the package expands more than 200 times its compressed size`},
		{name: "more than the total size limit", archive: "p.tar.gz",
			entries: []archiveEntry{file("a", big), file("b", big)},
			opts:    Options{MaxTotalBytes: 100 << 10},
			want:    `refused entry "b": the package expands beyond the limit of 100.0 KiB`},
		{name: "too many entries", archive: "p.zip",
			entries: []archiveEntry{file("a", ""), file("b", ""), file("c", "")},
			opts:    Options{MaxFiles: 2},
			want:    `refused entry "c": the package has more than 2 entries`},
		{name: "truncated tar.gz", archive: "p.tar.gz",
			build: func(t *testing.T, path string) {
				writeArchive(t, path, file("a", big), file("b", big))
				truncate(t, path)
			},
			want: "the package is truncated or corrupt"},
		{name: "truncated zip", archive: "p.zip",
			build: func(t *testing.T, path string) {
				writeArchive(t, path, file("a", big), file("b", big))
				truncate(t, path)
			},
			want: "the package is truncated or not a zip file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			work := filepath.Join(dir, "work", "deep")
			if err := os.MkdirAll(work, 0o755); err != nil {
				t.Fatal(err)
			}
			archive := filepath.Join(dir, c.archive) // beside work: escapes would land in work
			if c.build != nil {
				c.build(t, archive)
			} else {
				writeArchive(t, archive, c.entries...)
			}
			dest := filepath.Join(work, "out")

			_, _, err := Extract(context.Background(), archive, dest, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			mustNotExist(t, dest)
			if got := tree(t, filepath.Join(dir, "work")); !slices.Equal(got, []string{"deep/"}) {
				t.Errorf("after the refusal the work folder holds %q", got)
			}
		})
	}
}

func TestExtractIntoAnExistingEmptyFolderButNotAFullOne(t *testing.T) {
	dir := t.TempDir()
	archive := writeArchive(t, filepath.Join(dir, "p.zip"), file("a.txt", "a"))
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	if _, _, err := Extract(context.Background(), archive, empty, Options{}); err != nil {
		t.Fatalf("empty folder: %v", err)
	}
	if _, _, err := Extract(context.Background(), archive, empty, Options{}); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Fatalf("full folder: %v", err)
	}
	if got := readFile(t, filepath.Join(empty, "a.txt")); got != "a" {
		t.Errorf("a full folder was changed: %q", got)
	}
}

func TestExtractLaterEntriesReplaceEarlierOnes(t *testing.T) {
	dir := t.TempDir()
	archive := writeArchive(t, filepath.Join(dir, "p.tar.gz"),
		file("target.txt", "target"),
		symlink("a", "target.txt"),
		file("a", "replaced the link, not written through it"),
		file("b", "first"),
		hardlink("c", "b"),
	)
	dest := filepath.Join(dir, "out")
	if _, _, err := Extract(context.Background(), archive, dest, Options{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"a: replaced the link, not written through it", "b: first", "c: first", "target.txt: target"}
	if got := tree(t, dest); !slices.Equal(got, want) {
		t.Errorf("extracted %q, want %q", got, want)
	}
}

func TestExtractStopsWhenCanceled(t *testing.T) {
	dir := t.TempDir()
	archive := writeArchive(t, filepath.Join(dir, "p.tar.gz"), file("a", "a"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dest := filepath.Join(dir, "out")
	if _, _, err := Extract(ctx, archive, dest, Options{}); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("error %v", err)
	}
	mustNotExist(t, dest)
}

func TestExtractRefusesUnknownFormats(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, filepath.Join(dir, "app.rar"), "x")
	if _, _, err := Extract(context.Background(), p, filepath.Join(dir, "out"), Options{}); err == nil || !strings.Contains(err.Error(), "unsupported package format") {
		t.Fatalf("error %v", err)
	}
	mustNotExist(t, filepath.Join(dir, "out"))
}

func TestExtractGivesZipsFromWindowsSensibleModes(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"folder/", "folder/file.txt"} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name}) // no Unix mode: "made by" MS-DOS
		if err != nil {
			t.Fatal(err)
		}
		w.Write(nil)
	}
	zw.Close()
	archive := filepath.Join(dir, "win.zip")
	os.WriteFile(archive, buf.Bytes(), 0o644)
	dest := filepath.Join(dir, "out")
	if _, _, err := Extract(context.Background(), archive, dest, Options{}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{"folder": 0o755, "folder/file.txt": 0o644} {
		if fi, _ := os.Stat(filepath.Join(dest, p)); fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
}

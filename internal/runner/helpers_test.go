package runner

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// archiveEntry describes one entry of a test archive.
type archiveEntry struct {
	name string
	body string
	mode fs.FileMode // permission bits; 0644 (files) or 0755 (folders) if zero
	kind byte        // tar type flag: 0 regular, tar.TypeDir, TypeSymlink, TypeLink, TypeChar, TypeFifo
	link string      // link target
}

func file(name, body string) archiveEntry { return archiveEntry{name: name, body: body} }
func executable(name, body string) archiveEntry {
	return archiveEntry{name: name, body: body, mode: 0o755}
}
func folder(name string) archiveEntry { return archiveEntry{name: name, kind: tar.TypeDir} }
func symlink(name, target string) archiveEntry {
	return archiveEntry{name: name, kind: tar.TypeSymlink, link: target}
}
func hardlink(name, target string) archiveEntry {
	return archiveEntry{name: name, kind: tar.TypeLink, link: target}
}

func (e archiveEntry) perm() fs.FileMode {
	switch {
	case e.mode != 0:
		return e.mode
	case e.kind == tar.TypeDir:
		return 0o755
	}
	return 0o644
}

var testTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// writeArchive writes entries to path in the format its extension names.
func writeArchive(t *testing.T, path string, entries ...archiveEntry) string {
	t.Helper()
	var buf bytes.Buffer
	lower := strings.ToLower(path)
	switch {
	case strings.HasSuffix(lower, ".zip"), strings.HasSuffix(lower, ".nupkg"):
		writeZip(t, &buf, entries)
	case strings.HasSuffix(lower, ".tar"):
		writeTar(t, &buf, entries)
	default:
		gz := gzip.NewWriter(&buf)
		writeTar(t, gz, entries)
		if err := gz.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeTar(t *testing.T, w interface{ Write([]byte) (int, error) }, entries []archiveEntry) {
	t.Helper()
	tw := tar.NewWriter(w)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: int64(e.perm()), ModTime: testTime, Typeflag: e.kind, Linkname: e.link}
		if e.kind == 0 {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if e.kind == 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeZip(t *testing.T, w interface{ Write([]byte) (int, error) }, entries []archiveEntry) {
	t.Helper()
	zw := zip.NewWriter(w)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: testTime}
		body := e.body
		switch e.kind {
		case tar.TypeDir:
			hdr.SetMode(fs.ModeDir | e.perm())
			if !strings.HasSuffix(hdr.Name, "/") {
				hdr.Name += "/"
			}
		case tar.TypeSymlink:
			hdr.SetMode(fs.ModeSymlink | 0o777)
			body = e.link
		case tar.TypeChar:
			hdr.SetMode(fs.ModeDevice | fs.ModeCharDevice | 0o644)
		case tar.TypeFifo:
			hdr.SetMode(fs.ModeNamedPipe | 0o644)
		default:
			hdr.SetMode(e.perm())
		}
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeZipBomb writes a zip holding one file of size zero bytes, built
// from one repeated deflate block so the test stays fast: deflating 1 MiB
// of zeros after zeros always gives the same bytes.
func writeZipBomb(t *testing.T, path string, size int64) {
	t.Helper()
	const chunk = 1 << 20
	zeros := make([]byte, chunk)
	var stream bytes.Buffer
	fw, _ := flate.NewWriter(&stream, flate.DefaultCompression)
	fw.Write(zeros)
	fw.Flush()
	first := stream.Len()
	fw.Write(zeros)
	fw.Flush()
	second := stream.Len()
	fw.Write(zeros)
	fw.Flush()
	repeat := append([]byte(nil), stream.Bytes()[first:second]...)
	if !bytes.Equal(repeat, stream.Bytes()[second:]) {
		t.Fatal("deflate blocks of zeros differ; the bomb needs another recipe")
	}
	fw.Close()
	tail := append([]byte(nil), stream.Bytes()[second+len(repeat):]...)

	var compressed bytes.Buffer
	compressed.Write(stream.Bytes()[:first])
	for i := int64(1); i < size/chunk; i++ {
		compressed.Write(repeat)
	}
	compressed.Write(tail)
	crc := uint32(0)
	for i := int64(0); i < size/chunk; i++ {
		crc = crc32.Update(crc, crc32.IEEETable, zeros)
	}

	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "zeros.bin", Method: zip.Deflate, CRC32: crc,
		CompressedSize64: uint64(compressed.Len()), UncompressedSize64: uint64(size)})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(compressed.Bytes())
	zw.Close()
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tree lists what is under dir: "path" for files (with content), "path/"
// for folders, "path -> target" for links.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+" -> "+target)
		case d.IsDir():
			out = append(out, rel+"/")
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+": "+string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustNotExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); err == nil {
		t.Errorf("%s exists, and it should not", path)
	}
}

func newTestOutput() (*output, *bytes.Buffer) {
	var b bytes.Buffer
	return newOutput(&b, &b), &b
}

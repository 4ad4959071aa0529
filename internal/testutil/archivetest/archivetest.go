// Package archivetest writes package archives for tests, malicious ones
// included: entries exactly as given, links and odd names and all.
package archivetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"testing"
)

// TarGz returns a .tar.gz of the entries; a regular entry's content is
// Size bytes of "x", and a zero Mode becomes 0755.
func TarGz(t testing.TB, entries ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, h := range entries {
		if h.Mode == 0 {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(bytes.Repeat([]byte("x"), int(h.Size))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A package step and a script's package reference made on the command line
// take their packages from an external feed; the release names the
// reference's version as STEP:REFERENCE:VERSION, and the deployment runs.
func TestStepsTakePackagesFromAFeedOnTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	for version, text := range map[string]string{"1.0.0": "one", "2.0.0": "two"} {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(text))})
		tw.Write([]byte(text))
		tw.Close()
		gz.Close()
		os.WriteFile(filepath.Join(dir, "app."+version+".tar.gz"), buf.Bytes(), 0o644)
	}
	files := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(files.Close)
	s := startCLIServer(t)
	s.ok("feed", "create", "Files", "--type", "http", "--url", files.URL)
	s.ok("environment", "create", "Dev")
	s.ok("project", "create", "web")
	s.ok("process", "step", "add", "-p", "web", "--name", "Install", "--package", "app", "--feed", "Files", "--acquisition", "target",
		"--script", `echo "installed $(cat hello.txt)"`)
	s.ok("process", "step", "add", "-p", "web", "--name", "Refs", "--package-ref", "name=tool,package=app,feed=Files,extract",
		"--script", `echo "tool $(cat '#{Octopus.Action.Package[tool].ExtractedPath}/hello.txt') #{Octopus.Action.Package[tool].PackageVersion}"`)
	s.fails("--package-ref gives a script step packages", "process", "step", "add", "-p", "web", "--name", "X", "--package", "app",
		"--package-ref", "name=a,package=b")
	s.fails(`"colour" is not a field`, "process", "step", "add", "-p", "web", "--name", "X", "--script", "true",
		"--package-ref", "name=a,package=b,colour=red")
	s.fails(`feed "Nope" does not exist`, "process", "step", "add", "-p", "web", "--name", "X", "--package", "app", "--feed", "Nope")

	s.ok("release", "create", "-p", "web", "--version", "1.0.0", "--package", "Refs:tool:1.0.0")
	out := s.ok("release", "deploy", "1.0.0", "-p", "web", "--environment", "Dev", "--watch")
	for _, want := range []string{"installed two", "tool one 1.0.0", "downloads package app 2.0.0 from feed Files itself"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the deployment's log lacks %q:\n%s", want, out)
		}
	}
}

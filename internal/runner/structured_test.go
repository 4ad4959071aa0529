package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStructuredPicksTheFormatAsOctopusDoes(t *testing.T) {
	root := t.TempDir()
	files := map[string]struct{ content, want string }{
		// JSON is tried first whatever the extension.
		"json-in.yml":    {`{"a": 1}`, `{"a": 2}`},
		"web.config":     {`<c><a>1</a></c>`, `<c><a>2</a></c>`},
		"app.yaml":       {"a: 1\n", "a: 2\n"},
		"app.properties": {"a=1\n", "a=2\n"},
		// An unknown extension: JSON, XML, YAML, then properties.
		"settings.conf":               {"a: 1\n", "a: 2\n"},
		"appsettings.Production.json": {`{"a": 1}`, `{"a": 2}`},
	}
	for name, f := range files {
		writeFile(t, filepath.Join(root, name), f.content)
	}
	vars := newVariableSet([]Variable{{Name: "a", Value: "#{Two}"}, {Name: "/c/a", Value: "2"}, {Name: "Two", Value: "2"}})
	out, log := newTestOutput()
	if err := replaceStructured(root, []string{"*"}, vars, out); err != nil {
		t.Fatal(err)
	}
	for name, f := range files {
		if got := readFile(t, filepath.Join(root, name)); got != f.want {
			t.Errorf("%s: got %q, want %q", name, got, f.want)
		}
	}
	for _, line := range []string{"Structured configuration: web.config (XML): replaced /c/a", "Structured configuration: settings.conf (YAML): replaced a"} {
		if !strings.Contains(log.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, log)
		}
	}
}

func TestStructuredLeavesUnmatchedFilesUntouchedAndFailsOnUnreadableOnes(t *testing.T) {
	root := t.TempDir()
	same := writeFile(t, filepath.Join(root, "same.json"), "{ \"b\" : 1 }")
	old := time.Now().Add(-time.Hour)
	os.Chtimes(same, old, old)
	vars := newVariableSet([]Variable{{Name: "a", Value: "2"}})
	out, log := newTestOutput()
	if err := replaceStructured(root, []string{"same.json", "missing/*.json"}, vars, out); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(same); !fi.ModTime().Equal(old) || readFile(t, same) != "{ \"b\" : 1 }" {
		t.Error("a file no variable matched was rewritten")
	}
	if !strings.Contains(log.String(), `no files match the structured configuration pattern "missing/*.json"`) {
		t.Errorf("no warning:\n%s", log)
	}

	writeFile(t, filepath.Join(root, "broken.json"), `{"a": }`)
	err := replaceStructured(root, []string{"broken.json"}, vars, out)
	if err == nil || err.Error() != `broken.json could not be parsed as JSON: line 1, column 7: unexpected '}'` {
		t.Fatalf("error %v", err)
	}
}

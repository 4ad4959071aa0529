package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSubstituteRendersMatchingFilesAndLeavesOthersAlone(t *testing.T) {
	root := t.TempDir()
	vars := newVariableSet([]Variable{
		{Name: "Database.Host", Value: "db.prod"},
		{Name: "name", Value: "web"},
		{Name: "Port", Value: "#{BasePort}1"}, // values are templates too
		{Name: "BasePort", Value: "808"},
	})
	config := writeFile(t, filepath.Join(root, "config/app.config"),
		"\uFEFF<add key=\"db\" value=\"#{database.host}\"/>\n<add key=\"name\" value=\"#{Name | ToUpper}\"/>\nport=#{Port} #{Undefined}\n")
	os.Chmod(config, 0o640)
	untouched := writeFile(t, filepath.Join(root, "config/other.txt"), "keep #{Name}")
	old := time.Now().Add(-time.Hour)
	os.Chtimes(untouched, old, old)
	out, log := newTestOutput()

	if err := substituteFiles(root, []string{"**/*.config", "*.json"}, vars, out); err != nil {
		t.Fatal(err)
	}
	want := "\uFEFF<add key=\"db\" value=\"db.prod\"/>\n<add key=\"name\" value=\"WEB\"/>\nport=8081 #{Undefined}\n"
	if got := readFile(t, config); got != want {
		t.Errorf("rendered\n%q\nwant\n%q", got, want)
	}
	if fi, _ := os.Stat(config); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if got := readFile(t, untouched); got != "keep #{Name}" {
		t.Errorf("a file no pattern matches was changed: %q", got)
	}
	if fi, _ := os.Stat(untouched); !fi.ModTime().Equal(old) {
		t.Error("a file no pattern matches was rewritten")
	}
	for _, line := range []string{"Substituted variables in config/app.config", `Warning: no files match the substitution pattern "*.json"`} {
		if !strings.Contains(log.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, log)
		}
	}
}

func TestSubstituteTemplateErrorNamesFileLineAndColumn(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "a.config"), "fine #{Name}\nbad: #{Name | NoSuchFilter}\n")
	out, _ := newTestOutput()
	err := substituteFiles(root, []string{"*.config"}, newVariableSet([]Variable{{Name: "Name", Value: "x"}}), out)
	if err == nil || !strings.HasPrefix(err.Error(), "a.config:2:15: unknown filter ") {
		t.Fatalf("error %v, want one starting with a.config:2:15 (the filter)", err)
	}
	if got := readFile(t, filepath.Join(root, "a.config")); !strings.Contains(got, "#{Name}") {
		t.Errorf("a file that failed was changed: %q", got)
	}
}

func TestSubstituteSkipsBinaryFiles(t *testing.T) {
	root := t.TempDir()
	bin := writeFile(t, filepath.Join(root, "a.dat"), "#{Name}\x00\x01")
	out, log := newTestOutput()
	if err := substituteFiles(root, []string{"*.dat"}, newVariableSet([]Variable{{Name: "Name", Value: "x"}}), out); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, bin); got != "#{Name}\x00\x01" {
		t.Errorf("binary file changed: %q", got)
	}
	if !strings.Contains(log.String(), "a.dat looks like a binary file") {
		t.Errorf("no warning: %s", log)
	}
}

package runner

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunScriptPackage(t *testing.T) {
	tests := []struct {
		name      string
		entries   []archiveEntry
		file      string
		syntax    string
		arguments string
		python    bool
		substi    []string
		wantOut   []string
		wantErr   string
	}{
		{name: "a bash script in a folder, with arguments the shell splits",
			entries: []archiveEntry{file("scripts/migrate.sh", `echo "args: $# [$1] [$2]"; echo "greeting $(greet)"; cat settings.conf`), file("settings.conf", "url=#{Url}")},
			file:    "scripts/migrate.sh", arguments: `--to 'version 2'`, substi: []string{"*.conf"},
			wantOut: []string{"args: 2 [--to] [version 2]", "greeting hello", "url=https://prod.example.com", "Substituted variables in settings.conf"}},
		{name: "a script that runs in the extracted folder",
			entries: []archiveEntry{file("run.sh", `ls; echo "in $(basename "$PULPO_EXTRACTED_DIR")"`), file("data.txt", "x")},
			file:    "run.sh", wantOut: []string{"data.txt", "in package"}},
		{name: "sh takes arguments too",
			entries: []archiveEntry{file("run.sh", `echo "first [$1]"`)},
			file:    "run.sh", syntax: SyntaxSh, arguments: "one two", wantOut: []string{"first [one]"}},
		{name: "a python script with arguments", python: true,
			entries: []archiveEntry{file("tools/check.py", "import sys\nprint('py', sys.argv[1:])\n")},
			file:    "tools/check.py", arguments: `a "b c"`, wantOut: []string{"py ['a', 'b c']"}},
		{name: "a failing script fails the run",
			entries: []archiveEntry{file("run.sh", "echo before; exit 7")},
			file:    "run.sh", wantOut: []string{"before"}, wantErr: "run.sh exited with code 7"},
		{name: "a file the package does not have",
			entries: []archiveEntry{file("run.sh", "true")},
			file:    "other.sh", wantErr: "has no script other.sh"},
		{name: "a script that is a folder",
			entries: []archiveEntry{folder("run.sh/")},
			file:    "run.sh", wantErr: "is not a regular file"},
		{name: "a package with an entry out of the folder is refused",
			entries: []archiveEntry{file("../evil.sh", "true"), file("run.sh", "true")},
			file:    "run.sh", wantErr: `refused entry "../evil.sh"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.python {
				if _, err := exec.LookPath("python3"); err != nil {
					t.Skip("python3 is not installed") // CI machines have it
				}
			}
			f := newFixture(t)
			pkg := f.pkg(t, "1.0.0", tt.entries...)
			work := t.TempDir()
			base := f.manifest(pkg, "1.0.0")
			m := ScriptManifest{Package: base.Package, File: tt.file, Syntax: tt.syntax, Arguments: tt.arguments,
				ExtractTo: filepath.Join(work, "package"), Variables: base.Variables,
				Bootstrap: "greet() { echo hello; }\n", SubstituteFiles: tt.substi}
			var stdout, stderr bytes.Buffer
			err := RunScriptPackage(context.Background(), m, Options{}, &stdout, &stderr)
			for _, want := range tt.wantOut {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("output lacks %q:\n%s\n%s", want, stdout.String(), stderr.String())
				}
			}
			if tt.wantErr == "" && err != nil {
				t.Fatalf("%v\n%s\n%s", err, stdout.String(), stderr.String())
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("got %v, want an error with %q", err, tt.wantErr)
			}
			if strings.HasPrefix(tt.wantErr, "refused") {
				mustNotExist(t, m.ExtractTo)
			}
		})
	}
}

func TestScriptManifestValidation(t *testing.T) {
	ok := ScriptManifest{Package: PackageFile{Path: "/cache/tools.zip", ID: "tools", Version: "1.0.0"}, File: "run.sh", ExtractTo: "/work/package"}
	tests := []struct {
		name   string
		change func(*ScriptManifest)
		want   string
	}{
		{"relative package path", func(m *ScriptManifest) { m.Package.Path = "tools.zip" }, "package.path must be an absolute path"},
		{"no extraction folder", func(m *ScriptManifest) { m.ExtractTo = "" }, "extractTo is required"},
		{"file outside the package", func(m *ScriptManifest) { m.File = "../run.sh" }, "must be a path inside the package"},
		{"unknown kind of file", func(m *ScriptManifest) { m.File = "run.rb" }, "must end in .sh or .py"},
		{"unknown syntax", func(m *ScriptManifest) { m.Syntax = "zsh" }, `syntax "zsh" is not supported`},
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.change(&m)
			if err := m.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

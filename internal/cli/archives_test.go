package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestArchivePasswordSources(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("from the file\r\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	for _, tc := range []struct {
		name  string
		flags passwordFlags
		stdin string
		env   string
		want  string
		err   string
	}{
		{name: "file, first line", flags: passwordFlags{file: file}, env: "from env", want: "from the file"},
		{name: "stdin", flags: passwordFlags{stdin: true}, stdin: "from stdin\n", env: "from env", want: "from stdin"},
		{name: "stdin without newline", flags: passwordFlags{stdin: true}, stdin: "no newline", want: "no newline"},
		{name: "environment", env: "from env", want: "from env"},
		{name: "nothing", err: "PULPO_ARCHIVE_PASSWORD"},
		{name: "both flags", flags: passwordFlags{file: file, stdin: true}, err: "one way"},
		{name: "empty file", flags: passwordFlags{file: empty}, err: "is empty"},
		{name: "missing file", flags: passwordFlags{file: file + ".nope"}, err: "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &app{getenv: func(k string) string {
				if k == archivePasswordEnv {
					return tc.env
				}
				return ""
			}}
			cmd := &cobra.Command{}
			cmd.SetIn(strings.NewReader(tc.stdin))
			got, err := tc.flags.read(a, cmd)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

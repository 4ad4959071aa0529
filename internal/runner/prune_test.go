package runner

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestPruneRunnersRemovesOnlyOldRunnersBesideARunnerTheServerSent(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		dir  string // the running binary's folder
		exe  string
		want []string
	}{
		{name: "a sent runner removes old sent runners", dir: "runners", exe: "pulpo-new",
			want: []string{".pulpo-x.partial-1", "notes.txt", "pulpo-fresh", "pulpo-new"}},
		{name: "an agent's own binary removes nothing", dir: "bin", exe: "pulpo-new",
			want: []string{".pulpo-x.partial-1", "notes.txt", "pulpo-fresh", "pulpo-new", "pulpo-old"}},
		{name: "a binary not named as sent removes nothing", dir: "runners", exe: "pulpo",
			want: []string{".pulpo-x.partial-1", "notes.txt", "pulpo", "pulpo-fresh", "pulpo-old"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tt.dir)
			os.MkdirAll(dir, 0o755)
			ages := map[string]time.Duration{tt.exe: 48 * time.Hour, "pulpo-old": 48 * time.Hour, "pulpo-fresh": time.Hour,
				".pulpo-x.partial-1": 48 * time.Hour, "notes.txt": 48 * time.Hour}
			for name, age := range ages {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(name), 0o755); err != nil {
					t.Fatal(err)
				}
				os.Chtimes(p, now.Add(-age), now.Add(-age))
			}
			pruneRunnersBeside(filepath.Join(dir, tt.exe), now.Add(-runnerKeep), io.Discard)
			entries, _ := os.ReadDir(dir)
			var got []string
			for _, e := range entries {
				got = append(got, e.Name())
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("left %v, want %v", got, tt.want)
			}
		})
	}
}

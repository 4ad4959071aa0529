package runner

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// runnersDir is the folder of a target's home where the server puts the
// runner binaries it sends, each named pulpo-<hash prefix>.
const runnersDir = "runners"

// pruneRunners removes the runners other server versions sent, once a
// runner of another version runs from the same folder. Only those that
// arrived a day ago or more go: while two versions of the server share
// targets (during an upgrade of several nodes), each keeps the runner it
// has just sent. A deployment still running an old one is not disturbed
// either: its process keeps the file it started from.
func pruneRunners(stderr io.Writer) {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	pruneRunnersBeside(exe, time.Now().Add(-runnerKeep), stderr)
}

// runnerKeep is how long a runner that is not the one running stays.
const runnerKeep = 24 * time.Hour

func pruneRunnersBeside(exe string, before time.Time, stderr io.Writer) {
	dir := filepath.Dir(exe)
	if filepath.Base(dir) != runnersDir || !strings.HasPrefix(filepath.Base(exe), "pulpo-") {
		return // not a runner the server sent
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Name() == filepath.Base(exe) || !strings.HasPrefix(e.Name(), "pulpo-") || !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err != nil || !info.ModTime().Before(before) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			fmt.Fprintf(stderr, "could not remove the old runner %s: %v\n", e.Name(), err)
		}
	}
}

package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// pythonArgs are python3's arguments that run a Python script: through the
// server's Python bootstrap when there is one, with the values the runner
// defined so far (the installation folder) in a file the bootstrap reads.
func (s *scripts) pythonArgs(sc script) ([]string, error) {
	if s.pythonBootstrap == "" {
		return []string{"-u", sc.path}, nil
	}
	boot := filepath.Join(s.tempDir, "bootstrap.py")
	if _, err := os.Stat(boot); err != nil {
		if err := os.WriteFile(boot, []byte(s.pythonBootstrap), 0o600); err != nil {
			return nil, fmt.Errorf("write Python bootstrap: %w", err)
		}
	}
	args := []string{"-u", boot}
	if len(s.defined) > 0 {
		b, err := json.Marshal(s.defined)
		if err != nil {
			return nil, err
		}
		// Written for each script: the values grow between stages.
		f := filepath.Join(s.tempDir, "defined-"+filepath.Base(sc.path)+".json")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			return nil, fmt.Errorf("write values for %s: %w", sc.label, err)
		}
		args = append(args, "--pulpo-defined", f)
	}
	return append(args, sc.path), nil
}

package scriptsvc

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

const syntaxPython = "python"

// preparePython writes a Python script, its modules beside it and its
// bootstrap. The bootstrap (the server's, see engine.pythonBootstrap) is the
// program python3 runs: it defines the functions and then runs script.py in
// the same globals, compiled under its own name so tracebacks show its lines.
func preparePython(dir string, cmd contract.StartScriptCommand) error {
	const script = "script.py"
	if err := os.WriteFile(filepath.Join(dir, script), []byte(cmd.Body), 0o600); err != nil {
		return fmt.Errorf("write script: %w", err)
	}
	for name, body := range cmd.Modules {
		if err := os.WriteFile(filepath.Join(dir, name+".py"), []byte(body), 0o600); err != nil {
			return fmt.Errorf("write script module %s: %w", name, err)
		}
	}
	c := command{Syntax: syntaxPython, ScriptFile: script, TaskID: cmd.TaskID, Isolated: cmd.Isolated}
	if cmd.Bootstrap != "" {
		c.ScriptFile, c.Script = "bootstrap.py", script
		if err := os.WriteFile(filepath.Join(dir, c.ScriptFile), []byte(cmd.Bootstrap), 0o600); err != nil {
			return fmt.Errorf("write script bootstrap: %w", err)
		}
	}
	return writeCommand(dir, c)
}

// pythonNotFound says a target cannot run Python scripts.
func pythonNotFound() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "this machine"
	}
	return fmt.Sprintf("python3 is not on PATH on %s, so the Python script cannot run", host)
}

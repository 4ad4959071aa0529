package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// The deployment stages with scripts, named as Octopus names the files.
const (
	stagePreDeploy    = "PreDeploy"
	stageDeploy       = "Deploy"
	stagePostDeploy   = "PostDeploy"
	stageDeployFailed = "DeployFailed"
)

// skipRemainingVariable, set by a script, ends the deployment successfully
// after that script, as in Octopus.
const skipRemainingVariable = "Octopus.Action.SkipRemainingConventions"

// scriptStopGrace is how long a canceled script has between SIGTERM and
// SIGKILL: less than the supervisor gives this process (10 s), so the
// scripts are gone before it is.
const scriptStopGrace = 8 * time.Second

// scriptOutputGrace is how long output is still read after a script ends,
// from processes it left running with its stdout (a daemon started with &
// and no redirection); then the pipes are closed.
const scriptOutputGrace = 2 * time.Second

// scripts runs a deployment's scripts.
type scripts struct {
	out             *output
	bootstrap       string
	pythonBootstrap string
	tempDir         string // private folder for wrappers, bootstrap and inline bodies
	python          string
	packageRuns     bool
	inline          InlineScripts
	// skipRemaining is set from the output goroutines of a script.
	skipRemaining atomic.Bool
	// defined are values the runner learned (the installation folder, the
	// previous installation), given to scripts' get_octopusvariable.
	defined [][2]string
}

// define adds a value for get_octopusvariable in later scripts.
func (s *scripts) define(name, value string) {
	s.defined = append(s.defined, [2]string{name, value})
}

// script is one script to run.
type script struct {
	label  string // for messages: "Deploy.sh" or "inline Deploy script"
	path   string
	syntax string
	// args are appended to the command line as written: the shell splits them.
	args string
}

// runStage runs a stage's scripts in dir: the package's (PreDeploy.sh, or
// PreDeploy.py if there is no .sh; names ignore case, as Calamari) and the
// step's inline one. Calamari runs an inline PreDeploy before the
// package's, and the package's first for the other stages; so does this.
func (s *scripts) runStage(ctx context.Context, stage, dir string, env []string) error {
	var list []script
	var pkg *script
	if s.packageRuns {
		found, err := s.packageScript(stage, dir)
		if err != nil {
			return err
		}
		pkg = found
	}
	var inline *script
	if body := s.inline.byStage()[stage]; body != nil && strings.TrimSpace(body.Body) != "" {
		found, err := s.inlineScript(stage, body)
		if err != nil {
			return err
		}
		inline = found
	}
	if stage == stagePreDeploy {
		list = appendScripts(list, inline, pkg)
	} else {
		list = appendScripts(list, pkg, inline)
	}
	stageEnv := append(append([]string(nil), env...), "PULPO_DEPLOY_STAGE="+stage)
	for _, sc := range list {
		if err := s.run(ctx, sc, dir, stageEnv); err != nil {
			return err
		}
		if s.skipRemaining.Load() {
			return nil
		}
	}
	return nil
}

func appendScripts(list []script, scripts ...*script) []script {
	for _, s := range scripts {
		if s != nil {
			list = append(list, *s)
		}
	}
	return list
}

// packageScript finds the stage's script at the root of dir.
func (s *scripts) packageScript(stage, dir string) (*script, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("look for %s scripts: %w", stage, err)
	}
	var sh, py []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		switch name := e.Name(); {
		case strings.EqualFold(name, stage+".sh"):
			sh = append(sh, name)
		case strings.EqualFold(name, stage+".py"):
			py = append(py, name)
		}
	}
	sort.Strings(sh)
	sort.Strings(py)
	switch {
	case len(sh) > 0:
		return &script{label: sh[0], path: filepath.Join(dir, sh[0]), syntax: SyntaxBash}, nil
	case len(py) > 0:
		return &script{label: py[0], path: filepath.Join(dir, py[0]), syntax: SyntaxPython}, nil
	}
	return nil, nil
}

// inlineScript writes the step's script for stage into the private folder.
func (s *scripts) inlineScript(stage string, body *InlineScript) (*script, error) {
	syntax := body.Syntax
	if syntax == "" {
		syntax = SyntaxBash
	}
	ext := ".sh"
	if syntax == SyntaxPython {
		ext = ".py"
	}
	p := filepath.Join(s.tempDir, "inline-"+stage+ext)
	if err := os.WriteFile(p, []byte(body.Body), 0o700); err != nil {
		return nil, fmt.Errorf("write inline %s script: %w", stage, err)
	}
	return &script{label: "inline " + stage + " script", path: p, syntax: syntax}, nil
}

// run runs one script with dir as working directory. A bash or sh script is
// started through a small wrapper that sources the bootstrap and then the
// script, so the script's functions are there and its own line numbers
// appear in errors ("Deploy.sh: line 3: …"). A Python script is run by
// the Python bootstrap, which defines the functions and then runs it in
// the same globals under its own file name.
func (s *scripts) run(ctx context.Context, sc script, dir string, env []string) error {
	var cmd *exec.Cmd
	switch {
	case sc.syntax == SyntaxPython:
		python, err := s.pythonPath()
		if err != nil {
			return fmt.Errorf("%s: %w", sc.label, err)
		}
		args, err := s.pythonArgs(sc)
		if err != nil {
			return err
		}
		if sc.args != "" {
			// The shell splits the arguments, as it does for shell scripts.
			line := "exec " + shellQuote(python)
			for _, a := range args {
				line += " " + shellQuote(a)
			}
			cmd = exec.CommandContext(ctx, "bash", "-c", line+" "+sc.args)
		} else {
			cmd = exec.CommandContext(ctx, python, args...)
		}
		env = append(env[:len(env):len(env)], "PYTHONUNBUFFERED=1")
	default:
		interpreter := "bash"
		if sc.syntax == SyntaxSh {
			interpreter = "sh"
		}
		wrapper, err := s.wrapper(sc)
		if err != nil {
			return err
		}
		cmd = exec.CommandContext(ctx, interpreter, wrapper)
	}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	// The script gets a process group of its own, so stopping it stops what
	// it started too: SIGTERM to the group when ctx ends (Main ends it on
	// the SIGTERM the supervisor sends), SIGKILL after a grace period.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var kill *time.Timer
	cmd.Cancel = func() error {
		group := cmd.Process.Pid
		kill = time.AfterFunc(scriptStopGrace, func() { syscall.Kill(-group, syscall.SIGKILL) })
		return syscall.Kill(-group, syscall.SIGTERM)
	}
	cmd.WaitDelay = scriptOutputGrace
	watch := func(line string) {
		if name, value, ok := parseSetVariable(line); ok && strings.EqualFold(name, skipRemainingVariable) && strings.EqualFold(strings.TrimSpace(value), "true") {
			s.skipRemaining.Store(true)
		}
	}
	stdout := &lineWriter{out: s.out, w: s.out.stdout, onLine: watch}
	stderr := &lineWriter{out: s.out, w: s.out.stderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	s.out.Infof("Running %s", sc.label)
	started := time.Now()
	err := cmd.Run()
	stdout.Flush()
	stderr.Flush()
	if kill != nil && syscall.Kill(-cmd.Process.Pid, 0) != nil {
		kill.Stop() // the group is gone; never signal a reused id
	}
	if errors.Is(err, exec.ErrWaitDelay) && ctx.Err() == nil {
		s.out.Warnf("%s left processes writing to its output; their output is no longer shown (redirect the output of background processes)", sc.label)
		err = nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s was stopped: %w", sc.label, context.Cause(ctx))
		}
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("%s exited with code %d", sc.label, exit.ExitCode())
		}
		return fmt.Errorf("run %s: %w", sc.label, err)
	}
	s.out.Infof("%s finished in %s", sc.label, time.Since(started).Round(time.Millisecond))
	return nil
}

// wrapper writes the file bash or sh runs for sc.
func (s *scripts) wrapper(sc script) (string, error) {
	var b strings.Builder
	b.WriteString("# Written by pulpo run-package: the bootstrap, then the script.\n")
	if strings.TrimSpace(s.bootstrap) != "" {
		bootstrap := filepath.Join(s.tempDir, "bootstrap.sh")
		if _, err := os.Stat(bootstrap); err != nil {
			if err := os.WriteFile(bootstrap, []byte(s.bootstrap), 0o600); err != nil {
				return "", fmt.Errorf("write bootstrap: %w", err)
			}
		}
		fmt.Fprintf(&b, ". %s || exit $?\n", shellQuote(bootstrap))
		// The server's bash bootstrap offers __pulpo_define for values
		// only the runner knows.
		if sc.syntax == SyntaxBash && len(s.defined) > 0 {
			b.WriteString("if declare -F __pulpo_define >/dev/null; then\n")
			for _, d := range s.defined {
				fmt.Fprintf(&b, "  __pulpo_define %s %s\n", shellQuote(d[0]), shellQuote(d[1]))
			}
			b.WriteString("fi\n")
		}
	}
	if sc.args != "" {
		// "set --" rather than ". FILE ARGS": sh does not pass arguments
		// to a sourced file.
		fmt.Fprintf(&b, "set -- %s\n", sc.args)
	}
	fmt.Fprintf(&b, ". %s\n", shellQuote(sc.path))
	p := filepath.Join(s.tempDir, "run-"+filepath.Base(sc.path))
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("write wrapper for %s: %w", sc.label, err)
	}
	return p, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (s *scripts) pythonPath() (string, error) {
	if s.python != "" {
		return s.python, nil
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		host, herr := os.Hostname()
		if herr != nil || host == "" {
			host = "this machine"
		}
		return "", fmt.Errorf("python3 is not on PATH on %s, so the Python script cannot run", host)
	}
	s.python = p
	return p, nil
}

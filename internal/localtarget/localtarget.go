// Package localtarget is a target whose services run in this process: the
// server's built-in worker, and the serving side of agents and SSH remote
// runners, which expose the same services over the wire.
package localtarget

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/filesvc"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
)

// Target runs scripts and keeps files on this machine.
type Target struct {
	TargetName string
	ScriptSvc  *scriptsvc.Service
	FileSvc    *filesvc.Service
	Version    string

	runnerOnce sync.Once
	runnerSum  string
}

var _ contract.Target = (*Target)(nil)

// New makes a target whose workspaces are in home/work and whose relative
// file paths are under home.
func New(name, home, version string, opts scriptsvc.Options) (*Target, error) {
	files, err := filesvc.New(home)
	if err != nil {
		return nil, err
	}
	scripts, err := scriptsvc.New(files.Home+"/work", opts)
	if err != nil {
		return nil, err
	}
	return &Target{TargetName: name, ScriptSvc: scripts, FileSvc: files, Version: version}, nil
}

// Name is shown in task logs.
func (t *Target) Name() string { return t.TargetName }

// Scripts returns the script service.
func (t *Target) Scripts() contract.ScriptService { return t.ScriptSvc }

// Files returns the file service.
func (t *Target) Files() contract.FileService { return t.FileSvc }

// Capabilities describes this machine.
func (t *Target) Capabilities(context.Context) (contract.Capabilities, error) {
	return contract.Capabilities{
		Services: []string{contract.ServiceScripts, contract.ServiceFiles},
		Version:  t.Version, OS: runtime.GOOS, Arch: runtime.GOARCH, Home: t.FileSvc.Home,
		RunnerSHA256: t.runnerSHA256(),
	}, nil
}

// runnerSHA256 hashes the runner binary once; the binary of a running
// process does not change under it. Empty when it cannot be read, which
// makes the server send its own.
func (t *Target) runnerSHA256() string {
	t.runnerOnce.Do(func() {
		f, err := os.Open(t.ScriptSvc.RunnerPath())
		if err != nil {
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err == nil {
			t.runnerSum = hex.EncodeToString(h.Sum(nil))
		}
	})
	return t.runnerSum
}

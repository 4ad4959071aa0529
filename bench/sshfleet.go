package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/testutil/sshdtest"
)

// sshFleet is N real sshd processes on loopback ports standing for N
// hosts, for the peers (Ansible, ssh, rsync) and Pulpo's SSH targets. Each
// host gets a folder of its own under dir/hosts, since they share one
// filesystem.
type sshFleet struct {
	dir   string
	hosts []*sshdtest.Server
	// keys are the client's private key for each host, for ssh -i.
	keys []string
	// KnownHosts pins every host's key, so no peer runs with checking off.
	KnownHosts string
}

func startSSHFleet(dir string, n int) (*sshFleet, error) {
	f := &sshFleet{dir: dir}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var known strings.Builder
	for i := 0; i < n; i++ {
		s, err := sshdtest.Launch(filepath.Join(dir, fmt.Sprintf("sshd-%d", i)))
		if err != nil {
			f.stop()
			return nil, fmt.Errorf("start sshd %d of %d: %w", i+1, n, err)
		}
		f.hosts = append(f.hosts, s)
		if err := os.MkdirAll(f.HostDir(i), 0o755); err != nil {
			f.stop()
			return nil, err
		}
		fmt.Fprintf(&known, "[127.0.0.1]:%d %s\n", s.Port, s.HostPublicKey)
		key := filepath.Join(dir, fmt.Sprintf("client_key_%d", i))
		if err := os.WriteFile(key, s.ClientKeyPEM, 0o600); err != nil {
			f.stop()
			return nil, err
		}
		f.keys = append(f.keys, key)
	}
	f.KnownHosts = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(f.KnownHosts, []byte(known.String()), 0o600); err != nil {
		f.stop()
		return nil, err
	}
	return f, nil
}

// HostDir is host i's own folder.
func (f *sshFleet) HostDir(i int) string { return filepath.Join(f.dir, "hosts", strconv.Itoa(i)) }

// Port is host i's sshd port.
func (f *sshFleet) Port(i int) int { return f.hosts[i].Port }

// User is who the hosts let in.
func (f *sshFleet) User() string { return f.hosts[0].User }

// KeyFile is the private key host i lets in.
func (f *sshFleet) KeyFile(i int) string { return f.keys[i] }

// SSHArgs are ssh options that reach host i with its key and pinned host
// key (add ControlMaster options for multiplexing).
func (f *sshFleet) SSHArgs(i int) []string {
	return []string{"-p", strconv.Itoa(f.Port(i)), "-i", f.keys[i], "-o", "UserKnownHostsFile=" + f.KnownHosts,
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"}
}

func (f *sshFleet) stop() {
	for _, h := range f.hosts {
		h.Stop()
	}
}

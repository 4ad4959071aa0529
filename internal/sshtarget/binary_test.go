package sshtarget_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

// remoteBinaryName is what the binary is called on the machine.
func remoteBinaryName(t *testing.T) string {
	t.Helper()
	f, err := os.Open(pulpoBinary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return "pulpo-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// binDir lists the machine's bin folder and returns the inode of the binary.
func binDir(t *testing.T, home string) ([]string, uint64) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(home, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	fi, err := os.Stat(filepath.Join(home, "bin", remoteBinaryName(t)))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("the binary's mode is %v, want 0755", fi.Mode().Perm())
	}
	return names, fi.Sys().(*syscall.Stat_t).Ino
}

func TestTheBinaryIsSentOnceAndReportsTheMachine(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	caps, err := m.target(t).Capabilities(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	want := contract.Capabilities{Services: []string{contract.ServiceScripts, contract.ServiceFiles},
		Version: builtVersion, OS: "linux", Arch: "amd64", Home: m.home}
	if !slices.Equal(caps.Services, want.Services) || caps.Version != want.Version || caps.OS != want.OS || caps.Arch != want.Arch || caps.Home != want.Home {
		t.Errorf("capabilities %+v, want %+v", caps, want)
	}
	names, inode := binDir(t, m.home)
	if !slices.Equal(names, []string{remoteBinaryName(t)}) {
		t.Fatalf("bin holds %q, want just %s", names, remoteBinaryName(t))
	}

	// A second target on the same home finds the binary and sends nothing.
	if _, err := m.target(t).Capabilities(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if names2, inode2 := binDir(t, m.home); inode2 != inode || !slices.Equal(names2, names) {
		t.Errorf("the binary was replaced: bin holds %q, inode %d, was %d", names2, inode2, inode)
	}
}

func TestARemovedBinaryIsSentAgain(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	tg := m.target(t)
	if _, err := tg.Capabilities(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(m.home, "bin", remoteBinaryName(t))); err != nil {
		t.Fatal(err)
	}
	// The running process does not need the file; a new one does.
	killRemoteServe(t, m.home)
	if _, err := tg.Capabilities(testContext(t)); err != nil {
		t.Fatalf("the call after the binary vanished: %v", err)
	}
	binDir(t, m.home)
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

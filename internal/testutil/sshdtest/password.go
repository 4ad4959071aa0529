package sshdtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StartWithPassword runs an sshd that lets in one user by password alone
// (no key, no other user), and stops it when t ends. The user is a
// throwaway one made for t with a random name and password, and deleted
// with its home and processes at the end: a password login needs an
// account whose password sshd can check, and the current user's must not
// be touched. Making users takes root, so elsewhere the test skips, except
// under CI=true, where it fails.
func StartWithPassword(t testing.TB) *Server {
	t.Helper()
	if _, err := findSSHD(); err != nil {
		missing(t, err)
	}
	if os.Geteuid() != 0 {
		missing(t, errors.New("a password login needs a throwaway user, and making one needs root"))
	}
	for _, tool := range []string{"useradd", "chpasswd", "userdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, fmt.Errorf("a password login needs a throwaway user: %w", err))
		}
	}
	name, password, err := addUser()
	if err != nil {
		t.Fatal(err)
	}
	// Registered before sshd's own cleanup, so it runs after sshd stopped
	// and no new session can start under the user.
	t.Cleanup(func() {
		if err := deleteUser(name); err != nil {
			t.Errorf("delete the throwaway user: %v", err)
		}
	})
	s, err := launch(&Server{dir: t.TempDir(), User: name, Password: password, passwordLogin: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// addUser makes a user with a home, a shell and a password, both random.
func addUser() (name, password string, err error) {
	var b [12]byte
	rand.Read(b[:])
	// Short enough for every useradd (32 characters at most), unique per run.
	name, password = "pulpo-t"+hex.EncodeToString(b[:4]), hex.EncodeToString(b[4:])
	shell := "/bin/bash"
	if _, err := os.Stat(shell); err != nil {
		shell = "/bin/sh"
	}
	if out, err := exec.Command("useradd", "--create-home", "--shell", shell, name).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("useradd %s: %w: %s", name, err, out)
	}
	// chpasswd puts the hash in /etc/shadow, where sshd (without PAM) checks it.
	chpasswd := exec.Command("chpasswd")
	chpasswd.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := chpasswd.CombinedOutput(); err != nil {
		deleteUser(name)
		return "", "", fmt.Errorf("set the password of %s: %w: %s", name, err, out)
	}
	return name, password, nil
}

// deleteUser ends the user's processes (script supervisors may outlive the
// SSH session: that is their job) and removes the user and its home.
func deleteUser(name string) error {
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		return fmt.Errorf("id -u %s: %w", name, err)
	}
	uid := strings.TrimSpace(string(out))
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := processesOf(uid)
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v of %s do not end", pids, name)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out, err := exec.Command("userdel", "--remove", name).CombinedOutput(); err != nil {
		return fmt.Errorf("userdel --remove %s: %w: %s", name, err, out)
	}
	return nil
}

// processesOf lists the live processes whose real user id is uid (zombies
// excluded: they run no more, and their parent reaps them).
func processesOf(uid string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		var state, realUID string
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "State:"); ok {
				state = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "Uid:"); ok {
				if f := strings.Fields(v); len(f) > 0 {
					realUID = f[0]
				}
			}
		}
		if realUID == uid && !strings.HasPrefix(state, "Z") {
			pids = append(pids, pid)
		}
	}
	return pids
}

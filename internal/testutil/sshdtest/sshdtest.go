// Package sshdtest runs a throwaway OpenSSH server for tests: its own host
// key, client key and configuration in a temporary folder, listening on a
// free loopback port, stopped at the end of the test. Where sshd is
// missing, tests skip, except under CI=true, where they fail, so nothing
// is silently left out.
package sshdtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Server is a running sshd that accepts one user with one key or, started
// by StartWithPassword, with one password.
type Server struct {
	// Port is where it listens, on 127.0.0.1.
	Port int
	// User is the current user, whom it lets in; with a password, the
	// throwaway user made for it.
	User string
	// ClientKeyPEM is the private key it accepts, in OpenSSH form; nil
	// with a password, when it accepts no key.
	ClientKeyPEM []byte
	// Password is the password it accepts for User, when started by
	// StartWithPassword.
	Password string
	// HostKeyFingerprint is its ed25519 host key's, as ssh-keygen -l prints
	// it. Like a stock server it also has an ECDSA host key, which clients
	// that prefer ECDSA (the Go library by default) would be shown instead.
	HostKeyFingerprint string
	// HostPublicKey is that ed25519 host key in authorized_keys form
	// ("ssh-ed25519 AAAA…"), for a known_hosts line.
	HostPublicKey string

	sshd string
	dir  string
	// passwordLogin turns public keys off and passwords on, for User alone.
	passwordLogin bool
	cmd           *exec.Cmd
	exited        chan struct{}
	logPath       string
}

// readyTimeout bounds waiting for sshd to accept connections.
const readyTimeout = 15 * time.Second

// Start runs an sshd for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := findSSHD(); err != nil {
		missing(t, err)
	}
	s, err := Launch(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// missing skips t for want of what err names, or fails it under CI=true,
// where nothing may be silently left out.
func missing(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("needed under CI=true: %v", err)
	}
	t.Skipf("skipping SSH test: %v", err)
}

// Launch runs an sshd with its files in dir, outside a test (benchmarks use
// it); Stop ends it.
func Launch(dir string) (*Server, error) {
	return launch(&Server{dir: dir})
}

// launch runs the sshd s describes: dir, and User and Password for a
// password login.
func launch(s *Server) (*Server, error) {
	sshd, err := findSSHD()
	if err != nil {
		return nil, err
	}
	dir := s.dir
	s.sshd = sshd
	s.logPath = filepath.Join(s.dir, "sshd.log")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := s.prepare(); err != nil {
		return nil, fmt.Errorf("prepare sshd: %w", err)
	}
	// The free port is found by binding and releasing it, so another process
	// can take it in between; a few tries make that harmless.
	for attempt := 1; ; attempt++ {
		if s.Port, err = freePort(); err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		err = s.start()
		if err == nil {
			return s, nil
		}
		if attempt == 3 {
			return nil, fmt.Errorf("start sshd: %w", err)
		}
	}
}

// Stop ends an sshd that Launch started.
func (s *Server) Stop() { s.stop() }

// Addr is host:port of the server.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// RestartWithNewHostKey stops the server, cutting its connections, and
// starts it again on the same port with a new host key, as a reinstalled
// machine (or a machine in the middle) would present.
func (s *Server) RestartWithNewHostKey(t testing.TB) {
	t.Helper()
	s.stop()
	if err := s.writeHostKeys(); err != nil {
		t.Fatalf("new host key: %v", err)
	}
	if err := s.start(); err != nil {
		t.Fatalf("restart sshd: %v", err)
	}
}

// DropConnections kills the sshd processes serving open connections, as a
// network failure would cut them. The listener stays, so new connections
// work; the users' own processes see their sessions end.
func (s *Server) DropConnections(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		t.Fatal("sshd is not running")
	}
	s.dropConnections()
}

func (s *Server) dropConnections() {
	for _, pid := range sshdDescendants(s.cmd.Process.Pid) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// Log is what sshd wrote so far, for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

func findSSHD() (string, error) {
	if _, err := os.Stat("/usr/sbin/sshd"); err == nil {
		return "/usr/sbin/sshd", nil
	}
	p, err := exec.LookPath("sshd")
	if err != nil {
		return "", errors.New("sshd not found at /usr/sbin/sshd or on PATH (install openssh-server)")
	}
	// sshd re-executes itself and insists on an absolute path.
	return filepath.Abs(p)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// prepare writes the keys; the config is written by start, which knows the port.
func (s *Server) prepare() error {
	// sshd needs its privilege separation folder when it runs as root.
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return err
		}
	}
	if s.passwordLogin {
		return s.writeHostKeys()
	}
	u, err := user.Current()
	if err != nil {
		return err
	}
	s.User = u.Username
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "pulpo test client")
	if err != nil {
		return err
	}
	s.ClientKeyPEM = pem.EncodeToMemory(block)
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.dir, "authorized_keys"), ssh.MarshalAuthorizedKey(sshPub), 0o600); err != nil {
		return err
	}
	return s.writeHostKeys()
}

// writeHostKeys makes new ed25519 and ECDSA host keys.
func (s *Server) writeHostKeys() error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := writePrivateKey(filepath.Join(s.dir, "host_ed25519_key"), priv); err != nil {
		return err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	s.HostKeyFingerprint = ssh.FingerprintSHA256(sshPub)
	s.HostPublicKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
	ecdsaKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	return writePrivateKey(filepath.Join(s.dir, "host_ecdsa_key"), ecdsaKey)
}

func writePrivateKey(path string, key crypto.PrivateKey) error {
	block, err := ssh.MarshalPrivateKey(key, "pulpo test host")
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(block), 0o600)
}

// penaltyExemption keeps newer sshd (9.8+) from penalising the many
// short connections of a test run; older sshd does not know the option.
const penaltyExemption = "PerSourcePenaltyExemptList 127.0.0.1"

func (s *Server) config(withPenaltyExemption bool) string {
	lines := []string{
		"ListenAddress 127.0.0.1",
		"Port " + strconv.Itoa(s.Port),
		"HostKey " + filepath.Join(s.dir, "host_ecdsa_key"),
		"HostKey " + filepath.Join(s.dir, "host_ed25519_key"),
		"AuthorizedKeysFile " + filepath.Join(s.dir, "authorized_keys"),
		"PidFile " + filepath.Join(s.dir, "sshd.pid"),
		"StrictModes no",
		"UsePAM no",
	}
	if s.passwordLogin {
		// Passwords are checked against /etc/shadow (sshd runs as root), and
		// only the throwaway user may use one: never root, never a key.
		lines = append(lines,
			"PermitRootLogin no",
			"AllowUsers "+s.User,
			"PubkeyAuthentication no",
			"PasswordAuthentication yes",
			"PermitEmptyPasswords no",
		)
	} else {
		lines = append(lines,
			"PermitRootLogin yes",
			"PubkeyAuthentication yes",
			"PasswordAuthentication no",
		)
	}
	lines = append(lines,
		"KbdInteractiveAuthentication no",
		"UseDNS no",
		"PrintMotd no",
		"Subsystem sftp internal-sftp",
		"MaxStartups 100",
		"LogLevel VERBOSE",
	)
	if withPenaltyExemption {
		lines = append(lines, penaltyExemption)
	}
	return strings.Join(lines, "\n") + "\n"
}

func (s *Server) configPath() string { return filepath.Join(s.dir, "sshd_config") }

// writeConfig writes the configuration, with the penalty exemption if this
// sshd accepts it (checked with sshd -t).
func (s *Server) writeConfig() error {
	if err := os.WriteFile(s.configPath(), []byte(s.config(true)), 0o600); err != nil {
		return err
	}
	out, err := exec.Command(s.sshd, "-t", "-f", s.configPath()).CombinedOutput()
	if err == nil {
		return nil
	}
	if !strings.Contains(string(out), "PerSourcePenaltyExemptList") {
		return fmt.Errorf("sshd -t: %w: %s", err, out)
	}
	return os.WriteFile(s.configPath(), []byte(s.config(false)), 0o600)
}

// start runs sshd on s.Port and waits until it answers with its host key.
func (s *Server) start() error {
	if err := s.writeConfig(); err != nil {
		return err
	}
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(s.sshd, "-D", "-e", "-f", s.configPath())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = diesWithParent()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.sshd, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	if err := s.waitReady(); err != nil {
		s.stop()
		return fmt.Errorf("%w\nsshd log:\n%s", err, s.Log())
	}
	return nil
}

// waitReady polls until the server completes a key exchange presenting our
// host key: then it is our sshd listening, not whatever held the port.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	for {
		err := s.presentsHostKey()
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("sshd exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshd did not accept connections within %s: %v", readyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) presentsHostKey() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", s.Addr())
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(time.Second))
	stopped := errors.New("host key checked")
	var got string
	_, _, _, err = ssh.NewClientConn(nc, s.Addr(), &ssh.ClientConfig{
		User:              s.User,
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			got = ssh.FingerprintSHA256(key)
			return stopped
		},
	})
	switch {
	case got == s.HostKeyFingerprint:
		return nil
	case got != "":
		return fmt.Errorf("port %d presents host key %s, not ours", s.Port, got)
	}
	return err
}

// stop ends sshd and its connections, and waits until the listener has
// exited. (The listener alone would leave open connections running.)
func (s *Server) stop() {
	if s.cmd == nil {
		return
	}
	s.dropConnections()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// sshdDescendants lists the sshd processes below pid: those serving its
// connections.
func sshdDescendants(pid int) []int {
	parents := map[int]int{}
	names := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		stat := string(b)
		open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
		if open < 0 || end < open {
			continue
		}
		fields := strings.Fields(stat[end+1:])
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		parents[p], names[p] = ppid, stat[open+1:end]
	}
	var out []int
	for p := range parents {
		if !strings.HasPrefix(names[p], "sshd") {
			continue
		}
		for q := parents[p]; q > 1; q = parents[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

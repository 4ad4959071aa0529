package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/testutil/sshdtest"
)

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// agentProc is a running "pulpo agent" process.
type agentProc struct {
	t    *testing.T
	bin  string
	home string
	args []string
	cmd  *exec.Cmd
	out  *lockedBuffer
}

func startAgent(t *testing.T, home string, args ...string) *agentProc {
	t.Helper()
	return startAgentBinary(t, binary, home, args...)
}

// startAgentBinary starts an agent from another build of pulpo.
func startAgentBinary(t *testing.T, bin, home string, args ...string) *agentProc {
	t.Helper()
	a := &agentProc{t: t, bin: bin, home: home, args: append([]string{"agent", "--home", home}, args...)}
	a.start()
	t.Cleanup(a.kill)
	return a
}

func (a *agentProc) start() {
	a.t.Helper()
	a.cmd = exec.Command(a.bin, a.args...)
	a.out = &lockedBuffer{}
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	// An agent reads no PULPO_SERVER: that is the CLI's.
	a.cmd.Env = append(os.Environ(), "PULPO_SERVER=", "PULPO_API_KEY=")
	if err := a.cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
}

// kill stops the agent with SIGKILL: no shutdown of any kind.
func (a *agentProc) kill() {
	if a.cmd != nil && a.cmd.ProcessState == nil {
		a.cmd.Process.Signal(syscall.SIGKILL)
		a.cmd.Wait()
	}
}

// waitOutput waits until the agent has printed something matching re.
func (a *agentProc) waitOutput(what string, re *regexp.Regexp) {
	a.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !re.MatchString(a.out.String()) {
		if time.Now().After(deadline) {
			a.t.Fatalf("the agent never printed %s:\n%s", what, a.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) thumbprint() string {
	s.t.Helper()
	out := s.out.String()
	m := regexp.MustCompile(`agents trust this\): ([0-9A-F]{64})`).FindStringSubmatch(out)
	if m == nil {
		s.t.Fatalf("the server did not print its thumbprint:\n%s", out)
	}
	return m[1]
}

// waitLog waits until a task's log contains text.
func (s *server) waitLog(taskID, text string) string {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		log := s.ok("task", "log", taskID)
		if strings.Contains(log, text) {
			return log
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("task %s never logged %q:\n%s", taskID, text, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// addListeningAgent starts a listening agent and registers it.
func addListeningAgent(t *testing.T, s *server, name string, extra ...string) *agentProc {
	t.Helper()
	return addListeningAgentBinary(t, s, binary, name, extra...)
}

// addListeningAgentBinary starts a listening agent of another build.
func addListeningAgentBinary(t *testing.T, s *server, bin, name string, extra ...string) *agentProc {
	t.Helper()
	home := filepath.Join(t.TempDir(), name)
	port := freePort(t)
	a := startAgentBinary(t, bin, home, "--name", name, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--trust", s.thumbprint())
	a.waitOutput("its thumbprint", regexp.MustCompile(`thumbprint [0-9A-F]{64}`))
	thumb := strings.TrimSpace(s.ok("agent", "show-thumbprint", "--home", home))
	s.ok(append([]string{"machine", "add", name, "--listening", fmt.Sprintf("127.0.0.1:%d", port), "--thumbprint", thumb}, extra...)...)
	return a
}

// addPollingAgent registers a polling agent through the CLI and starts it.
func addPollingAgent(t *testing.T, s *server, name string, extra ...string) *agentProc {
	t.Helper()
	home := filepath.Join(t.TempDir(), name)
	s.ok(append([]string{"agent", "register", "--home", home, "--name", name}, extra...)...)
	a := startAgent(t, home)
	a.waitOutput("that it connected", regexp.MustCompile(`connected to the server`))
	return a
}

// addSSHMachine registers a real sshd on loopback as an SSH target.
func addSSHMachine(t *testing.T, s *server, name string, extra ...string) *sshdtest.Server {
	t.Helper()
	sshd := sshdtest.Start(t)
	keyFile := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(keyFile, sshd.ClientKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	// Each machine keeps its files in a folder of the test's, not in the
	// login folder that every run of the tests would share.
	home := filepath.Join(t.TempDir(), name)
	s.ok(append([]string{"machine", "add", name, "--ssh", sshd.Addr(), "--user", sshd.User, "--key-file", keyFile, "--remote-home", home}, extra...)...)
	return sshd
}

const rolesConfig = `environments:
  - name: Dev
projects:
  - name: fleet
    steps:
      - name: Everywhere
        targetRoles: [web]
        script:
          body: |
            echo "running on #{Octopus.Machine.Name} as #{Octopus.Machine.Roles}"
      - name: Once on the server
        script:
          body: echo "all targets done"
`

func applyText(t *testing.T, s *server, text string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "pulpo.yaml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s.ok("apply", "-f", file)
}

func deploy(t *testing.T, s *server, project, version string) deployment {
	t.Helper()
	s.ok("release", "create", "--project", project, "--version", version)
	var d deployment
	s.okJSON(&d, "release", "deploy", "--project", project, "--version", version, "--environment", "Dev")
	return d
}

// TestAStepRunsOnEveryKindOfTarget deploys one process whose step aims at a
// role held by a listening agent, a polling agent and an SSH machine.
func TestAStepRunsOnEveryKindOfTarget(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, rolesConfig)
	addListeningAgent(t, s, "listener", "--environment", "Dev", "--role", "web")
	addPollingAgent(t, s, "poller", "--environment", "Dev", "--role", "web")
	addSSHMachine(t, s, "sshbox", "--environment", "Dev", "--role", "web", "--role", "db")

	health := s.ok("machine", "health")
	for _, name := range []string{"listener", "poller", "sshbox"} {
		if !regexp.MustCompile(name + `\s+Healthy`).MatchString(health) {
			t.Fatalf("%s is not healthy:\n%s", name, health)
		}
	}
	d := deploy(t, s, "fleet", "1.0.0")
	out := s.ok("task", "watch", d.TaskID)
	for _, want := range []string{"running on listener as web", "running on poller as web", "running on sshbox as web,db", "all targets done"} {
		if !strings.Contains(out, want) {
			t.Errorf("the deployment log lacks %q:\n%s", want, out)
		}
	}
	shown := s.ok("task", "show", d.TaskID)
	if !regexp.MustCompile(`(?s)Step 1: Everywhere\n(\s+Success\s+\w+ \(exit code 0\)\n){3}Success\s+Step 2`).MatchString(shown) {
		t.Errorf("the task tree should show three targets under step 1:\n%s", shown)
	}

	// A worker in a pool runs the steps aimed at that pool.
	s.ok("worker-pool", "create", "Builders")
	addPollingAgent(t, s, "builder", "--worker-pool", "Builders")
	applyText(t, s, `projects:
  - name: build
    steps:
      - name: Compile
        workerPool: Builders
        script:
          body: |
            echo "compiled on #{Octopus.Machine.Name}"
`)
	d = deploy(t, s, "build", "1.0.0")
	if out := s.ok("task", "watch", d.TaskID); !strings.Contains(out, "compiled on builder") {
		t.Fatalf("the pool's worker should run the step:\n%s", out)
	}
}

// TestTrustIsCheckedBothWays: an agent obeys only the servers it trusts, a
// revoked agent loses its connection, and a changed SSH host key is refused.
func TestTrustIsCheckedBothWays(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, rolesConfig)

	// A listening agent that trusts some other server.
	home := filepath.Join(t.TempDir(), "wary")
	port := freePort(t)
	other := strings.Repeat("AB", 32)
	startAgent(t, home, "--name", "wary", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--trust", other).
		waitOutput("its thumbprint", regexp.MustCompile(`thumbprint`))
	thumb := strings.TrimSpace(s.ok("agent", "show-thumbprint", "--home", home))
	s.ok("machine", "add", "wary", "--listening", fmt.Sprintf("127.0.0.1:%d", port), "--thumbprint", thumb, "--environment", "Dev", "--role", "web")
	r := s.pulpo("machine", "health", "wary")
	if r.code != 2 || !strings.Contains(r.stdout, "Unavailable") || !strings.Contains(r.stdout, "does not trust") {
		t.Fatalf("a server the agent does not trust should find it unavailable, saying why; exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	s.ok("machine", "delete", "wary")

	// The server refuses a listening agent whose certificate is not the registered one.
	impostorHome := filepath.Join(t.TempDir(), "impostor")
	iport := freePort(t)
	startAgent(t, impostorHome, "--name", "impostor", "--listen", fmt.Sprintf("127.0.0.1:%d", iport), "--trust", s.thumbprint()).
		waitOutput("its thumbprint", regexp.MustCompile(`thumbprint`))
	s.ok("machine", "add", "impostor", "--listening", fmt.Sprintf("127.0.0.1:%d", iport), "--thumbprint", strings.Repeat("CD", 32), "--environment", "Dev", "--role", "api")
	r = s.pulpo("machine", "health", "impostor")
	if r.code != 2 || !strings.Contains(r.stdout, "is the one trusted for it") {
		t.Fatalf("an agent with another certificate must be refused; exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Removing a polling agent drops its live connection, and it cannot come back.
	poller := addPollingAgent(t, s, "poller", "--environment", "Dev", "--role", "web")
	s.ok("machine", "health", "poller")
	s.ok("machine", "delete", "poller")
	poller.waitOutput("that its connection ended", regexp.MustCompile(`connection to the server ended`))
	poller.waitOutput("that it is refused now", regexp.MustCompile(`cannot reach the server.*does not trust`))

	// An SSH machine whose host key changed is refused, with the reason.
	sshd := addSSHMachine(t, s, "sshbox", "--environment", "Dev", "--role", "web")
	s.ok("machine", "health", "sshbox")
	sshd.RestartWithNewHostKey(t)
	r = s.pulpo("machine", "health", "sshbox")
	if r.code != 2 || !strings.Contains(r.stdout, "Unavailable") || !strings.Contains(r.stdout, "registered with") {
		t.Fatalf("a changed host key must be refused with the reason; exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	d := deploy(t, s, "fleet", "1.0.0")
	failed := s.pulpo("task", "watch", d.TaskID)
	if failed.code == 0 || !strings.Contains(failed.stdout, "registered with") {
		t.Fatalf("a deployment to a host with a changed key must fail, saying why; exit %d\n%s", failed.code, failed.stdout)
	}
}

// TestAnAgentKilledMidScriptLosesNoLine kills a listening agent with SIGKILL
// while its script runs, starts it again, and finds every line once.
func TestAnAgentKilledMidScriptLosesNoLine(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	gate := filepath.Join(t.TempDir(), "gate")
	applyText(t, s, fmt.Sprintf(`environments:
  - name: Dev
projects:
  - name: slow
    steps:
      - name: Count
        targetRoles: [web]
        script:
          body: |
            for i in $(seq 1 20); do echo "line $i"; done
            while [ ! -e %q ]; do sleep 0.05; done
            for i in $(seq 21 40); do echo "line $i"; done
            exit 7
`, gate))
	agent := addListeningAgent(t, s, "listener", "--environment", "Dev", "--role", "web")
	d := deploy(t, s, "slow", "1.0.0")
	s.waitLog(d.TaskID, "line 20")

	agent.kill()
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	agent.start()
	r := s.pulpo("task", "watch", d.TaskID)
	if r.code == 0 || !strings.Contains(r.stdout, "exit code 7") {
		t.Fatalf("the script's exit code should come through; exit %d\n%s", r.code, r.stdout)
	}
	log := s.ok("task", "log", d.TaskID)
	if !strings.Contains(log, "Lost contact with listener") || !strings.Contains(log, "Contact with listener is back") {
		t.Errorf("the log should say the agent was away and came back:\n%s", log)
	}
	for i := 1; i <= 40; i++ {
		if n := strings.Count(log, fmt.Sprintf("line %d\n", i)); n != 1 {
			t.Errorf("line %d appears %d times", i, n)
		}
	}
}

// proxy forwards TCP connections and can cut them all for a while.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	down   bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// cut closes every connection and refuses new ones until restore.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// TestAPollingAgentCutOffFor30sCarriesOn cuts a polling agent's connection
// for 30 s in the middle of a deployment; it continues once the agent is back.
func TestAPollingAgentCutOffFor30sCarriesOn(t *testing.T) {
	pollingPort := freePort(t)
	s := startServer(t, t.TempDir(), "", freePort(t), "--polling-listen", fmt.Sprintf("127.0.0.1:%d", pollingPort))
	px := startProxy(t, fmt.Sprintf("127.0.0.1:%d", pollingPort))
	gate := filepath.Join(t.TempDir(), "gate")
	applyText(t, s, fmt.Sprintf(`environments:
  - name: Dev
projects:
  - name: patient
    steps:
      - name: Wait
        targetRoles: [web]
        script:
          body: |
            echo before the cut
            while [ ! -e %q ]; do sleep 0.05; done
            echo after the cut
`, gate))
	agent := addPollingAgent(t, s, "poller", "--environment", "Dev", "--role", "web", "--polling-address", px.addr())
	d := deploy(t, s, "patient", "1.0.0")
	s.waitLog(d.TaskID, "before the cut")

	px.cut()
	agent.waitOutput("that it lost the server", regexp.MustCompile(`connection to the server ended`))
	cutAt := time.Now()
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// The script finishes while the agent is cut off; the server learns of it later.
	time.Sleep(30*time.Second - time.Since(cutAt)) // the outage itself is the test's subject
	px.restore()
	out := s.ok("task", "watch", d.TaskID)
	if !strings.Contains(out, "after the cut") {
		t.Fatalf("the deployment did not continue after the agent came back:\n%s", out)
	}
	if log := s.ok("task", "log", d.TaskID); strings.Count(log, "before the cut") != 1 || strings.Count(log, "after the cut") != 1 {
		t.Fatalf("lines lost or repeated:\n%s", log)
	}
}

// TestHealthAndUnavailableMachines: a failing health script makes a machine
// Unhealthy with its output; a stopped agent is Unavailable, and
// deployments fail or skip it as its policy says.
func TestHealthAndUnavailableMachines(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, rolesConfig)
	script := filepath.Join(t.TempDir(), "health.sh")
	os.WriteFile(script, []byte("echo checking disks\necho '/var is 97% full' >&2\nexit 1\n"), 0o600)
	s.ok("machine-policy", "create", "Strict", "--health-script-file", script)
	s.ok("machine-policy", "create", "Lenient", "--when-unavailable", "skip", "--health-check-interval", "0s")

	addListeningAgent(t, s, "sick", "--environment", "Dev", "--role", "db", "--policy", "Strict")
	r := s.pulpo("machine", "health", "sick")
	if r.code != 2 || !strings.Contains(r.stdout, "Unhealthy") {
		t.Fatalf("a failing health script must make the machine Unhealthy; exit %d\n%s", r.code, r.stdout)
	}
	if shown := s.ok("machine", "show", "sick"); !strings.Contains(shown, "/var is 97% full") || !strings.Contains(shown, "exit code 1") {
		t.Fatalf("the reason should carry the script's output:\n%s", shown)
	}

	steady := addListeningAgent(t, s, "steady", "--environment", "Dev", "--role", "web")
	flaky := addListeningAgent(t, s, "flaky", "--environment", "Dev", "--role", "web", "--policy", "Lenient")
	s.ok("machine", "health", "steady", "flaky")

	// flaky stops; its policy skips it, and the deployment succeeds on steady.
	flaky.kill()
	r = s.pulpo("machine", "health", "flaky")
	if r.code != 2 || !strings.Contains(r.stdout, "Unavailable") {
		t.Fatalf("a stopped agent must be Unavailable; exit %d\n%s", r.code, r.stdout)
	}
	d := deploy(t, s, "fleet", "1.0.0")
	out := s.ok("task", "watch", d.TaskID)
	if !strings.Contains(out, "running on steady") || !strings.Contains(out, "flaky is unavailable") || !strings.Contains(out, "skipped") {
		t.Fatalf("the unavailable agent should be skipped:\n%s", out)
	}

	// steady stops too; the default policy fails the deployment.
	steady.kill()
	d = deploy(t, s, "fleet", "1.0.1")
	r = s.pulpo("task", "watch", d.TaskID)
	if r.code == 0 || !strings.Contains(r.stdout, "steady is unavailable") {
		t.Fatalf("the default policy should fail on an unavailable agent; exit %d\n%s", r.code, r.stdout)
	}
}

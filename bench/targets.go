package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/testutil/sshdtest"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// targetBench runs a real pulpo server process and real agent processes on
// loopback, so memory figures are the processes' own.
type targetBench struct {
	dir     string
	binary  string
	server  *exec.Cmd
	url     string
	polling string
	thumb   string
	c       *client.Client
	agents  []*exec.Cmd
	sshd    *sshdtest.Server
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startTargetBench builds pulpo and starts a server, with serverArgs added
// to its command line (such as --task-slots 10).
func startTargetBench(ctx context.Context, serverArgs ...string) (*targetBench, error) {
	dir, err := os.MkdirTemp("", "pulpo-bench-targets-")
	if err != nil {
		return nil, err
	}
	b := &targetBench{dir: dir, binary: filepath.Join(dir, "pulpo")}
	build := exec.Command("go", "build", "-o", b.binary, "./cmd/pulpo")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("build pulpo (run the benchmark from the repository root): %w", err)
	}
	port, pport := freePort(), freePort()
	b.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	b.polling = fmt.Sprintf("127.0.0.1:%d", pport)
	b.server = exec.Command(b.binary, "server", "--data", filepath.Join(dir, "data"), "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--polling-listen", b.polling, "--admin-api-key", key, "--log-level", "warn")
	b.server.Args = append(b.server.Args, serverArgs...)
	var out bytes.Buffer
	b.server.Stdout = &out
	b.server.Stderr = os.Stderr
	if err := b.server.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if b.c, err = client.New(b.url, key); err != nil {
		b.close()
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		root, err := b.c.Root(ctx)
		if err == nil {
			b.thumb = root.ServerThumbprint
			break
		}
		if time.Now().After(deadline) {
			b.close()
			return nil, fmt.Errorf("the server did not start: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return b, nil
}

func (b *targetBench) close() {
	for _, a := range b.agents {
		a.Process.Kill()
		a.Wait()
	}
	b.server.Process.Kill()
	b.server.Wait()
	if b.sshd != nil {
		b.sshd.Stop()
	}
	os.RemoveAll(b.dir)
}

// startAgent runs one agent process and registers it as a target in env
// with role.
func (b *targetBench) startAgent(ctx context.Context, name, mode, envID, role string) error {
	home := filepath.Join(b.dir, name)
	args := []string{"agent", "--home", home, "--name", name, "--trust", b.thumb}
	addr := ""
	if mode == "listening" {
		addr = fmt.Sprintf("127.0.0.1:%d", freePort())
		args = append(args, "--listen", addr)
	} else {
		args = append(args, "--server", b.polling)
	}
	cmd := exec.Command(b.binary, args...)
	cmd.Env = append(os.Environ(), "PULPO_SERVER=", "PULPO_API_KEY=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	b.agents = append(b.agents, cmd)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("agent %s: %w", name, err)
	}
	m := regexp.MustCompile(`thumbprint ([0-9A-F]{64})`).FindStringSubmatch(line)
	if m == nil {
		return fmt.Errorf("agent %s printed no thumbprint: %q", name, line)
	}
	machine := model.Machine{Name: name, Usage: model.UsageTarget, Thumbprint: m[1], EnvironmentIDs: []string{envID}, Roles: []string{role}}
	if mode == "listening" {
		machine.Kind, machine.Address = model.MachineListening, addr
	} else {
		machine.Kind = model.MachinePolling
	}
	_, err = b.c.CreateMachine(ctx, machine)
	return err
}

// deployAndWait deploys a release and waits for success, returning the task.
func (b *targetBench) deployAndWait(ctx context.Context, releaseID, envID string) (wire.TaskLog, time.Duration, error) {
	start := time.Now()
	d, err := b.c.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: releaseID, EnvironmentID: envID})
	if err != nil {
		return wire.TaskLog{}, 0, err
	}
	var end model.Task
	if err := b.c.FollowLog(ctx, d.TaskID, 0, func(ev client.Event) error {
		if ev.Kind == "end" {
			end = ev.Task
		}
		return nil
	}); err != nil {
		return wire.TaskLog{}, 0, err
	}
	took := time.Since(start)
	if end.State != model.TaskSuccess {
		return wire.TaskLog{}, 0, fmt.Errorf("deployment %s ended %s: %s", d.ID, end.State, end.Error)
	}
	l, err := b.c.TaskLog(ctx, d.TaskID, 1<<62)
	return l, took, err
}

func (b *targetBench) project(ctx context.Context, name string, steps []model.Step) (model.Release, error) {
	p, err := b.c.CreateProject(ctx, model.Project{Name: name})
	if err != nil {
		return model.Release{}, err
	}
	if _, err := b.c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: steps}); err != nil {
		return model.Release{}, err
	}
	r, err := b.c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID, Version: "1.0.0"})
	return r.Release, err
}

// stepLatency measures 20 sequential "echo ok" steps on one target of each
// kind: the time each step takes from its start to its end on the server.
func stepLatency(ctx context.Context, rounds int) ([]Result, error) {
	figs, err := stepRuns(ctx, 20, rounds)
	if err != nil {
		return nil, err
	}
	var results []Result
	for _, kind := range stepKinds {
		r := summarize(figs[kind].steps)
		r.Database, r.Scenario = "sqlite", fmt.Sprintf("one echo-ok step on a %s target", kind)
		results = append(results, r)
	}
	return results, nil
}

// stepKinds are the target kinds stepRuns measures, in order.
var stepKinds = []string{"listening", "polling", "ssh"}

// stepFigures are one target kind's figures from deployments of sequential
// "echo ok" steps: each step's own time (its start to its end, as the
// server records them) and each deployment's wall time (ask → success).
type stepFigures struct {
	steps []time.Duration
	walls []time.Duration
}

// stepRuns deploys n sequential "echo ok" steps rounds times, after one
// uncounted warm-up round, on a listening agent, a polling agent and an
// SSH target (a real sshd on loopback). The "steps" and "peers-steps"
// groups share it.
func stepRuns(ctx context.Context, n, rounds int) (map[string]stepFigures, error) {
	b, err := startTargetBench(ctx)
	if err != nil {
		return nil, err
	}
	defer b.close()
	env, err := b.c.CreateEnvironment(ctx, model.Environment{Name: "Bench"})
	if err != nil {
		return nil, err
	}
	if err := b.startAgent(ctx, "listening-1", "listening", env.ID, "listening"); err != nil {
		return nil, err
	}
	if err := b.startAgent(ctx, "polling-1", "polling", env.ID, "polling"); err != nil {
		return nil, err
	}
	if b.sshd, err = sshdtest.Launch(filepath.Join(b.dir, "sshd")); err != nil {
		return nil, fmt.Errorf("start sshd: %w", err)
	}
	if _, err := b.c.CreateMachine(ctx, model.Machine{Name: "ssh-1", Kind: model.MachineSSH, Usage: model.UsageTarget, Address: b.sshd.Addr(),
		SSH:            &model.SSHEndpoint{User: b.sshd.User, HostKeyFingerprint: b.sshd.HostKeyFingerprint},
		Credentials:    &model.SSHCredentials{PrivateKey: string(b.sshd.ClientKeyPEM)},
		EnvironmentIDs: []string{env.ID}, Roles: []string{"ssh"}}); err != nil {
		return nil, err
	}
	figs := map[string]stepFigures{}
	for _, kind := range stepKinds {
		steps := make([]model.Step, n)
		for i := range steps {
			steps[i] = model.Step{Name: fmt.Sprintf("Step %d", i+1), TargetRoles: []string{kind},
				Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo ok"}}
		}
		rel, err := b.project(ctx, "steps-"+kind, steps)
		if err != nil {
			return nil, err
		}
		var f stepFigures
		for round := 0; round < rounds+1; round++ {
			l, took, err := b.deployAndWait(ctx, rel.ID, env.ID)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", kind, err)
			}
			if round == 0 {
				continue // the first round dials, uploads the runner, warms caches
			}
			f.walls = append(f.walls, took)
			for _, a := range l.Activities {
				if a.Kind == model.ActivityStep && a.StartedAt != nil && a.EndedAt != nil {
					f.steps = append(f.steps, a.EndedAt.Sub(*a.StartedAt))
				}
			}
		}
		figs[kind] = f
	}
	return figs, nil
}

// fanOut runs one "echo ok" step on n listening agents at once and reports
// the wall time, the server's peak memory and an idle agent's memory.
func fanOut(ctx context.Context, n, rounds int) ([]Result, error) {
	b, err := startTargetBench(ctx)
	if err != nil {
		return nil, err
	}
	defer b.close()
	env, err := b.c.CreateEnvironment(ctx, model.Environment{Name: "Bench"})
	if err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		if err := b.startAgent(ctx, fmt.Sprintf("fan-%02d", i), "listening", env.ID, "fan"); err != nil {
			return nil, err
		}
	}
	idleAgent := rssKiB(b.agents[0].Process.Pid, "VmRSS")
	rel, err := b.project(ctx, "fan-out", []model.Step{{Name: "Echo", TargetRoles: []string{"fan"}, MaxParallelism: n,
		Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo ok"}}})
	if err != nil {
		return nil, err
	}
	var times []time.Duration
	for round := 0; round < rounds+1; round++ {
		_, took, err := b.deployAndWait(ctx, rel.ID, env.ID)
		if err != nil {
			return nil, err
		}
		if round > 0 {
			times = append(times, took)
		}
	}
	r := summarize(times)
	r.Database = "sqlite"
	r.Scenario = fmt.Sprintf("one step on %d listening agents (server peak RSS %.0f MiB, idle agent RSS %.1f MiB)",
		n, float64(rssKiB(b.server.Process.Pid, "VmHWM"))/1024, float64(idleAgent)/1024)
	r.ServerPeakMiB = float64(rssKiB(b.server.Process.Pid, "VmHWM")) / 1024
	r.AgentIdleMiB = float64(idleAgent) / 1024
	return []Result{r}, nil
}

// rssKiB reads a memory figure (VmRSS, VmHWM) of a process from /proc.
func rssKiB(pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return n
		}
	}
	return 0
}

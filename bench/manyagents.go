package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/agent"
	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
)

// manyAgentsOptions sizes the many-agents scenario.
type manyAgentsOptions struct {
	// Processes are real "pulpo agent" processes; Simulated are agents run
	// in this process (the agent package itself, each with its own home and
	// certificate), so thousands fit on one machine. All poll.
	Processes, Simulated int
	// Idle is the window the idle server's CPU is measured over.
	Idle time.Duration
	// Restarts is how many times the server is restarted.
	Restarts int
	// HealthWorkers is how many health checks the concurrent check-all
	// keeps in flight.
	HealthWorkers int
	// Quiet keeps progress off stderr (tests).
	Quiet bool
}

// Messages the agent logs (comms.PollServer) that the scenario watches, in
// the in-process agents' records and the processes' stderr alike.
const (
	msgConnected   = "connected to the server"
	msgUnreachable = "cannot reach the server"
	msgEnded       = "connection to the server ended"
)

// connTracker records when each agent got a connection to the server up.
// An agent counts as connected when it has read the server's hello, which
// the server writes after it accepted the agent's certificate, just before
// it registers the connection as the machine's (targets.Manager).
type connTracker struct {
	mu     sync.Mutex
	conns  [][]time.Time
	ends   [][]time.Time
	failed []int
	signal chan struct{}
}

func newConnTracker(n int) *connTracker {
	return &connTracker{conns: make([][]time.Time, n), ends: make([][]time.Time, n), failed: make([]int, n), signal: make(chan struct{}, 1)}
}

func (t *connTracker) connected(i int) {
	now := time.Now()
	t.mu.Lock()
	t.conns[i] = append(t.conns[i], now)
	t.mu.Unlock()
	select {
	case t.signal <- struct{}{}:
	default:
	}
}

func (t *connTracker) ended(i int) {
	now := time.Now()
	t.mu.Lock()
	t.ends[i] = append(t.ends[i], now)
	t.mu.Unlock()
}

// lastEnd is when the last agent saw its connection end at or after since,
// and how many connections ended at or after after.
func (t *connTracker) lastEnd(since, after time.Time) (time.Time, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var last time.Time
	n := 0
	for _, es := range t.ends {
		for _, e := range es {
			if !e.Before(since) && e.After(last) {
				last = e
			}
			if !e.Before(after) {
				n++
			}
		}
	}
	return last, n
}

func (t *connTracker) unreachable(i int) {
	t.mu.Lock()
	t.failed[i]++
	t.mu.Unlock()
}

// failures is how many dials failed in all so far.
func (t *connTracker) failures() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, f := range t.failed {
		n += f
	}
	return n
}

// waitAll waits until every agent has connected at or after since and
// returns each one's first such connection.
func (t *connTracker) waitAll(ctx context.Context, since time.Time, timeout time.Duration) ([]time.Time, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		t.mu.Lock()
		out := make([]time.Time, len(t.conns))
		missing := 0
		for i, cs := range t.conns {
			for _, c := range cs {
				if !c.Before(since) {
					out[i] = c
					break
				}
			}
			if out[i].IsZero() {
				missing++
			}
		}
		t.mu.Unlock()
		if missing == 0 {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, fmt.Errorf("%d of %d agents did not connect within %s", missing, len(out), timeout)
		case <-t.signal:
		case <-tick.C:
		}
	}
}

// trackingHandler is an in-process agent's log: it only tells the tracker
// of connections and failed dials.
type trackingHandler struct {
	t *connTracker
	i int
}

func (h trackingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h trackingHandler) Handle(_ context.Context, r slog.Record) error {
	switch r.Message {
	case msgConnected:
		h.t.connected(h.i)
	case msgUnreachable:
		h.t.unreachable(h.i)
	case msgEnded:
		h.t.ended(h.i)
	}
	return nil
}
func (h trackingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h trackingHandler) WithGroup(string) slog.Handler      { return h }

// raiseFileLimit lifts this process's RLIMIT_NOFILE to at least need (soft
// to the hard limit, and the hard limit too when allowed). Setting it
// explicitly also makes the processes started from here inherit it: Go
// raises its own soft limit at start but gives children the original one
// back unless the program set the limit itself.
func raiseFileLimit(need uint64) (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	want := l
	want.Cur = max(l.Cur, l.Max)
	if want.Cur < need {
		want.Cur, want.Max = need, need
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		if want.Max > l.Max {
			want.Max, want.Cur = l.Max, l.Max
			if err2 := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err2 != nil {
				return l.Cur, err2
			}
		} else {
			return l.Cur, err
		}
	}
	if want.Cur < need {
		return want.Cur, fmt.Errorf("open files are limited to %d and %d are needed; raise the hard limit (ulimit -Hn)", want.Cur, need)
	}
	return want.Cur, nil
}

// cpuTicks reads a process's user+system CPU time in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	u, err1 := strconv.ParseInt(fields[11], 10, 64) // utime, field 14
	k, err2 := strconv.ParseInt(fields[12], 10, 64) // stime, field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return u + k, nil
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// scrapeMetrics reads the unlabelled samples of the server's /metrics.
func scrapeMetrics(ctx context.Context, base string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.Contains(line, "{") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

// serverSnapshot is the server's memory as the kernel and Go see it.
type serverSnapshot struct {
	rssKiB     int
	heapBytes  float64 // go_memstats_heap_inuse_bytes
	stackBytes float64 // go_memstats_stack_inuse_bytes
	goroutines float64
}

func (b *targetBench) snapshot(ctx context.Context) (serverSnapshot, error) {
	m, err := scrapeMetrics(ctx, b.url)
	if err != nil {
		return serverSnapshot{}, err
	}
	return serverSnapshot{rssKiB: rssKiB(b.server.Process.Pid, "VmRSS"), heapBytes: m["go_memstats_heap_inuse_bytes"],
		stackBytes: m["go_memstats_stack_inuse_bytes"], goroutines: m["go_goroutines"]}, nil
}

// establishedOn counts the established TCP sockets whose local port is
// port: the server's side of its agents' connections.
func establishedOn(port int) int {
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 4 || fs[3] != "01" {
				continue
			}
			_, p, ok := strings.Cut(fs[1], ":")
			if v, err := strconv.ParseInt(p, 16, 32); ok && err == nil && int(v) == port {
				n++
			}
		}
	}
	return n
}

// settled waits up to timeout for the server to hold exactly n agent
// connections on port, and returns how many it holds.
func settled(port, n int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		got := establishedOn(port)
		if got == n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// restartServer stops the server process (SIGTERM, as a service manager
// does; SIGKILL if it lingers) and starts it again on the same data and
// ports. It returns how long the stop took and when the new process started.
func (b *targetBench) restartServer() (stopTook time.Duration, started time.Time, err error) {
	stop := time.Now()
	b.server.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { b.server.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		b.server.Process.Kill()
		<-done
	}
	stopTook = time.Since(stop)
	next := exec.Command(b.server.Path, b.server.Args[1:]...)
	next.Stdout, next.Stderr = io.Discard, os.Stderr
	started = time.Now()
	if err := next.Start(); err != nil {
		return stopTook, started, err
	}
	b.server = next
	return stopTook, started, nil
}

// waitReady waits until the API answers.
func (b *targetBench) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := b.c.Root(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server did not come back within %s: %w", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startPollingProcess runs a polling agent process whose identity is
// already in home, feeding its log to the tracker as agent i.
func (b *targetBench) startPollingProcess(home, name string, t *connTracker, i int) error {
	cmd := exec.Command(b.binary, "agent", "--home", home, "--name", name, "--server", b.polling, "--trust", b.thumb)
	cmd.Env = append(os.Environ(), "PULPO_SERVER=", "PULPO_API_KEY=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	b.agents = append(b.agents, cmd)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			switch line := sc.Text(); {
			case strings.Contains(line, `msg="`+msgConnected+`"`):
				t.connected(i)
			case strings.Contains(line, `msg="`+msgUnreachable+`"`):
				t.unreachable(i)
			case strings.Contains(line, `msg="`+msgEnded+`"`):
				t.ended(i)
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	return nil
}

// manyAgents is issue 11's scenario 4: a server with many polling agents,
// some real processes and most simulated in this process. It measures the
// server idle with all connected (memory, CPU, memory per connection), the
// time for all to reconnect after a server restart, and the time to check
// the health of all.
func manyAgents(ctx context.Context, o manyAgentsOptions) ([]Result, error) {
	n := o.Processes + o.Simulated
	if n == 0 {
		return nil, errors.New("no agents")
	}
	logf := func(format string, args ...any) {
		if !o.Quiet {
			fmt.Fprintf(os.Stderr, "many-agents: "+format+"\n", args...)
		}
	}
	// This process holds the simulated agents' sockets and the processes'
	// pipes; the server (started from here, so it inherits the limit) one
	// socket per agent.
	limit, err := raiseFileLimit(uint64(n + o.Simulated + 2*o.Processes + 1024))
	if err != nil {
		return nil, err
	}
	b, err := startTargetBench(ctx)
	if err != nil {
		return nil, err
	}
	defer b.close()
	_, pport, _ := strings.Cut(b.polling, ":")
	pollingPort, _ := strconv.Atoi(pport)

	env, err := b.c.CreateEnvironment(ctx, model.Environment{Name: "Many"})
	if err != nil {
		return nil, err
	}
	// No scheduled checks: the idle figures are the connections' own, and
	// the check-all below is the only one.
	policy, err := b.c.CreateMachinePolicy(ctx, model.MachinePolicy{Name: "Many agents", WhenUnavailable: model.UnavailableFail})
	if err != nil {
		return nil, err
	}

	// Each agent's certificate is made first and registered, so no agent is
	// turned away (and backs off) before the server knows it.
	type one struct{ name, home string }
	agents := make([]one, n)
	for i := range agents {
		if i < o.Processes {
			agents[i].name = fmt.Sprintf("proc-%03d", i)
		} else {
			agents[i].name = fmt.Sprintf("sim-%04d", i-o.Processes)
		}
		agents[i].home = filepath.Join(b.dir, "agents", agents[i].name)
	}
	start := time.Now()
	if err := parallel(n, 8, func(i int) error {
		id, err := agent.Identity(agents[i].home, agents[i].name)
		if err != nil {
			return err
		}
		_, err = b.c.CreateMachine(ctx, model.Machine{Name: agents[i].name, Kind: model.MachinePolling, Usage: model.UsageTarget,
			Thumbprint: id.Thumbprint, EnvironmentIDs: []string{env.ID}, Roles: []string{"many"}, PolicyID: policy.ID})
		return err
	}); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	logf("registered %d machines in %s", n, time.Since(start).Round(time.Millisecond))

	time.Sleep(3 * time.Second)
	none, err := b.snapshot(ctx)
	if err != nil {
		return nil, err
	}

	// A simulated agent's first answer hashes its runner binary, once per
	// agent; thousands of them hashing the bench's 50 MB binary on this
	// machine's CPUs would be work no real fleet puts on one machine, so
	// they name a small wrapper of it instead (scripts still run).
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	runner := filepath.Join(b.dir, "sim-runner")
	if err := os.WriteFile(runner, []byte("#!/bin/sh\nexec "+strconv.Quote(exe)+" \"$@\"\n"), 0o755); err != nil {
		return nil, err
	}

	tracker := newConnTracker(n)
	agentCtx, stopAgents := context.WithCancel(ctx)
	var dones []<-chan struct{}
	defer func() {
		stopAgents()
		for _, d := range dones {
			<-d
		}
	}()
	start = time.Now()
	for i, a := range agents {
		if i < o.Processes {
			if err := b.startPollingProcess(a.home, a.name, tracker, i); err != nil {
				return nil, err
			}
			continue
		}
		ag, err := agent.New(agent.Config{Home: a.home, Version: "bench", Logger: slog.New(trackingHandler{tracker, i}),
			Supervisor: []string{runner, scriptsvc.SupervisorCommand},
			Settings:   agent.Settings{Name: a.name, Server: b.polling, TrustedServers: []string{b.thumb}}})
		if err != nil {
			return nil, err
		}
		done, err := ag.Start(agentCtx)
		if err != nil {
			return nil, err
		}
		dones = append(dones, done)
	}
	if _, err := tracker.waitAll(ctx, start, 3*time.Minute); err != nil {
		return nil, fmt.Errorf("first connection: %w", err)
	}
	firstAll := time.Since(start)
	logf("all %d agents connected in %s (%d failed dials)", n, firstAll.Round(time.Millisecond), tracker.failures())

	// (a) Idle, all connected.
	time.Sleep(min(10*time.Second, max(2*time.Second, o.Idle/6)))
	if got := settled(pollingPort, n, 30*time.Second); got != n {
		return nil, fmt.Errorf("the server holds %d agent connections, not %d", got, n)
	}
	pid := b.server.Process.Pid
	cpu0, err := cpuTicks(pid)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	time.Sleep(o.Idle)
	cpu1, err := cpuTicks(pid)
	if err != nil {
		return nil, err
	}
	window := time.Since(t0)
	all, err := b.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	cpuPct := float64(cpu1-cpu0) / clockTicks / window.Seconds() * 100
	perConn := float64(all.rssKiB-none.rssKiB) / float64(n)
	heapPerConn := (all.heapBytes + all.stackBytes - none.heapBytes - none.stackBytes) / 1024 / float64(n)
	what := fmt.Sprintf("%d processes + %d simulated", o.Processes, o.Simulated)
	idle := Result{Database: "sqlite", Runs: n,
		Scenario: fmt.Sprintf("many agents: idle, all connected (%s): server RSS %.0f MiB, CPU %.1f%%, %.1f KiB/connection",
			what, float64(all.rssKiB)/1024, cpuPct, perConn),
		ServerRSSMiB: float64(all.rssKiB) / 1024, ServerCPUPercent: cpuPct, PerConnectionKiB: perConn,
		Note: fmt.Sprintf("server RSS %.1f MiB with none connected, %.1f MiB with %d connected; Go heap in use %.1f → %.1f MiB, "+
			"goroutine stacks %.1f → %.1f MiB, goroutines %.0f → %.0f (%.1f per connection); heap+stacks %.1f KiB per connection; "+
			"CPU %.2f%% of one core over %s idle (machines on a policy without scheduled health checks); first connection of all took %s; "+
			"open-file limit %d (the server inherits it); target < 64 KiB per connection",
			float64(none.rssKiB)/1024, float64(all.rssKiB)/1024, n, none.heapBytes/(1<<20), all.heapBytes/(1<<20),
			none.stackBytes/(1<<20), all.stackBytes/(1<<20), none.goroutines, all.goroutines, (all.goroutines-none.goroutines)/float64(n),
			heapPerConn, cpuPct, window.Round(time.Second), firstAll.Round(time.Millisecond), limit)}
	logf("idle: %s", idle.Note)

	// (b) Reconnect after a server restart.
	var delays []time.Duration
	var rounds []string
	for r := 0; r < o.Restarts; r++ {
		failedBefore := tracker.failures()
		benchCPU0, _ := cpuTicks(os.Getpid())
		stopTook, started, err := b.restartServer()
		if err != nil {
			return nil, err
		}
		if err := b.waitReady(ctx, time.Minute); err != nil {
			return nil, err
		}
		ready := time.Since(started)
		conns, err := tracker.waitAll(ctx, started, 3*time.Minute)
		if err != nil {
			return nil, fmt.Errorf("restart %d: %w", r+1, err)
		}
		serverCPU, _ := cpuTicks(b.server.Process.Pid)
		benchCPU1, _ := cpuTicks(os.Getpid())
		var worst time.Duration
		for _, c := range conns {
			d := c.Sub(started)
			delays = append(delays, d)
			worst = max(worst, d)
		}
		last, again := tracker.lastEnd(started.Add(-stopTook-time.Millisecond), started)
		round := fmt.Sprintf("all in %s (API up %s after start, stop took %s, last agent saw the drop at %s, %d failed dials; "+
			"CPU meanwhile: server %.2f s, bench with the simulated agents %.2f s)",
			worst.Round(time.Millisecond), ready.Round(time.Millisecond), stopTook.Round(time.Millisecond), last.Sub(started).Round(time.Millisecond),
			tracker.failures()-failedBefore, float64(serverCPU)/clockTicks, float64(benchCPU1-benchCPU0)/clockTicks)
		if again > 0 {
			round += fmt.Sprintf(" [%d connections made after the restart ended again]", again)
		}
		if got := settled(pollingPort, n, 20*time.Second); got != n {
			round += fmt.Sprintf(" [the server then held %d agent connections for %d agents]", got, n)
		}
		rounds = append(rounds, round)
		logf("restart %d: %s", r+1, round)
		time.Sleep(3 * time.Second)
	}
	var results []Result
	results = append(results, idle)
	if len(delays) > 0 {
		rr := summarize(delays)
		rr.Database = "sqlite"
		rr.Scenario = fmt.Sprintf("many agents: reconnect all after a server restart (%s)", what)
		rr.Note = fmt.Sprintf("each agent's time from the new server process's start to its connection (the server has accepted it), "+
			"%d restart(s) by SIGTERM: %s; max is all reconnected; target 5 s", o.Restarts, strings.Join(rounds, "; "))
		results = append(results, rr)
	}

	// (c) Health check of all machines. The API checks one machine a
	// request; "pulpo machine health" checks all one by one, so that is
	// measured, and so are concurrent requests.
	machines, err := b.c.Machines(ctx, client.ListOptions{})
	if err != nil {
		return nil, err
	}
	if len(machines) != n {
		return nil, fmt.Errorf("%d machines listed, not %d", len(machines), n)
	}
	// Warm up: each agent's first answer hashes its runner binary (the
	// processes' 50 MB pulpo binary), once in its life; the check-alls
	// measured are the ones after that.
	warm := time.Now()
	if err := parallel(n, max(1, o.HealthWorkers), func(i int) error {
		_, err := b.c.CheckHealth(ctx, machines[i].ID)
		return err
	}); err != nil {
		return nil, fmt.Errorf("health check: %w", err)
	}
	logf("warm-up check of all took %s", time.Since(warm).Round(time.Millisecond))
	for _, workers := range []int{1, o.HealthWorkers} {
		var mu sync.Mutex
		times := make([]time.Duration, 0, n)
		bad := 0
		start := time.Now()
		if err := parallel(n, workers, func(i int) error {
			s := time.Now()
			m, err := b.c.CheckHealth(ctx, machines[i].ID)
			if err != nil {
				return err
			}
			mu.Lock()
			times = append(times, time.Since(s))
			if m.Health.Status != model.HealthHealthy {
				bad++
			}
			mu.Unlock()
			return nil
		}); err != nil {
			return nil, fmt.Errorf("health check: %w", err)
		}
		took := time.Since(start)
		if bad > 0 {
			return nil, fmt.Errorf("health check: %d of %d machines are not healthy", bad, n)
		}
		h := summarize(times)
		h.Database = "sqlite"
		h.PerSec = float64(n) / took.Seconds()
		how := "one by one, as pulpo machine health does"
		if workers > 1 {
			how = fmt.Sprintf("%d requests at once", workers)
		}
		h.Scenario = fmt.Sprintf("many agents: health check of all (%s), %s: %.1f s", what, how, took.Seconds())
		h.Note = fmt.Sprintf("POST /api/v1/machines/{id}/health for each of %d machines (the API has no check-all), %s; all %s; "+
			"times are per check; all Healthy; measured after a first check of all (each agent hashes its runner binary on its first answer)", n, how, took.Round(time.Millisecond))
		results = append(results, h)
		logf("health: %s", h.Note)
		if o.HealthWorkers <= 1 {
			break
		}
	}
	return results, nil
}

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(n, workers int, f func(i int) error) error {
	var next int
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for w := 0; w < max(1, workers); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("%d: %w", i, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

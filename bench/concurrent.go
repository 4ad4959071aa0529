package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// The "concurrent" group: many projects deploying at once to shared
// listening agents, and how long the whole burst takes (the makespan: the
// first ask → the last task's success) at several task caps (the server's
// --task-slots), against the ideal the cap allows.
//
// Every project deploys one step, a light script (echo, then a sleep), to
// all the agents at once (the step's parallelism is the number of
// targets). The agents are shared by all projects: T agent processes, not
// P×T. Deployment scripts run one at a time on a target by default
// (Octopus's deployment mutex), which would make the shared targets, not
// the cap, the limit; so the projects set OctopusBypassDeploymentMutex, as
// people do for scripts that may run side by side. One extra row keeps the
// mutex at the largest cap, to show what the default costs.

// concurrentLoad is the work of one burst.
type concurrentLoad struct {
	projects, targets int
	sleep             time.Duration
}

func (l concurrentLoad) script() string {
	return fmt.Sprintf("echo ok; sleep %g", l.sleep.Seconds())
}

// ideal is the shortest makespan the cap allows: slots deployments at a
// time, each running its sleep on all its targets at once, so waves of
// slots deployments, each wave as long as the sleep: ⌈projects ÷ slots⌉ ×
// sleep (= total work projects×targets×sleep ÷ parallelism slots×targets,
// when slots divides projects). With the deployment mutex, a target runs
// one script at a time, so it is at least projects × sleep.
func (l concurrentLoad) ideal(slots int, mutex bool) time.Duration {
	waves := (l.projects + slots - 1) / slots
	if mutex {
		waves = max(waves, l.projects)
	}
	return time.Duration(waves) * l.sleep
}

// concurrentDeployments measures a burst of load.projects deployments at
// each cap in slots, runs times (after a one-deployment warm-up); with
// mutexToo, once more at the largest cap with the deployment mutex kept.
func concurrentDeployments(ctx context.Context, load concurrentLoad, slots []int, runs int, mutexToo bool) ([]Result, error) {
	type setup struct {
		slots int
		mutex bool
	}
	var setups []setup
	for _, s := range slots {
		setups = append(setups, setup{s, false})
	}
	if mutexToo && len(slots) > 0 {
		setups = append(setups, setup{slices.Max(slots), true})
	}
	var results []Result
	for _, s := range setups {
		spans, ph, err := concurrentAtCap(ctx, load, s.slots, runs, s.mutex)
		if err != nil {
			return nil, fmt.Errorf("%d task slots: %w", s.slots, err)
		}
		compare := fmt.Sprintf("%d projects × %d targets (%d task slots)", load.projects, load.targets, s.slots)
		tool, idealTool := fmt.Sprintf("pulpo, %d slots", s.slots), fmt.Sprintf("ideal, %d slots", s.slots)
		idealNote := fmt.Sprintf("⌈%d projects ÷ %d slots⌉ × %v sleep: %d deployments at a time, each on its %d targets at once; no process start, no coordination",
			load.projects, s.slots, load.sleep, min(s.slots, load.projects), load.targets)
		if s.mutex {
			compare = fmt.Sprintf("%d projects × %d targets (%d task slots, deployment mutex on)", load.projects, load.targets, s.slots)
			tool, idealTool = tool+", mutex", idealTool+", mutex"
			idealNote = fmt.Sprintf("one script at a time per target: %d projects × %v sleep on every target", load.projects, load.sleep)
		}
		r := summarize(spans)
		r.Database, r.Compare, r.Tool = "sqlite", compare, tool
		r.Scenario = fmt.Sprintf("concurrent: %d deployments × %d listening agents, %d slots%s (makespan)", load.projects, load.targets, s.slots,
			map[bool]string{true: ", mutex on", false: ""}[s.mutex])
		r.Note = ph.String()
		ideal := msOf(load.ideal(s.slots, s.mutex))
		results = append(results, r, Result{Compare: compare, Tool: idealTool, MinMs: ideal, MedianMs: ideal, P90Ms: ideal, P99Ms: ideal, MaxMs: ideal,
			Scenario: "concurrent: ideal, " + strings.TrimPrefix(tool, "pulpo, "), Note: idealNote})
	}
	return results, nil
}

// burstPhases is where a burst's time goes, medians over all its tasks
// (and runs), from the server's own timestamps.
type burstPhases struct {
	asked    []time.Duration // the first ask → the last ask answered
	wait     []time.Duration // a task queued → started
	run      []time.Duration // a task started → ended
	toScript []time.Duration // a task started → its first target started
	script   []time.Duration // one target's script, as the server saw it
	wrapUp   []time.Duration // the last target ended → the task ended
	// CPU time used during the burst: by the server, by the agents, and by
	// the processes the agents started for the scripts (supervisors,
	// shells, sleep), once they have ended.
	serverCPU, agentCPU, scriptCPU []time.Duration
	// machineBusy is the share of the machine's CPU time busy during the
	// burst, whoever used it (other work on the machine included).
	machineBusy []float64
	scripts     int // scripts run in each burst
}

func (p burstPhases) String() string {
	m := func(ts []time.Duration) string {
		if len(ts) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f", msOf(medianOf(ts)))
	}
	perScript := func(ts []time.Duration) string {
		if len(ts) == 0 || p.scripts == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", msOf(medianOf(ts))/float64(p.scripts))
	}
	var sum []time.Duration
	for i := range p.serverCPU {
		sum = append(sum, p.serverCPU[i]+p.agentCPU[i]+p.scriptCPU[i])
	}
	busy := "-"
	if len(p.machineBusy) > 0 {
		bs := slices.Clone(p.machineBusy)
		slices.Sort(bs)
		busy = fmt.Sprintf("%.0f%%", 100*bs[len(bs)/2])
	}
	return fmt.Sprintf("medians, ms: all asks answered %s; queued→started %s; task run %s (start→first script %s, one target's script %s, last script→end %s); "+
		"CPU per script: server %s, agent %s, its script processes (supervisor, bash, sleep) %s; the burst's CPU ÷ %d CPUs: %s; machine busy %s (other work included)",
		m(p.asked), m(p.wait), m(p.run), m(p.toScript), m(p.script), m(p.wrapUp),
		perScript(p.serverCPU), perScript(p.agentCPU), perScript(p.scriptCPU), runtime.NumCPU(), cpuFloor(sum), busy)
}

// cpuFloor is the median CPU time of a burst spread over every CPU: the
// shortest makespan that work allows on this machine.
func cpuFloor(ts []time.Duration) string {
	if len(ts) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f ms", msOf(medianOf(ts))/float64(runtime.NumCPU()))
}

// concurrentAtCap runs a server with the given task slots, load.targets
// listening agents and load.projects projects, and times runs bursts.
func concurrentAtCap(ctx context.Context, load concurrentLoad, slots, runs int, mutex bool) ([]time.Duration, burstPhases, error) {
	var ph burstPhases
	b, err := startTargetBench(ctx, "--task-slots", strconv.Itoa(slots))
	if err != nil {
		return nil, ph, err
	}
	defer b.close()
	env, err := b.c.CreateEnvironment(ctx, model.Environment{Name: "Bench"})
	if err != nil {
		return nil, ph, err
	}
	for i := 0; i < load.targets; i++ {
		if err := b.startAgent(ctx, fmt.Sprintf("shared-%02d", i), "listening", env.ID, "web"); err != nil {
			return nil, ph, err
		}
	}
	releases := make([]string, load.projects)
	for i := range releases {
		p, err := b.c.CreateProject(ctx, model.Project{Name: fmt.Sprintf("concurrent-%02d", i)})
		if err != nil {
			return nil, ph, err
		}
		if !mutex {
			if _, err := b.c.SaveVariables(ctx, model.VariableSet{OwnerID: p.ID, Variables: []model.Variable{
				{Name: "OctopusBypassDeploymentMutex", Value: "True"}}}); err != nil {
				return nil, ph, err
			}
		}
		if _, err := b.c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Light", TargetRoles: []string{"web"},
			MaxParallelism: load.targets, Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: load.script()}}}}); err != nil {
			return nil, ph, err
		}
		r, err := b.c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID, Version: "1.0.0"})
		if err != nil {
			return nil, ph, err
		}
		releases[i] = r.Release.ID
	}
	// One deployment first: the server dials the agents and uploads nothing
	// more after that.
	if _, _, err := b.deployAndWait(ctx, releases[0], env.ID); err != nil {
		return nil, ph, fmt.Errorf("warm-up: %w", err)
	}
	ph.scripts = load.projects * load.targets
	var spans []time.Duration
	for run := 0; run < runs; run++ {
		span, err := burst(ctx, b, releases, env.ID, load.targets, &ph)
		if err != nil {
			return nil, ph, err
		}
		spans = append(spans, span)
	}
	return spans, ph, nil
}

// burst asks for every release's deployment at once and waits for all to
// succeed; the makespan ends at the last task's completion as the server
// recorded it (same machine, same clock).
func burst(ctx context.Context, b *targetBench, releases []string, envID string, targets int, ph *burstPhases) (time.Duration, error) {
	type cpuAt struct{ server, agents, scripts, busy, total time.Duration }
	cpu := func() (c cpuAt) {
		c.server, _ = cpuTimes(b.server.Process.Pid)
		for _, a := range b.agents {
			self, children := cpuTimes(a.Process.Pid)
			c.agents, c.scripts = c.agents+self, c.scripts+children
		}
		c.busy, c.total = machineCPU()
		return c
	}
	cpu0 := cpu()
	tasks := make([]string, len(releases))
	errs := make([]error, len(releases))
	start := time.Now()
	var wg sync.WaitGroup
	for i, rel := range releases {
		wg.Go(func() {
			d, err := b.c.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: rel, EnvironmentID: envID})
			tasks[i], errs[i] = d.TaskID, err
		})
	}
	wg.Wait()
	ph.asked = append(ph.asked, time.Since(start))
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	var last time.Time
	for _, id := range tasks {
		var end model.Task
		if err := b.c.FollowLog(ctx, id, 1<<62, func(ev client.Event) error {
			if ev.Kind == "end" {
				end = ev.Task
			}
			return nil
		}); err != nil {
			return 0, err
		}
		if end.State != model.TaskSuccess || end.CompletedAt == nil || end.StartedAt == nil {
			return 0, fmt.Errorf("task %s ended %s: %s", id, end.State, end.Error)
		}
		if end.CompletedAt.After(last) {
			last = *end.CompletedAt
		}
	}
	span := last.Sub(start)
	cpu1 := cpu()
	ph.serverCPU = append(ph.serverCPU, cpu1.server-cpu0.server)
	ph.agentCPU = append(ph.agentCPU, cpu1.agents-cpu0.agents)
	ph.scriptCPU = append(ph.scriptCPU, cpu1.scripts-cpu0.scripts)
	if total := cpu1.total - cpu0.total; total > 0 {
		ph.machineBusy = append(ph.machineBusy, float64(cpu1.busy-cpu0.busy)/float64(total))
	}
	// Where the time went, from the server's records.
	for _, id := range tasks {
		l, err := b.c.TaskLog(ctx, id, 1<<62)
		if err != nil {
			return 0, err
		}
		t := l.Task
		ph.wait = append(ph.wait, t.StartedAt.Sub(t.QueuedAt))
		ph.run = append(ph.run, t.CompletedAt.Sub(*t.StartedAt))
		var first, lastEnd time.Time
		n := 0
		for _, a := range l.Activities {
			if a.Kind != model.ActivityTarget || a.StartedAt == nil || a.EndedAt == nil {
				continue
			}
			n++
			ph.script = append(ph.script, a.EndedAt.Sub(*a.StartedAt))
			if first.IsZero() || a.StartedAt.Before(first) {
				first = *a.StartedAt
			}
			if a.EndedAt.After(lastEnd) {
				lastEnd = *a.EndedAt
			}
		}
		if n != targets {
			return 0, fmt.Errorf("task %s ran on %d targets, want %d", id, n, targets)
		}
		ph.toScript = append(ph.toScript, first.Sub(*t.StartedAt))
		ph.wrapUp = append(ph.wrapUp, t.CompletedAt.Sub(lastEnd))
	}
	return span, nil
}

// cpuTimes are the user and system CPU time a process has used, and that
// of its children it has waited for (an agent waits for the supervisors it
// starts, which wait for their shells), from /proc.
func cpuTimes(pid int) (self, children time.Duration) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	// The fields after the command name (which may hold spaces) start at
	// the 3rd: utime, stime, cutime and cstime are the 14th to 17th, in
	// clock ticks (100 a second on Linux).
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 15 {
		return 0, 0
	}
	tick := func(i int) time.Duration {
		n, _ := strconv.Atoi(fields[i])
		return time.Duration(n) * 10 * time.Millisecond
	}
	return tick(11) + tick(12), tick(13) + tick(14)
}

// machineCPU is the busy and total CPU time of the whole machine so far,
// summed over its CPUs, from /proc/stat.
func machineCPU() (busy, total time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	for i, f := range strings.Fields(line)[1:] {
		n, _ := strconv.Atoi(f)
		d := time.Duration(n) * 10 * time.Millisecond
		total += d
		if i != 3 && i != 4 { // idle, iowait
			busy += d
		}
	}
	return busy, total
}

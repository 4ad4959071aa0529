// Command bench measures Pulpo's foundation figures on this machine:
//
//   - deploy latency: from asking for a deployment to seeing its task
//     succeed (through the live log stream, as "pulpo task watch" does), for
//     a one-step "echo ok" on the built-in worker;
//
//   - API throughput: listing 1,000 projects in one page, from several
//     concurrent clients.
//
//   - per-step latency: 20 sequential "echo ok" steps on a listening agent,
//     a polling agent and an SSH target (a real sshd on loopback);
//
//   - fan-out: one step on 50 listening agents, with the server's peak
//     memory and an idle agent's memory.
//
//   - portal: the dashboard page with 500 projects × 10 environments, each
//     cell holding a deployment, and its live grid fragment;
//
//   - queue: 5,000 trivial tasks queued at once (dispatches a second), and
//     tasks queued one every 5 ms (queued→running latency), on SQLite with
//     one node and on PostgreSQL with two.
//
//   - many agents: 200 polling agent processes and 3,000 simulated ones
//     (the agent package run in the bench, each with its own certificate):
//     the idle server's memory, CPU and memory per connection, the time for
//     all to reconnect after a server restart, and a health check of all.
//
//   - peers-steps: the per-step latency of the three target kinds beside
//     ssh (with and without ControlMaster) and Ansible's command module
//     (default and tuned), 20 sequential "echo ok" on one host;
//
//   - concurrent: 50 projects deploying a light script to 10 shared
//     listening agents all at once, the makespan at several task caps
//     against the ideal each cap allows.
//
//   - peers-fanout: a 50 MiB tar.gz extracted on 1, 10 and 50 targets and a
//     script run there, then redeployed as is and with one file changed,
//     by Pulpo (listening agents), Ansible (default and tuned) and rsync
//     over ssh to every host at once, against the loopback TLS limit.
//
// The first two run on embedded SQLite and on a throwaway PostgreSQL
// cluster; the target scenarios run a real server process and real agent
// processes on SQLite.
// Usage: go run ./bench [-runs 200] [-duration 5s] [-clients 8] [-no-targets] [-only GROUPS] [-peer-runs 3] [-json out.json]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
	"github.com/pulpo-deploy/pulpo/internal/server"
	"github.com/pulpo-deploy/pulpo/internal/testutil/pgtest"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

const key = "API-BENCHMARKKEY0123456789"

// Result is one measured figure set.
type Result struct {
	Database string  `json:"database"`
	Scenario string  `json:"scenario"`
	Runs     int     `json:"runs"`
	MinMs    float64 `json:"minMs"`
	MedianMs float64 `json:"medianMs"`
	P90Ms    float64 `json:"p90Ms"`
	P99Ms    float64 `json:"p99Ms"`
	MaxMs    float64 `json:"maxMs"`
	PerSec   float64 `json:"perSecond,omitempty"`
	// Memory, for the fan-out scenario.
	ServerPeakMiB float64 `json:"serverPeakMiB,omitempty"`
	AgentIdleMiB  float64 `json:"agentIdleMiB,omitempty"`
	// The server idle with many agents connected: RSS, CPU (% of one
	// core) and RSS per idle connection.
	ServerRSSMiB     float64 `json:"serverRSSMiB,omitempty"`
	ServerCPUPercent float64 `json:"serverCPUPercent,omitempty"`
	PerConnectionKiB float64 `json:"perConnectionKiB,omitempty"`
	// Comparison with the tools people use instead: rows of one Compare
	// group measure the same work; Tool says who did it ("pulpo" or a
	// peer such as "ansible (default)", "rsync+ssh"), and the comparison
	// table gives each peer's ratio to Pulpo's median.
	Compare string `json:"compare,omitempty"`
	Tool    string `json:"tool,omitempty"`
	// BytesOnWire is what crossed the network per run, where measured.
	BytesOnWire int64 `json:"bytesOnWire,omitempty"`
	// Note says what limits the figure or how it was taken.
	Note string `json:"note,omitempty"`
}

func main() {
	scriptsvc.RunIfSupervisor() // this binary is the built-in worker's supervisor too
	runs := flag.Int("runs", 200, "deployments to time")
	duration := flag.Duration("duration", 5*time.Second, "how long to load the list endpoint")
	clients := flag.Int("clients", 8, "concurrent clients listing projects")
	jsonOut := flag.String("json", "", "also write the results as JSON to this file")
	skipPG := flag.Bool("no-postgres", false, "measure SQLite only")
	skipTargets := flag.Bool("no-targets", false, "skip the agent and SSH scenarios")
	stepRounds := flag.Int("step-rounds", 5, "deployments of 20 steps per target kind")
	fan := flag.Int("fan-out", 50, "agents for the fan-out scenario")
	fanRounds := flag.Int("fan-rounds", 5, "fan-out deployments to time")
	only := flag.String("only", "", "run only these scenario groups, comma-separated: api, steps, fan-out, packages, queue, portal, many-agents, peers-steps, concurrent, peers-fanout (default all)")
	queueTasks := flag.Int("queue-tasks", 5000, "trivial tasks in the queue burst")
	manyOpts := manyAgentsOptions{}
	flag.IntVar(&manyOpts.Processes, "many-processes", 200, "many-agents: polling agent processes")
	flag.IntVar(&manyOpts.Simulated, "many-simulated", 3000, "many-agents: simulated polling agents in the bench process")
	flag.DurationVar(&manyOpts.Idle, "many-idle", time.Minute, "many-agents: window the idle server's CPU is measured over")
	flag.IntVar(&manyOpts.Restarts, "many-restarts", 3, "many-agents: server restarts to time reconnection over")
	flag.IntVar(&manyOpts.HealthWorkers, "many-health-workers", 16, "many-agents: health checks in flight in the concurrent check-all")
	peerRuns := flag.Int("peer-runs", 3, "times each comparison with a peer tool, and each concurrent burst, is repeated (median, min–max)")
	fanSizes := flag.String("fan-sizes", "1,10,50", "peers-fanout: numbers of targets the package goes to, comma-separated")
	packageMiB := flag.Int("package-mib", 50, "peers-fanout: the package's size in MiB")
	concurrentSlots := flag.String("concurrent-slots", "5,10,25,50", "task caps (--task-slots) the concurrent deployments run at, comma-separated")
	flag.Parse()
	run := func(group string) bool {
		return *only == "" || slices.Contains(strings.Split(*only, ","), group)
	}

	ctx := context.Background()
	var results []Result
	dbs := []string{"sqlite"}
	if !*skipPG {
		dbs = append(dbs, "postgres")
	}
	if !run("api") {
		dbs = nil
	}
	for _, db := range dbs {
		url := ""
		if db == "postgres" {
			cluster, err := pgtest.Start(ctx)
			if err != nil {
				fail("start PostgreSQL: %v", err)
			}
			defer cluster.Stop()
			if url, err = cluster.NewDatabase(ctx); err != nil {
				fail("%v", err)
			}
		}
		rs, err := measure(ctx, db, url, *runs, *duration, *clients)
		if err != nil {
			fail("%s: %v", db, err)
		}
		results = append(results, rs...)
	}

	if !*skipTargets && run("steps") {
		rs, err := stepLatency(ctx, *stepRounds)
		if err != nil {
			fail("step latency: %v", err)
		}
		results = append(results, rs...)
	}
	if !*skipTargets && run("fan-out") {
		rs, err := fanOut(ctx, *fan, *fanRounds)
		if err != nil {
			fail("fan-out: %v", err)
		}
		results = append(results, rs...)
	}
	if !*skipTargets && run("packages") {
		rs, err := packageScenarios(ctx, 10)
		if err != nil {
			fail("packages: %v", err)
		}
		results = append(results, rs...)
	}
	if !*skipTargets && run("peers-fanout") {
		sizes, err := parseIntList(*fanSizes)
		if err != nil {
			fail("-fan-sizes: %v", err)
		}
		rs, err := peersFanout(ctx, peersConfig{Sizes: sizes, Runs: *peerRuns, PackageBytes: int64(*packageMiB) << 20, Progress: os.Stderr})
		if err != nil {
			fail("peers-fanout: %v", err)
		}
		results = append(results, rs...)
	}

	if !*skipTargets && run("peers-steps") {
		rs, err := peerStepLatency(ctx, 20, *peerRuns)
		if err != nil {
			fail("per-step latency against peers: %v", err)
		}
		results = append(results, rs...)
	}
	if !*skipTargets && run("concurrent") {
		var slots []int
		for _, f := range strings.Split(*concurrentSlots, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				fail("-concurrent-slots takes positive numbers, such as 5,10,25,50, not %q", *concurrentSlots)
			}
			slots = append(slots, n)
		}
		rs, err := concurrentDeployments(ctx, concurrentLoad{projects: 50, targets: 10, sleep: 200 * time.Millisecond}, slots, *peerRuns, true)
		if err != nil {
			fail("concurrent deployments: %v", err)
		}
		results = append(results, rs...)
	}

	if !*skipTargets && run("many-agents") {
		rs, err := manyAgents(ctx, manyOpts)
		if err != nil {
			fail("many agents: %v", err)
		}
		results = append(results, rs...)
	}

	if run("portal") {
		rs, err := portalDashboard(ctx, 500, 10, 20)
		if err != nil {
			fail("portal: %v", err)
		}
		results = append(results, rs...)
	}
	if run("queue") {
		rs, err := queueScenarios(ctx, *queueTasks, *skipPG)
		if err != nil {
			fail("queue: %v", err)
		}
		results = append(results, rs...)
	}

	fmt.Printf("Pulpo benchmark, %s, %d CPUs, %s\n\n", time.Now().Format("2006-01-02"), runtime.NumCPU(), runtime.Version())
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "database\tscenario\truns\tmin ms\tmedian ms\tp90 ms\tp99 ms\tmax ms\tper second\t")
	for _, r := range results {
		per := ""
		if r.PerSec > 0 {
			per = fmt.Sprintf("%.0f", r.PerSec)
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t\n", r.Database, r.Scenario, r.Runs, r.MinMs, r.MedianMs, r.P90Ms, r.P99Ms, r.MaxMs, per)
	}
	w.Flush()
	printComparisons(os.Stdout, results)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			fail("%v", err)
		}
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

func measure(ctx context.Context, db, url string, runs int, duration time.Duration, clients int) ([]Result, error) {
	data, err := os.MkdirTemp("", "pulpo-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(data)
	n, err := server.New(ctx, server.Config{DataDir: data, DatabaseURL: url, AdminAPIKey: key, NodeName: "bench", Version: "bench"})
	if err != nil {
		return nil, err
	}
	defer n.Close()
	hs := httptest.NewServer(n.Handler())
	defer hs.Close()
	c, err := client.New(hs.URL, key)
	if err != nil {
		return nil, err
	}

	deploy, err := deployLatency(ctx, c, runs)
	if err != nil {
		return nil, err
	}
	deploy.Database = db
	list, err := listThroughput(ctx, c, hs.URL, duration, clients)
	if err != nil {
		return nil, err
	}
	list.Database = db
	return []Result{deploy, list}, nil
}

func deployLatency(ctx context.Context, c *client.Client, runs int) (Result, error) {
	env, err := c.CreateEnvironment(ctx, model.Environment{Name: "Bench"})
	if err != nil {
		return Result{}, err
	}
	p, err := c.CreateProject(ctx, model.Project{Name: "echo"})
	if err != nil {
		return Result{}, err
	}
	if _, err := c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{
		{Name: "Echo", Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo ok"}}}}); err != nil {
		return Result{}, err
	}
	rel, err := c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID, Version: "1.0.0"})
	if err != nil {
		return Result{}, err
	}
	times := make([]time.Duration, 0, runs)
	for i := 0; i < runs+5; i++ {
		start := time.Now()
		d, err := c.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: rel.ID, EnvironmentID: env.ID})
		if err != nil {
			return Result{}, err
		}
		var end model.Task
		if err := c.FollowLog(ctx, d.TaskID, 0, func(ev client.Event) error {
			if ev.Kind == "end" {
				end = ev.Task
			}
			return nil
		}); err != nil {
			return Result{}, err
		}
		if end.State != model.TaskSuccess {
			return Result{}, fmt.Errorf("deployment %s ended %s: %s", d.ID, end.State, end.Error)
		}
		if i >= 5 { // the first few warm caches and connections up
			times = append(times, time.Since(start))
		}
	}
	r := summarize(times)
	r.Scenario = "deploy → success (echo ok)"
	return r, nil
}

func listThroughput(ctx context.Context, c *client.Client, base string, duration time.Duration, clients int) (Result, error) {
	for i := 0; i < 1000; i++ {
		if _, err := c.CreateProject(ctx, model.Project{Name: fmt.Sprintf("project-%04d", i)}); err != nil {
			return Result{}, err
		}
	}
	var mu sync.Mutex
	var times []time.Duration
	var errs atomic.Int64
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for time.Now().Before(deadline) {
				start := time.Now()
				req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/projects?take=1000", nil)
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := httpClient.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				var page wire.Page[model.Project]
				err = json.NewDecoder(resp.Body).Decode(&page)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || len(page.Items) < 1000 {
					errs.Add(1)
					continue
				}
				local = append(local, time.Since(start))
			}
			mu.Lock()
			times = append(times, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if errs.Load() > 0 {
		return Result{}, fmt.Errorf("%d list requests failed", errs.Load())
	}
	r := summarize(times)
	r.Scenario = fmt.Sprintf("list 1,000 projects (%d clients)", clients)
	r.PerSec = float64(len(times)) / duration.Seconds()
	return r, nil
}

func summarize(ts []time.Duration) Result {
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	q := func(p float64) time.Duration { return ts[min(len(ts)-1, int(p*float64(len(ts))))] }
	return Result{Runs: len(ts), MinMs: ms(ts[0]), MedianMs: ms(q(0.5)), P90Ms: ms(q(0.9)), P99Ms: ms(q(0.99)), MaxMs: ms(ts[len(ts)-1])}
}

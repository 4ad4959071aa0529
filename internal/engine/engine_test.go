package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/localtarget"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/runner"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
	"github.com/pulpo-deploy/pulpo/internal/testutil/pgtest"
)

var pg pgtest.Shared

func TestMain(m *testing.M) {
	scriptsvc.RunIfSupervisor()
	runner.RunIfRunner("test")
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// server is an engine with its runner, as the server wires them.
type server struct {
	t      *testing.T
	store  *store.Store
	engine *engine.Engine
	runner *tasks.Runner
	work   string
	stop   func()
}

func newServer(t *testing.T, s *store.Store, work string, configure ...func(*engine.Config)) *server {
	t.Helper()
	svc, err := scriptsvc.New(work, scriptsvc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	runner := tasks.NewRunner(s, tasks.NewBroker(), tasks.Config{Node: "test-node", Poll: 100 * time.Millisecond})
	cfg := engine.Config{Store: s, Worker: &localtarget.Target{TargetName: "built-in worker", ScriptSvc: svc},
		Queue: runner, StatusWait: 200 * time.Millisecond}
	for _, c := range configure {
		c(&cfg)
	}
	e := engine.New(cfg)
	runner.Handle(model.TaskDeploy, e.DeployHandler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { runner.Run(ctx); close(done) }()
	srv := &server{t: t, store: s, engine: e, runner: runner, work: work}
	srv.stop = func() { cancel(); <-done }
	t.Cleanup(srv.stop)
	return srv
}

func eachStore(t *testing.T, test func(t *testing.T, s *store.Store)) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			cfg := store.Config{DataDir: t.TempDir()}
			if dialect == "postgres" {
				cfg.DatabaseURL = pg.Database(t)
			}
			s, err := store.Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			test(t, s)
		})
	}
}

type fixture struct {
	envs    map[string]model.Environment
	project model.Project
}

// setup creates Dev, Test and Production, a lifecycle with the given
// phases (environment names), and a project with the given script steps.
func setup(t *testing.T, s *store.Store, phases []model.Phase, scripts ...string) fixture {
	t.Helper()
	ctx := context.Background()
	f := fixture{envs: map[string]model.Environment{}}
	err := s.Tx(ctx, func(q *store.Queries) error {
		for _, n := range []string{"Dev", "Test", "Production"} {
			e := model.Environment{Name: n}
			if err := q.CreateEnvironment(ctx, &e); err != nil {
				return err
			}
			f.envs[n] = e
		}
		ids := func(names []string) []string {
			var out []string
			for _, n := range names {
				out = append(out, f.envs[n].ID)
			}
			return out
		}
		for i := range phases {
			phases[i].AutomaticEnvironments = ids(phases[i].AutomaticEnvironments)
			phases[i].ManualEnvironments = ids(phases[i].ManualEnvironments)
		}
		l := model.Lifecycle{Name: "Test lifecycle", Phases: phases}
		if err := q.CreateLifecycle(ctx, &l); err != nil {
			return err
		}
		f.project = model.Project{Name: "web", LifecycleID: l.ID}
		if err := q.CreateProject(ctx, &f.project); err != nil {
			return err
		}
		proc := model.DeploymentProcess{ProjectID: f.project.ID}
		for i, body := range scripts {
			proc.Steps = append(proc.Steps, model.Step{Name: fmt.Sprintf("Step %c", 'A'+i), Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: body}})
		}
		if err := q.SaveProcess(ctx, &proc); err != nil {
			return err
		}
		vars := model.VariableSet{OwnerID: f.project.ID, Variables: []model.Variable{
			{Name: "Greeting", Value: "hello everyone"},
			{Name: "Greeting", Value: "hello dev", Scope: model.Scope{Environments: []string{f.envs["Dev"].ID}}},
			{Name: "Greeting", Value: "hello test", Scope: model.Scope{Environments: []string{f.envs["Test"].ID}}},
		}}
		return q.SaveVariables(ctx, &vars)
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func twoPhases() []model.Phase {
	return []model.Phase{
		{Name: "Pre-production", ManualEnvironments: []string{"Dev", "Test"}, MinimumEnvironmentsBeforePromotion: 1},
		{Name: "Production", ManualEnvironments: []string{"Production"}},
	}
}

func (srv *server) release(f fixture, version string) model.Release {
	srv.t.Helper()
	r := model.Release{ProjectID: f.project.ID, Version: version}
	if _, err := srv.engine.CreateRelease(context.Background(), &r); err != nil {
		srv.t.Fatal(err)
	}
	return r
}

func (srv *server) deploy(r model.Release, env model.Environment) model.Deployment {
	srv.t.Helper()
	d, err := srv.engine.Deploy(context.Background(), engine.DeployRequest{ReleaseID: r.ID, EnvironmentID: env.ID, CreatedBy: "tester"})
	if err != nil {
		srv.t.Fatal(err)
	}
	return d
}

func waitTask(t *testing.T, s *store.Store, id string, want model.TaskState) model.Task {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		task, err := s.Read().GetTask(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if task.State == want {
			return task
		}
		if task.State.Finished() || time.Now().After(deadline) {
			t.Fatalf("task %s is %s (%s), want %s\n%s", id, task.State, task.Error, want, logOf(t, s, id))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func logOf(t *testing.T, s *store.Store, taskID string) string {
	lines, err := s.Read().ReadLog(context.Background(), taskID, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%s %s\n", l.Level, l.Text)
	}
	return b.String()
}

func TestADeploymentRunsItsStepsWithTheEnvironmentsValues(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, twoPhases(), `echo "Greeting: #{Greeting}"`, `echo "step two in #{Octopus.Environment.Name}"; echo oops >&2`)
		srv := newServer(t, s, t.TempDir())
		r := srv.release(f, "1.0.0")
		d := srv.deploy(r, f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log := logOf(t, s, d.TaskID)
		for _, want := range []string{"info Greeting: hello dev\n", "info step two in Dev\n", "warning oops\n", "Deployed web release 1.0.0 to Dev"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
		if strings.Index(log, "Greeting:") > strings.Index(log, "step two") {
			t.Error("steps ran out of order")
		}
		acts, _ := s.Read().ListActivities(context.Background(), d.TaskID)
		if len(acts) != 4 {
			t.Fatalf("want 2 steps with a target each, got %+v", acts)
		}
		for _, a := range acts {
			if a.State != model.ActivitySuccess || a.StartedAt == nil || a.EndedAt == nil {
				t.Errorf("activity %q: %s", a.Name, a.State)
			}
		}
		// Scripts' workspaces are cleaned up once recorded (in the
		// background: nobody waits for it).
		deadline := time.Now().Add(30 * time.Second)
		for {
			var left []string
			entries, _ := os.ReadDir(srv.work)
			for _, e := range entries {
				if e.IsDir() {
					left = append(left, e.Name())
				}
			}
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("workspaces left behind: %v", left)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestTheLifecycleGatesDeployments(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, twoPhases(), "echo ok")
		srv := newServer(t, s, t.TempDir())
		r := srv.release(f, "1.0.0")
		_, err := srv.engine.Deploy(context.Background(), engine.DeployRequest{ReleaseID: r.ID, EnvironmentID: f.envs["Production"].ID})
		var refused *model.RefusedError
		if !errors.As(err, &refused) || !strings.Contains(err.Error(), `phase "Pre-production" must be complete first`) {
			t.Fatalf("want a refusal naming the phase, got %v", err)
		}
		waitTask(t, s, srv.deploy(r, f.envs["Test"]).TaskID, model.TaskSuccess)
		waitTask(t, s, srv.deploy(r, f.envs["Production"]).TaskID, model.TaskSuccess)

		_, err = srv.engine.Deploy(context.Background(), engine.DeployRequest{ReleaseID: r.ID, EnvironmentID: "Environments-99"})
		var invalid *model.ValidationError
		if !errors.As(err, &invalid) {
			t.Fatalf("unknown environment: %v", err)
		}
		prog, err := srv.engine.Progression(context.Background(), r.ID)
		if err != nil || len(prog) != 3 || prog[2].LastState != model.TaskSuccess {
			t.Fatalf("progression: %v %+v", err, prog)
		}
	})
}

func TestAutomaticPhasesDeployByThemselves(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, []model.Phase{
			{Name: "Dev", AutomaticEnvironments: []string{"Dev"}},
			{Name: "Test", AutomaticEnvironments: []string{"Test"}},
			{Name: "Production", ManualEnvironments: []string{"Production"}},
		}, "echo deployed to #{Octopus.Environment.Name}")
		srv := newServer(t, s, t.TempDir())
		r := model.Release{ProjectID: f.project.ID, Version: "2.0.0"}
		auto, err := srv.engine.CreateRelease(context.Background(), &r)
		if err != nil || len(auto) != 1 || auto[0].EnvironmentID != f.envs["Dev"].ID || auto[0].CreatedBy != model.CreatedByLifecycle {
			t.Fatalf("creating the release should queue Dev: %v %+v", err, auto)
		}
		waitTask(t, s, auto[0].TaskID, model.TaskSuccess)
		// Dev's success opens the Test phase, which deploys by itself.
		deadline := time.Now().Add(30 * time.Second)
		for {
			deps, _, _ := s.Read().ListDeployments(context.Background(), store.DeploymentFilter{ReleaseID: r.ID, EnvironmentID: f.envs["Test"].ID})
			if len(deps) == 1 && deps[0].State == model.TaskSuccess {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Test was not deployed automatically: %+v", deps)
			}
			time.Sleep(20 * time.Millisecond)
		}
		deps, total, _ := s.Read().ListDeployments(context.Background(), store.DeploymentFilter{ReleaseID: r.ID})
		if total != 2 {
			t.Fatalf("Production is manual; want 2 deployments, got %+v", deps)
		}
	})
}

func TestAFailingScriptFailsTheTask(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, twoPhases(), "echo about to fail; exit 3", "echo never runs")
		srv := newServer(t, s, t.TempDir())
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		task := waitTask(t, s, d.TaskID, model.TaskFailed)
		log := logOf(t, s, d.TaskID)
		if !strings.Contains(task.Error, "exit code 3") || !strings.Contains(log, "exit code 3") || strings.Contains(log, "never runs") {
			t.Fatalf("error %q, log:\n%s", task.Error, log)
		}
		acts, _ := s.Read().ListActivities(context.Background(), d.TaskID)
		// The step after the failure is skipped, saying why (its condition
		// is the default: only after success).
		if acts[0].State != model.ActivityFailed || acts[1].State != model.ActivitySkipped || !strings.Contains(log, "Skipped: an earlier step failed") {
			t.Fatalf("step states: %+v\n%s", acts, log)
		}
	})
}

// pidFromLog waits until the task log shows "pid N" and returns N.
func pidFromLog(t *testing.T, s *store.Store, taskID string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		lines, _ := s.Read().ReadLog(context.Background(), taskID, 0, 1000)
		for _, l := range lines {
			if rest, ok := strings.CutPrefix(l.Text, "pid "); ok {
				n, _ := strconv.Atoi(rest)
				return n
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no pid in the log:\n%s", logOf(t, s, taskID))
	return 0
}

func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err != nil || strings.Contains(string(b), ") Z ")
}

func TestCancelingADeploymentStopsItsScript(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, twoPhases(), "echo pid $$; sleep 300")
		srv := newServer(t, s, t.TempDir())
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		pid := pidFromLog(t, s, d.TaskID)
		if err := s.Tx(context.Background(), func(q *store.Queries) error {
			_, err := q.RequestCancel(context.Background(), d.TaskID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		srv.runner.Cancel(d.TaskID)
		waitTask(t, s, d.TaskID, model.TaskCanceled)
		deadline := time.Now().Add(20 * time.Second)
		for !gone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("script process %d still running after cancel", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
		acts, _ := s.Read().ListActivities(context.Background(), d.TaskID)
		for _, a := range acts {
			if a.State != model.ActivityCanceled {
				t.Errorf("activity %q is %s after cancel", a.Name, a.State)
			}
		}
	})
}

func TestARestartedServerReattachesToRunningScripts(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		dir := t.TempDir()
		gate, runs := filepath.Join(dir, "gate"), filepath.Join(dir, "runs")
		script := fmt.Sprintf(`echo started >> %[2]s
for i in 1 2 3; do echo before $i; done
while [ ! -e %[1]s ]; do sleep 0.05; done
for i in 1 2 3; do echo after $i; done`, gate, runs)
		f := setup(t, s, twoPhases(), script, "echo second step")
		work := filepath.Join(dir, "work")
		first := newServer(t, s, work)
		d := first.deploy(first.release(f, "1.0.0"), f.envs["Dev"])
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(logOf(t, s, d.TaskID), "before 3") {
			if time.Now().After(deadline) {
				t.Fatal("script did not start")
			}
			time.Sleep(20 * time.Millisecond)
		}
		first.stop() // the server goes away; the script keeps running
		os.WriteFile(gate, nil, 0o600)

		newServer(t, s, work)
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log := logOf(t, s, d.TaskID)
		for _, line := range []string{"before 1", "before 3", "after 1", "after 3", "second step"} {
			if strings.Count(log, "info "+line+"\n") != 1 {
				t.Errorf("%q should appear exactly once:\n%s", line, log)
			}
		}
		if b, _ := os.ReadFile(runs); strings.Count(string(b), "started") != 1 {
			t.Errorf("the script ran %d times", strings.Count(string(b), "started"))
		}
		if !strings.Contains(log, "Re-attaching") {
			t.Errorf("the log should say it re-attached:\n%s", log)
		}
	})
}

func TestAnAutomaticDeploymentIntoAFreezeWaitsForItsEnd(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := setup(t, s, []model.Phase{{Name: "Dev", AutomaticEnvironments: []string{"Dev"}}}, "echo deployed")
		end := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Microsecond)
		freeze := model.DeploymentFreeze{Name: "Holidays", Start: time.Now().Add(-time.Hour), End: end, EnvironmentIDs: []string{f.envs["Dev"].ID}}
		if err := s.Tx(ctx, func(q *store.Queries) error { return q.CreateFreeze(ctx, &freeze) }); err != nil {
			t.Fatal(err)
		}
		srv := newServer(t, s, t.TempDir())
		r := model.Release{ProjectID: f.project.ID, Version: "1.0.0"}
		auto, err := srv.engine.CreateRelease(ctx, &r)
		if err != nil || len(auto) != 1 {
			t.Fatalf("%v %+v", err, auto)
		}
		task, _ := s.Read().GetTask(ctx, auto[0].TaskID)
		if task.State != model.TaskQueued || task.NotBefore == nil || !task.NotBefore.Equal(end) {
			t.Fatalf("the automatic deployment should wait for the freeze's end (%s): %+v", end, task)
		}
		_, err = srv.engine.Deploy(ctx, engine.DeployRequest{ReleaseID: r.ID, EnvironmentID: f.envs["Dev"].ID, CreatedBy: "alice"})
		var refused *model.RefusedError
		if !errors.As(err, &refused) || !strings.Contains(err.Error(), `frozen by "Holidays"`) {
			t.Fatalf("a manual deployment in the freeze: %v", err)
		}
		if _, err := srv.engine.Deploy(ctx, engine.DeployRequest{ReleaseID: r.ID, EnvironmentID: f.envs["Dev"].ID, CreatedBy: "alice", OverrideFreeze: true}); err != nil {
			t.Fatalf("overridden: %v", err)
		}
	})
}

package engine_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/localtarget"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// machines is a TargetSource of in-process targets, one workspace each, as
// if every machine were an agent. Names listed in down cannot be reached.
type machines struct {
	dir  string
	mu   sync.Mutex
	made map[string]*localtarget.Target
	down map[string]bool
}

func (m *machines) Target(mc model.Machine) (contract.Target, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down[mc.Name] {
		return unreachable{mc.Name}, nil
	}
	if t, ok := m.made[mc.Name]; ok {
		return t, nil
	}
	t, err := localtarget.New(mc.Name, filepath.Join(m.dir, mc.Name), "test", scriptsvc.Options{})
	if err != nil {
		return nil, err
	}
	m.made[mc.Name] = t
	return t, nil
}

// unreachable is a machine whose every call fails as a refused connection would.
type unreachable struct{ name string }

var errRefused = errors.New("connect: connection refused")

func (u unreachable) Name() string                    { return u.name }
func (u unreachable) Scripts() contract.ScriptService { return u }
func (u unreachable) Files() contract.FileService     { return nil }
func (u unreachable) Capabilities(context.Context) (contract.Capabilities, error) {
	return contract.Capabilities{}, errRefused
}
func (u unreachable) StartScript(context.Context, contract.StartScriptCommand) (contract.ScriptStatus, error) {
	return contract.ScriptStatus{}, errRefused
}
func (u unreachable) GetStatus(context.Context, contract.StatusRequest) (contract.ScriptStatus, error) {
	return contract.ScriptStatus{}, errRefused
}
func (u unreachable) CancelScript(context.Context, contract.StatusRequest) (contract.ScriptStatus, error) {
	return contract.ScriptStatus{}, errRefused
}
func (u unreachable) CompleteScript(context.Context, string) error { return errRefused }

// machineSpec is a machine to register: name, environments, roles, pool.
type machineSpec struct {
	name     string
	envs     []string
	roles    []string
	pool     string
	disabled bool
	policy   string
}

// register stores machines and returns the source that reaches them.
func register(t *testing.T, s *store.Store, f fixture, specs ...machineSpec) *machines {
	t.Helper()
	ctx := context.Background()
	err := s.Tx(ctx, func(q *store.Queries) error {
		for _, sp := range specs {
			m := model.Machine{Name: sp.name, Kind: model.MachinePolling, Usage: model.UsageTarget, Roles: sp.roles, Disabled: sp.disabled,
				Thumbprint: strings.ToUpper(fmt.Sprintf("%x", sha256.Sum256([]byte(sp.name))))}
			for _, e := range sp.envs {
				m.EnvironmentIDs = append(m.EnvironmentIDs, f.envs[e].ID)
			}
			if sp.pool != "" {
				pool, err := q.FindWorkerPool(ctx, sp.pool)
				if err != nil {
					return err
				}
				m.Usage, m.WorkerPoolIDs = model.UsageWorker, []string{pool.ID}
			}
			if sp.policy != "" {
				p, err := q.FindMachinePolicy(ctx, sp.policy)
				if err != nil {
					return err
				}
				m.PolicyID = p.ID
			}
			if err := q.CreateMachine(ctx, &m, ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return &machines{dir: t.TempDir(), made: map[string]*localtarget.Target{}, down: map[string]bool{}}
}

// setSteps replaces the project's process.
func setSteps(t *testing.T, s *store.Store, f fixture, steps ...model.Step) {
	t.Helper()
	ctx := context.Background()
	err := s.Tx(ctx, func(q *store.Queries) error {
		d, err := q.GetProcess(ctx, f.project.ID)
		if err != nil {
			return err
		}
		d.Steps = steps
		return q.SaveProcess(ctx, &d)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func script(name, body string) model.Step {
	return model.Step{Name: name, Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: body}}
}

func withTargets(src engine.TargetSource) func(*engine.Config) {
	return func(c *engine.Config) { c.Targets = src }
}

// targetsOf returns the names of a task's target nodes under each step, with their states.
func targetsOf(t *testing.T, s *store.Store, taskID string) map[string][]string {
	t.Helper()
	acts, err := s.Read().ListActivities(context.Background(), taskID)
	if err != nil {
		t.Fatal(err)
	}
	steps := map[int]string{}
	for _, a := range acts {
		if a.Kind == model.ActivityStep {
			steps[a.ID] = a.Name
		}
	}
	out := map[string][]string{}
	for _, a := range acts {
		if a.Kind == model.ActivityTarget {
			out[steps[a.ParentID]] = append(out[steps[a.ParentID]], a.Name+":"+string(a.State))
		}
	}
	return out
}

func TestAStepRunsOnEveryEnabledTargetInItsRolesAndEnvironment(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, nil)
		src := register(t, s, f,
			machineSpec{name: "web-1", envs: []string{"Dev"}, roles: []string{"web"}},
			machineSpec{name: "web-2", envs: []string{"Dev", "Test"}, roles: []string{"Web", "api"}},
			machineSpec{name: "web-test", envs: []string{"Test"}, roles: []string{"web"}},
			machineSpec{name: "db-1", envs: []string{"Dev"}, roles: []string{"db"}},
			machineSpec{name: "web-off", envs: []string{"Dev"}, roles: []string{"web"}, disabled: true},
		)
		step := script("Deploy", `echo "on #{Octopus.Machine.Name} roles #{Octopus.Machine.Roles} for #{Octopus.Action.TargetRoles}"`)
		step.TargetRoles = []string{"web"}
		setSteps(t, s, f, step, script("After", "echo done on #{Octopus.Machine.Name}"))
		srv := newServer(t, s, t.TempDir(), withTargets(src))
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log := logOf(t, s, d.TaskID)
		for _, want := range []string{"on web-1 roles web for web", "on web-2 roles Web,api for web", "done on built-in worker"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
		for _, not := range []string{"web-test", "db-1", "web-off"} {
			if strings.Contains(log, not) {
				t.Errorf("%s should not have run the step:\n%s", not, log)
			}
		}
		got := targetsOf(t, s, d.TaskID)
		if strings.Join(got["Step 1: Deploy"], ",") != "web-1:Success,web-2:Success" {
			t.Fatalf("targets: %v", got)
		}
	})
}

func TestANoMatchingTargetFailsTheStepSayingWhy(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, nil)
		src := register(t, s, f, machineSpec{name: "db-1", envs: []string{"Dev"}, roles: []string{"db"}})
		step := script("Deploy", "echo hi")
		step.TargetRoles = []string{"web", "cache"}
		setSteps(t, s, f, step)
		srv := newServer(t, s, t.TempDir(), withTargets(src))
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		task := waitTask(t, s, d.TaskID, model.TaskFailed)
		if !strings.Contains(task.Error, "Dev has no enabled deployment target with any of them") || !strings.Contains(task.Error, "web, cache") {
			t.Fatalf("error: %s", task.Error)
		}
	})
}

func TestRollingStopsAtTheFirstFailure(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, nil)
		src := register(t, s, f,
			machineSpec{name: "a", envs: []string{"Dev"}, roles: []string{"web"}},
			machineSpec{name: "b", envs: []string{"Dev"}, roles: []string{"web"}},
			machineSpec{name: "c", envs: []string{"Dev"}, roles: []string{"web"}},
		)
		step := script("Roll", `if [ "#{Octopus.Machine.Name}" = b ]; then echo b breaks; exit 5; fi; echo "#{Octopus.Machine.Name} ok"`)
		step.TargetRoles, step.WindowSize = []string{"web"}, 1
		setSteps(t, s, f, step)
		srv := newServer(t, s, t.TempDir(), withTargets(src))
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		task := waitTask(t, s, d.TaskID, model.TaskFailed)
		if !strings.Contains(task.Error, "b (exit code 5)") {
			t.Fatalf("error: %s", task.Error)
		}
		if got := strings.Join(targetsOf(t, s, d.TaskID)["Step 1: Roll"], ","); got != "a:Success,b:Failed,c:Skipped" {
			t.Fatalf("a rolling step should stop after b failed: %s\n%s", got, logOf(t, s, d.TaskID))
		}
		if log := logOf(t, s, d.TaskID); strings.Contains(log, "c ok") || !strings.Contains(log, "an earlier target of this rolling step failed") {
			t.Fatalf("log:\n%s", log)
		}
	})
}

func TestMaxParallelismCapsTargetsRunningAtOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, nil)
		var specs []machineSpec
		for i := 0; i < 5; i++ {
			specs = append(specs, machineSpec{name: fmt.Sprintf("m%d", i), envs: []string{"Dev"}, roles: []string{"web"}})
		}
		src := register(t, s, f, specs...)
		shared := t.TempDir()
		// Each script counts the scripts running beside it, through files.
		step := script("Count", fmt.Sprintf(`touch %[1]q/#{Octopus.Machine.Name}
n=$(ls %[1]q | wc -l); echo "running together: $n"
sleep 0.3
rm %[1]q/#{Octopus.Machine.Name}`, shared))
		step.TargetRoles, step.MaxParallelism = []string{"web"}, 2
		setSteps(t, s, f, step)
		srv := newServer(t, s, t.TempDir(), withTargets(src))
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log := logOf(t, s, d.TaskID)
		for _, line := range strings.Split(log, "\n") {
			if rest, ok := strings.CutPrefix(line, "info running together: "); ok {
				if n, _ := strconv.Atoi(strings.TrimSpace(rest)); n > 2 {
					t.Fatalf("%d scripts ran at once with maxParallelism 2:\n%s", n, log)
				}
			}
		}
		if strings.Count(log, "running together") != 5 {
			t.Fatalf("every target should have run:\n%s", log)
		}
	})
}

// gatedTargets runs step on n machines whose scripts each hold until the
// test opens their gate, which it does one at a time, as soon as as many
// scripts have started as at most `limit` at once allows: so the step has
// every chance to start more than limit, and each script says how many ran
// as it started. It returns the highest of those counts.
func gatedTargets(t *testing.T, s *store.Store, n, limit int, step model.Step) int {
	t.Helper()
	f := setup(t, s, nil)
	var specs []machineSpec
	for i := range n {
		specs = append(specs, machineSpec{name: fmt.Sprintf("m%02d", i), envs: []string{"Dev"}, roles: []string{"web"}})
	}
	src := register(t, s, f, specs...)
	dir := t.TempDir()
	for _, sub := range []string{"running", "started", "gate"} {
		os.Mkdir(filepath.Join(dir, sub), 0o755)
	}
	// A script counts the others before it says it started, and ends only
	// after its gate opened, which the test does only after enough have
	// said they started: so whatever the timing, a script that starts while
	// limit others hold counts them.
	step.Script.Body = fmt.Sprintf(`name=#{Octopus.Machine.Name}
touch %[1]q/running/$name
echo "running together: $(ls %[1]q/running | wc -l)"
touch %[1]q/started/$name
for i in $(seq 600); do [ -e %[1]q/gate/$name ] && break; sleep 0.05; done
rm %[1]q/running/$name`, dir)
	step.TargetRoles = []string{"web"}
	setSteps(t, s, f, step)
	srv := newServer(t, s, t.TempDir(), withTargets(src))
	d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])

	started := func() []string {
		entries, _ := os.ReadDir(filepath.Join(dir, "started"))
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	released := map[string]bool{}
	for len(released) < n {
		want := min(limit+len(released), n)
		until(t, fmt.Sprintf("%d scripts have started", want), func() bool { return len(started()) >= want })
		names := started()
		if len(names) > want {
			t.Fatalf("%d scripts started with %d of them ended: more than %d at once", len(names), len(released), limit)
		}
		for _, name := range names {
			if !released[name] {
				released[name] = true
				os.WriteFile(filepath.Join(dir, "gate", name), nil, 0o600)
				break
			}
		}
	}
	waitTask(t, s, d.TaskID, model.TaskSuccess)
	log := logOf(t, s, d.TaskID)
	most, seen := 0, 0
	for _, line := range strings.Split(log, "\n") {
		if rest, ok := strings.CutPrefix(line, "info running together: "); ok {
			k, _ := strconv.Atoi(strings.TrimSpace(rest))
			most, seen = max(most, k), seen+1
		}
	}
	if seen != n {
		t.Fatalf("%d of %d targets ran the step:\n%s", seen, n, log)
	}
	return most
}

// A rolling step with a window of 2 keeps two targets busy at a time: the
// third starts only when one of the first two has ended, and so on.
func TestRollingWindowRunsThatManyTargetsAtOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		step := script("Roll", "")
		step.WindowSize = 2
		if most := gatedTargets(t, s, 5, 2, step); most != 2 {
			t.Fatalf("at most %d targets ran at once with a window of 2, want 2", most)
		}
	})
}

// Without a cap of its own, a step runs on at most 10 targets at once.
func TestTheDefaultParallelismIsTen(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		if most := gatedTargets(t, s, 12, model.DefaultMaxParallelism, script("Wide", "")); most != 10 {
			t.Fatalf("at most %d targets ran at once by default, want 10", most)
		}
	})
}

func TestWorkerPools(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, nil)
		ctx := context.Background()
		var linux model.WorkerPool
		err := s.Tx(ctx, func(q *store.Queries) error {
			linux = model.WorkerPool{Name: "Linux"}
			if err := q.CreateWorkerPool(ctx, &linux); err != nil {
				return err
			}
			empty := model.WorkerPool{Name: "Empty"}
			return q.CreateWorkerPool(ctx, &empty)
		})
		if err != nil {
			t.Fatal(err)
		}
		src := register(t, s, f, machineSpec{name: "worker-1", pool: "Linux"})
		onPool := script("On the pool", "echo pool step on #{Octopus.Machine.Name}")
		onPool.WorkerPoolID = linux.ID
		setSteps(t, s, f, onPool, script("On the default pool", "echo default step on #{Octopus.Machine.Name}"))
		srv := newServer(t, s, t.TempDir(), withTargets(src))
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log := logOf(t, s, d.TaskID)
		if !strings.Contains(log, "pool step on worker-1") || !strings.Contains(log, "default step on built-in worker") {
			t.Fatalf("log:\n%s", log)
		}

		// With a worker in the default pool, steps go there, unless they ask for the server.
		register(t, s, f, machineSpec{name: "default-worker", pool: model.DefaultWorkerPoolName})
		onServer := script("On the server", "echo server step on #{Octopus.Machine.Name}")
		onServer.RunOnServer = true
		setSteps(t, s, f, script("Default", "echo default step on #{Octopus.Machine.Name}"), onServer)
		d = srv.deploy(srv.release(f, "0.9.0"), f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log = logOf(t, s, d.TaskID)
		if !strings.Contains(log, "default step on default-worker") || !strings.Contains(log, "server step on built-in worker") {
			t.Fatalf("log:\n%s", log)
		}

		// A pool without workers cannot run a step.
		empty, _ := s.Read().FindWorkerPool(ctx, "Empty")
		stranded := script("Stranded", "echo never")
		stranded.WorkerPoolID = empty.ID
		setSteps(t, s, f, stranded)
		d = srv.deploy(srv.release(f, "1.0.1"), f.envs["Dev"])
		task := waitTask(t, s, d.TaskID, model.TaskFailed)
		if !strings.Contains(task.Error, `worker pool "Empty", which has no enabled, healthy worker`) {
			t.Fatalf("error: %s", task.Error)
		}
	})
}

func TestUnreachableTargetsFollowTheirPolicy(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, nil)
		ctx := context.Background()
		err := s.Tx(ctx, func(q *store.Queries) error {
			p := model.MachinePolicy{Name: "Lenient", WhenUnavailable: model.UnavailableSkip}
			return q.CreateMachinePolicy(ctx, &p)
		})
		if err != nil {
			t.Fatal(err)
		}
		src := register(t, s, f,
			machineSpec{name: "up", envs: []string{"Dev"}, roles: []string{"web"}},
			machineSpec{name: "gone-lenient", envs: []string{"Dev"}, roles: []string{"web"}, policy: "Lenient"},
		)
		src.down["gone-lenient"] = true
		step := script("Deploy", "echo deployed on #{Octopus.Machine.Name}")
		step.TargetRoles = []string{"web"}
		setSteps(t, s, f, step)
		srv := newServer(t, s, t.TempDir(), withTargets(src))
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		if got := strings.Join(targetsOf(t, s, d.TaskID)["Step 1: Deploy"], ","); got != "gone-lenient:Skipped,up:Success" {
			t.Fatalf("targets: %s\n%s", got, logOf(t, s, d.TaskID))
		}
		m, _ := s.Read().FindMachine(ctx, "gone-lenient")
		if m.Health.Status != model.HealthUnavailable || !strings.Contains(m.Health.Reason, "connection refused") {
			t.Fatalf("an unreachable machine's health should say so: %+v", m.Health)
		}

		// Under the default policy the same outage fails the deployment.
		src.down["up"] = true
		d = srv.deploy(srv.release(f, "1.0.1"), f.envs["Dev"])
		task := waitTask(t, s, d.TaskID, model.TaskFailed)
		if !strings.Contains(task.Error, "up (unavailable: connect: connection refused)") {
			t.Fatalf("error: %s\n%s", task.Error, logOf(t, s, d.TaskID))
		}
	})
}

func TestVariablesResolvePerTarget(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, nil)
		src := register(t, s, f,
			machineSpec{name: "web-1", envs: []string{"Dev"}, roles: []string{"web"}},
			machineSpec{name: "web-2", envs: []string{"Dev"}, roles: []string{"web", "api"}},
			machineSpec{name: "web-3", envs: []string{"Dev"}, roles: []string{"web"}},
		)
		ctx := context.Background()
		web1, _ := s.Read().FindMachine(ctx, "web-1")
		step := script("Show", `echo "#{Octopus.Machine.Name} has #{Level}"`)
		step.TargetRoles = []string{"web"}
		setSteps(t, s, f, step)
		d, _ := s.Read().GetProcess(ctx, f.project.ID)
		err := s.Tx(ctx, func(q *store.Queries) error {
			vs, err := q.GetVariables(ctx, f.project.ID)
			if err != nil {
				return err
			}
			vs.Variables = []model.Variable{
				{Name: "Level", Value: "default"},
				{Name: "Level", Value: "for api machines", Scope: model.Scope{Roles: []string{"api"}}},
				{Name: "Level", Value: "for web-1 only", Scope: model.Scope{Machines: []string{web1.ID}}},
				{Name: "Level", Value: "for this step in Test", Scope: model.Scope{Steps: []string{d.Steps[0].ID}, Environments: []string{f.envs["Test"].ID}}},
			}
			return q.SaveVariables(ctx, &vs)
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := newServer(t, s, t.TempDir(), withTargets(src))
		dep := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		waitTask(t, s, dep.TaskID, model.TaskSuccess)
		log := logOf(t, s, dep.TaskID)
		for _, want := range []string{"web-1 has for web-1 only", "web-2 has for api machines", "web-3 has default"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
	})
}

func TestScriptsAreTemplates(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, nil)
		setSteps(t, s, f, script("Render", `echo "#{Greeting | ToUpper}"
#{if Octopus.Environment.Name == "Dev"}echo "in dev"#{else}echo "elsewhere"#{/if}
#{each n in Names}echo "#{n}#{unless Octopus.Template.Each.Last},#{/unless}"
#{/each}echo "##{literal}"`))
		ctx := context.Background()
		err := s.Tx(ctx, func(q *store.Queries) error {
			vs, err := q.GetVariables(ctx, f.project.ID)
			if err != nil {
				return err
			}
			vs.Variables = append(vs.Variables, model.Variable{Name: "Names", Value: "a,b,c"})
			return q.SaveVariables(ctx, &vs)
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := newServer(t, s, t.TempDir())
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log := logOf(t, s, d.TaskID)
		for _, want := range []string{"info HELLO DEV\n", "info in dev\n", "info a,\n", "info b,\n", "info c\n", "info #{literal}\n"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}

		// A malformed template is refused when the process is saved, saying where.
		err = s.Tx(ctx, func(q *store.Queries) error {
			d, err := q.GetProcess(ctx, f.project.ID)
			if err != nil {
				return err
			}
			d.Steps = []model.Step{script("Broken", "echo start\n#{if Greeting}echo never")}
			return q.SaveProcess(ctx, &d)
		})
		if err == nil || !strings.Contains(err.Error(), `step "Broken"): line 2, column 1: unclosed #{if}`) {
			t.Fatalf("saving a malformed template: %v", err)
		}
		// One that only fails when rendered fails its target before anything runs there.
		setSteps(t, s, f, script("Regex", `echo "#{Greeting | Replace "(?<=h)e" "a"}"`))
		d = srv.deploy(srv.release(f, "1.0.1"), f.envs["Dev"])
		task := waitTask(t, s, d.TaskID, model.TaskFailed)
		if !strings.Contains(task.Error, `the script of step "Regex"`) || !strings.Contains(task.Error, "line 1") {
			t.Fatalf("error: %s", task.Error)
		}
	})
}

func TestOutputVariablesPassFromStepToStep(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		box, err := secrets.New(secrets.NewKey())
		if err != nil {
			t.Fatal(err)
		}
		s.SetSealer(box)
		f := setup(t, s, nil)
		src := register(t, s, f,
			machineSpec{name: "web-1", envs: []string{"Dev"}, roles: []string{"web"}},
			machineSpec{name: "web-2", envs: []string{"Dev"}, roles: []string{"web"}},
		)
		first := script("First", `set_octopusvariable "Color" "blue on #{Octopus.Machine.Name}"
set_pulpovariable "Token" "tok-3f9a2c7d" -sensitive
echo "greeting via function: $(get_octopusvariable "greeting")"
echo "unknown is [$(get_octopusvariable "Nope")]"`)
		first.TargetRoles = []string{"web"}
		second := script("Second", `echo "any: #{Octopus.Action[First].Output.Color}"
echo "web-1: #{Octopus.Action[First].Output[web-1].Color}"
echo "pulpo alias: #{Pulpo.Action[First].Output[web-2].Color}"
echo "token: #{Octopus.Action[First].Output[web-2].Token}"
echo "token again: $(get_octopusvariable "Octopus.Action[First].Output[web-1].Token")"`)
		setSteps(t, s, f, first, second)
		srv := newServer(t, s, t.TempDir(), withTargets(src))
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log := logOf(t, s, d.TaskID)
		for _, want := range []string{
			"info greeting via function: hello dev\n", "info unknown is []\n",
			"info web-1: blue on web-1\n", "info pulpo alias: blue on web-2\n",
			"info token: ********\n", "info token again: ********\n", `verbose Output variable "Color" set`,
		} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
		if !strings.Contains(log, "info any: blue on web-") {
			t.Errorf("the machine-less name should hold one machine's value:\n%s", log)
		}
		if strings.Contains(log, "tok-3f9a2c7d") || strings.Contains(log, "##octopus[") {
			t.Fatalf("the log shows a secret or a service message:\n%s", log)
		}
		// The sensitive output is sealed where it is stored.
		acts, _ := s.Read().ListActivities(context.Background(), d.TaskID)
		for _, a := range acts {
			for _, o := range a.Outputs {
				if o.Sensitive && o.Value == "tok-3f9a2c7d" {
					t.Fatal("a sensitive output is stored in the clear")
				}
			}
		}
	})
}

func TestPromptedVariables(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		box, _ := secrets.New(secrets.NewKey())
		s.SetSealer(box)
		f := setup(t, s, nil, `echo "ticket #{Ticket}, reason #{Reason}, pin #{Pin}"`)
		ctx := context.Background()
		err := s.Tx(ctx, func(q *store.Queries) error {
			vs, err := q.GetVariables(ctx, f.project.ID)
			if err != nil {
				return err
			}
			vs.Variables = append(vs.Variables,
				model.Variable{Name: "Ticket", Prompt: &model.Prompt{Label: "Change ticket", Required: true}},
				model.Variable{Name: "Reason", Value: "routine", Prompt: &model.Prompt{}},
				model.Variable{Name: "Pin", Value: "0000-default", Sensitive: true, Prompt: &model.Prompt{}},
			)
			return q.SaveVariables(ctx, &vs)
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := newServer(t, s, t.TempDir())
		r := srv.release(f, "1.0.0")
		deploy := func(given map[string]string) (model.Deployment, error) {
			return srv.engine.Deploy(ctx, engine.DeployRequest{ReleaseID: r.ID, EnvironmentID: f.envs["Dev"].ID, CreatedBy: "t", Variables: given})
		}
		for _, tt := range []struct {
			given map[string]string
			want  string
		}{
			{nil, "Ticket (Change ticket) is required"},
			{map[string]string{"Ticket": "CHG-1", "Greeting": "x"}, `"Greeting" is not a prompted variable of release 1.0.0 (prompted: Pin, Reason, Ticket)`},
		} {
			if _, err := deploy(tt.given); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("deploy with %v: %v, want %q", tt.given, err, tt.want)
			}
		}
		d, err := deploy(map[string]string{"ticket": "CHG-42", "Pin": "9876-secret"})
		if err != nil {
			t.Fatal(err)
		}
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log := logOf(t, s, d.TaskID)
		if !strings.Contains(log, "ticket CHG-42, reason routine, pin ********") {
			t.Fatalf("log:\n%s", log)
		}
		stored, _ := s.Read().GetDeployment(ctx, d.ID)
		if strings.Contains(fmt.Sprint(stored.Prompted), "9876-secret") {
			t.Fatal("a sensitive prompted value is stored in the clear")
		}
	})
}

func TestSystemVariables(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, nil, `echo "release #{Octopus.Release.Number} after #{Octopus.Release.Previous.Number}, last here #{Octopus.Release.PreviousForEnvironment.Number}, by #{Octopus.Deployment.CreatedBy.Username}, on #{Pulpo.Machine.Name} in #{Pulpo.Environment.Name}"`)
		srv := newServer(t, s, t.TempDir())
		first := srv.release(f, "1.0.0")
		d := srv.deploy(first, f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		second := srv.release(f, "1.1.0")
		d = srv.deploy(second, f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		want := "release 1.1.0 after 1.0.0, last here 1.0.0, by tester, on built-in worker in Dev"
		if log := logOf(t, s, d.TaskID); !strings.Contains(log, want) {
			t.Fatalf("log lacks %q:\n%s", want, log)
		}
	})
}

func TestScriptServiceMessages(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, nil, `write_highlight "big news"
write_warning "careful"
write_verbose "details"
echo "plain again"
update_progress 50 "half way"
echo "report" > report.txt
new_octopusartifact report.txt "the report.txt"`, `fail_step "the database is not ready"`)
		artifacts := t.TempDir()
		srv := newServer(t, s, t.TempDir(), func(c *engine.Config) { c.ArtifactsDir = artifacts })
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskFailed)
		log := logOf(t, s, d.TaskID)
		for _, want := range []string{"highlight big news\n", "warning careful\n", "verbose details\n", "info plain again\n",
			"info Progress: 50% half way\n", "info Collected artifact the report.txt (7 bytes)\n", "error the database is not ready\n"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
		if strings.Contains(log, "##octopus") {
			t.Errorf("service messages leaked into the log:\n%s", log)
		}
		arts, err := s.Read().ListArtifacts(context.Background(), d.TaskID)
		if err != nil || len(arts) != 1 || arts[0].Name != "the report.txt" {
			t.Fatalf("artifacts %+v %v", arts, err)
		}
		if b, _ := os.ReadFile(filepath.Join(artifacts, arts[0].File)); string(b) != "report\n" {
			t.Fatalf("artifact content %q", b)
		}
	})
}

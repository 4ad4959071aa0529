package store_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/testutil/pgtest"
)

var pg pgtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// clock is a settable time source, so lease expiry is tested without waiting.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// eachStore runs a conformance test against SQLite and PostgreSQL.
func eachStore(t *testing.T, test func(t *testing.T, s *store.Store, c *clock)) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			c := &clock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
			cfg := store.Config{DataDir: t.TempDir(), Clock: c.Now}
			if dialect == "postgres" {
				cfg.DatabaseURL = pg.Database(t)
			}
			s, err := store.Open(context.Background(), cfg)
			if err != nil {
				t.Fatalf("open %s store: %v", dialect, err)
			}
			t.Cleanup(func() { s.Close() })
			test(t, s, c)
		})
	}
}

func tx(t *testing.T, s *store.Store, fn func(q *store.Queries) error) {
	t.Helper()
	if err := s.Tx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func mustFail(t *testing.T, s *store.Store, want error, fn func(q *store.Queries) error) error {
	t.Helper()
	err := s.Tx(context.Background(), fn)
	if err == nil {
		t.Fatalf("expected an error matching %v, got none", want)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("expected an error matching %v, got %v", want, err)
	}
	return err
}

func isValidation(err error) bool {
	var ve *model.ValidationError
	return errors.As(err, &ve)
}

func createEnvs(t *testing.T, s *store.Store, names ...string) []model.Environment {
	t.Helper()
	var out []model.Environment
	tx(t, s, func(q *store.Queries) error {
		for _, n := range names {
			e := model.Environment{Name: n}
			if err := q.CreateEnvironment(context.Background(), &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out
}

func TestEnvironments(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		ctx := context.Background()
		envs := createEnvs(t, s, "Dev", "Test", "Production")
		if envs[0].ID != "Environments-1" || envs[2].SortOrder != 3 {
			t.Fatalf("ids and order: got %+v", envs)
		}
		list, total, err := s.Read().ListEnvironments(ctx, store.ListOptions{})
		if err != nil || total != 3 || list[0].Name != "Dev" || list[2].Name != "Production" {
			t.Fatalf("list: %v %d %+v", err, total, list)
		}
		page, total, _ := s.Read().ListEnvironments(ctx, store.ListOptions{Skip: 1, Take: 1})
		if total != 3 || len(page) != 1 || page[0].Name != "Test" {
			t.Fatalf("paging: %d %+v", total, page)
		}
		byName, _, _ := s.Read().ListEnvironments(ctx, store.ListOptions{Name: "production"})
		partial, _, _ := s.Read().ListEnvironments(ctx, store.ListOptions{PartialName: "E"})
		if len(byName) != 1 || len(partial) != 2 {
			t.Fatalf("name filters: %+v %+v", byName, partial)
		}
		if found, err := s.Read().FindEnvironment(ctx, "tEsT"); err != nil || found.ID != envs[1].ID {
			t.Fatalf("find by name ignoring case: %v %+v", err, found)
		}

		err = mustFail(t, s, store.ErrConflict, func(q *store.Queries) error {
			return q.CreateEnvironment(ctx, &model.Environment{Name: "DEV"})
		})
		t.Logf("duplicate: %v", err)
		err = mustFail(t, s, nil, func(q *store.Queries) error { return q.CreateEnvironment(ctx, &model.Environment{}) })
		if !isValidation(err) {
			t.Fatalf("missing name should be a validation error, got %v", err)
		}
		mustFail(t, s, store.ErrNotFound, func(q *store.Queries) error {
			_, err := q.GetEnvironment(ctx, "Environments-99")
			return err
		})

		envs[1].Name = "QA"
		tx(t, s, func(q *store.Queries) error { return q.UpdateEnvironment(ctx, &envs[1]) })
		got, _ := s.Read().GetEnvironment(ctx, envs[1].ID)
		if got.Name != "QA" {
			t.Fatalf("update: %+v", got)
		}
		tx(t, s, func(q *store.Queries) error { return q.DeleteEnvironment(ctx, envs[1].ID) })
		// Ids are never reused, even after a delete.
		again := createEnvs(t, s, "Staging")
		if again[0].ID != "Environments-4" {
			t.Fatalf("id after delete: %s", again[0].ID)
		}
	})
}

func TestLifecycles(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		ctx := context.Background()
		def, err := s.Read().FindLifecycle(ctx, model.DefaultLifecycleName)
		if err != nil || len(def.Phases) != 0 {
			t.Fatalf("default lifecycle: %v %+v", err, def)
		}
		envs := createEnvs(t, s, "Dev", "Test")
		l := model.Lifecycle{Name: "Standard", Phases: []model.Phase{
			{Name: "Dev", AutomaticEnvironments: []string{envs[0].ID}},
			{Name: "Test", ManualEnvironments: []string{envs[1].ID}},
		}}
		tx(t, s, func(q *store.Queries) error { return q.CreateLifecycle(ctx, &l) })
		got, err := s.Read().GetLifecycle(ctx, l.ID)
		if err != nil || len(got.Phases) != 2 || got.Phases[0].AutomaticEnvironments[0] != envs[0].ID {
			t.Fatalf("round trip: %v %+v", err, got)
		}
		err = mustFail(t, s, nil, func(q *store.Queries) error {
			return q.CreateLifecycle(ctx, &model.Lifecycle{Name: "Bad", Phases: []model.Phase{{Name: "X", ManualEnvironments: []string{"Environments-42"}}}})
		})
		if !isValidation(err) {
			t.Fatalf("unknown environment should be a validation error, got %v", err)
		}
		err = mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { return q.DeleteEnvironment(ctx, envs[0].ID) })
		t.Logf("delete environment in use: %v", err)

		p := model.Project{Name: "web", LifecycleID: l.ID}
		tx(t, s, func(q *store.Queries) error { return q.CreateProject(ctx, &p) })
		err = mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { return q.DeleteLifecycle(ctx, l.ID) })
		t.Logf("delete lifecycle in use: %v", err)
	})
}

func TestProjectsProcessAndVariables(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		ctx := context.Background()
		envs := createEnvs(t, s, "Dev")
		p := model.Project{Name: "web"}
		tx(t, s, func(q *store.Queries) error { return q.CreateProject(ctx, &p) })
		if p.ProjectGroupID != "ProjectGroups-1" || p.LifecycleID != "Lifecycles-1" {
			t.Fatalf("defaults not applied: %+v", p)
		}
		err := mustFail(t, s, nil, func(q *store.Queries) error {
			return q.CreateProject(ctx, &model.Project{Name: "api", LifecycleID: "Lifecycles-9"})
		})
		if !isValidation(err) {
			t.Fatalf("unknown lifecycle should be a validation error, got %v", err)
		}

		proc, err := s.Read().GetProcess(ctx, p.ID)
		if err != nil || proc.Version != 0 || len(proc.Steps) != 0 {
			t.Fatalf("new process: %v %+v", err, proc)
		}
		proc.Steps = []model.Step{{Name: "Hello", Script: &model.ScriptAction{Body: "echo hi"}}}
		tx(t, s, func(q *store.Queries) error { return q.SaveProcess(ctx, &proc) })
		if proc.Version != 1 || proc.Steps[0].ID == "" || proc.Steps[0].Script.Syntax != model.SyntaxBash {
			t.Fatalf("saved process: %+v", proc)
		}
		stale := proc
		stale.Version = 0
		err = mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { return q.SaveProcess(ctx, &stale) })
		t.Logf("stale process: %v", err)

		vars := model.VariableSet{OwnerID: p.ID, Variables: []model.Variable{
			{Name: "Greeting", Value: "hello"},
			{Name: "Greeting", Value: "hello dev", Scope: model.Scope{Environments: []string{envs[0].ID}}},
		}}
		tx(t, s, func(q *store.Queries) error { return q.SaveVariables(ctx, &vars) })
		got, _ := s.Read().GetVariables(ctx, p.ID)
		if got.Version != 1 || len(got.Variables) != 2 || got.Variables[1].Scope.Environments[0] != envs[0].ID {
			t.Fatalf("variables: %+v", got)
		}
		got.Variables = append(got.Variables, model.Variable{Name: "x", Scope: model.Scope{Environments: []string{"Environments-77"}}})
		err = mustFail(t, s, nil, func(q *store.Queries) error { return q.SaveVariables(ctx, &got) })
		if !isValidation(err) {
			t.Fatalf("scope to unknown environment should be a validation error, got %v", err)
		}
	})
}

func newProjectWithStep(t *testing.T, s *store.Store, name string) model.Project {
	t.Helper()
	ctx := context.Background()
	p := model.Project{Name: name}
	tx(t, s, func(q *store.Queries) error {
		if err := q.CreateProject(ctx, &p); err != nil {
			return err
		}
		proc := model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Run", Script: &model.ScriptAction{Body: "echo ok"}}}}
		return q.SaveProcess(ctx, &proc)
	})
	return p
}

func TestReleasesAreImmutableSnapshots(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		ctx := context.Background()
		empty := model.Project{Name: "empty"}
		tx(t, s, func(q *store.Queries) error { return q.CreateProject(ctx, &empty) })
		err := mustFail(t, s, nil, func(q *store.Queries) error {
			return q.CreateRelease(ctx, &model.Release{ProjectID: empty.ID, Version: "1.0.0"})
		})
		if !isValidation(err) {
			t.Fatalf("release without steps should be a validation error, got %v", err)
		}

		p := newProjectWithStep(t, s, "web")
		r := model.Release{ProjectID: p.ID, Version: "1.0.0", Notes: "first"}
		tx(t, s, func(q *store.Queries) error { return q.CreateRelease(ctx, &r) })

		proc, _ := s.Read().GetProcess(ctx, p.ID)
		proc.Steps[0].Script.Body = "echo changed"
		tx(t, s, func(q *store.Queries) error { return q.SaveProcess(ctx, &proc) })
		got, err := s.Read().GetRelease(ctx, r.ID)
		if err != nil || got.ProcessSnapshot.Steps[0].Script.Body != "echo ok" || got.Notes != "first" {
			t.Fatalf("snapshot changed with the project: %v %+v", err, got.ProcessSnapshot)
		}

		mustFail(t, s, store.ErrConflict, func(q *store.Queries) error {
			return q.CreateRelease(ctx, &model.Release{ProjectID: p.ID, Version: "1.0.0"})
		})
		next := model.Release{ProjectID: p.ID}
		tx(t, s, func(q *store.Queries) error { return q.CreateRelease(ctx, &next) })
		if next.Version != "1.0.1" {
			t.Fatalf("next version: %s", next.Version)
		}
		if found, err := s.Read().FindRelease(ctx, p.ID, "1.0.1"); err != nil || found.ID != next.ID {
			t.Fatalf("find release: %v %+v", err, found)
		}
		list, total, _ := s.Read().ListReleases(ctx, store.ReleaseFilter{ProjectID: p.ID})
		if total != 2 || list[0].Version != "1.0.1" {
			t.Fatalf("releases newest first: %d %+v", total, list)
		}
	})
}

func queueDeployment(t *testing.T, s *store.Store, p model.Project, r model.Release, env model.Environment) model.Deployment {
	t.Helper()
	d := model.Deployment{ReleaseID: r.ID, ProjectID: p.ID, EnvironmentID: env.ID, CreatedBy: "tester"}
	tx(t, s, func(q *store.Queries) error {
		return q.CreateDeployment(context.Background(), &d, &model.Task{Description: "Deploy"})
	})
	return d
}

func TestTaskLeasesAndFencing(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, c *clock) {
		ctx := context.Background()
		env := createEnvs(t, s, "Dev")[0]
		p := newProjectWithStep(t, s, "web")
		r := model.Release{ProjectID: p.ID, Version: "1.0.0"}
		tx(t, s, func(q *store.Queries) error { return q.CreateRelease(ctx, &r) })
		d1 := queueDeployment(t, s, p, r, env)
		d2 := queueDeployment(t, s, p, r, env)
		if d1.State != model.TaskQueued {
			t.Fatalf("new deployment state: %s", d1.State)
		}

		var claims []store.Claim
		tx(t, s, func(q *store.Queries) (err error) {
			claims, err = q.ClaimTasks(ctx, "node-a", 1, 30*time.Second)
			return
		})
		if len(claims) != 1 || claims[0].Task.ID != d1.TaskID || claims[0].Task.State != model.TaskExecuting {
			t.Fatalf("first claim takes the oldest task: %+v", claims)
		}
		a := claims[0].Lease

		// Within the lease nobody else can take it; the second task is free.
		var other []store.Claim
		tx(t, s, func(q *store.Queries) (err error) {
			other, err = q.ClaimTasks(ctx, "node-b", 5, 30*time.Second)
			return
		})
		if len(other) != 1 || other[0].Task.ID != d2.TaskID {
			t.Fatalf("node-b should get only the second task: %+v", other)
		}

		c.Advance(20 * time.Second)
		tx(t, s, func(q *store.Queries) error { _, err := q.RenewLease(ctx, a, 30*time.Second); return err })
		c.Advance(20 * time.Second) // 40s after the claim, but renewed at 20s
		tx(t, s, func(q *store.Queries) (err error) {
			other, err = q.ClaimTasks(ctx, "node-b", 5, 30*time.Second)
			return
		})
		for _, c := range other {
			if c.Task.ID == d1.TaskID {
				t.Fatalf("a renewed lease must not be taken: %+v", other)
			}
		}

		// node-a goes silent; after the lease, node-b takes the task over.
		c.Advance(31 * time.Second)
		tx(t, s, func(q *store.Queries) (err error) {
			other, err = q.ClaimTasks(ctx, "node-b", 5, 30*time.Second)
			return
		})
		var takeover *store.Claim
		for i := range other {
			if other[i].Task.ID == d1.TaskID {
				takeover = &other[i]
			}
		}
		if takeover == nil || takeover.Lease.Epoch <= a.Epoch || takeover.Task.State != model.TaskExecuting {
			t.Fatalf("expired lease should be taken over with a new epoch: %+v", other)
		}

		// node-a comes back late: every write it tries is refused.
		line := []model.LogLine{{Time: c.Now(), Level: model.LevelInfo, Text: "late"}}
		mustFail(t, s, store.ErrLeaseLost, func(q *store.Queries) error { return q.AppendLog(ctx, a, line) })
		mustFail(t, s, store.ErrLeaseLost, func(q *store.Queries) error { return q.FinishTask(ctx, a, model.TaskSuccess, "") })
		mustFail(t, s, store.ErrLeaseLost, func(q *store.Queries) error {
			return q.CreateActivity(ctx, a, &model.Activity{Kind: model.ActivityStep, Name: "x", State: model.ActivityRunning})
		})
		mustFail(t, s, store.ErrLeaseLost, func(q *store.Queries) error { _, err := q.RenewLease(ctx, a, time.Minute); return err })

		b := takeover.Lease
		tx(t, s, func(q *store.Queries) error { return q.FinishTask(ctx, b, model.TaskSuccess, "") })
		got, _ := s.Read().GetDeployment(ctx, d1.ID)
		if got.State != model.TaskSuccess {
			t.Fatalf("deployment mirrors its task: %s", got.State)
		}
		h, err := s.Read().ReleaseHistory(ctx, r.ID)
		if err != nil || !h.Succeeded[env.ID] || !h.Attempted[env.ID] {
			t.Fatalf("history: %v %+v", err, h)
		}
	})
}

func TestReleaseLeasesOnRestart(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		ctx := context.Background()
		env := createEnvs(t, s, "Dev")[0]
		p := newProjectWithStep(t, s, "web")
		r := model.Release{ProjectID: p.ID, Version: "1.0.0"}
		tx(t, s, func(q *store.Queries) error { return q.CreateRelease(ctx, &r) })
		queueDeployment(t, s, p, r, env)
		var first []store.Claim
		tx(t, s, func(q *store.Queries) (err error) { first, err = q.ClaimTasks(ctx, "node-a", 5, time.Hour); return })
		// node-a restarts: it releases what its previous life held and takes it back at once.
		var n int
		tx(t, s, func(q *store.Queries) (err error) { n, err = q.ReleaseLeases(ctx, "node-a"); return })
		var again []store.Claim
		tx(t, s, func(q *store.Queries) (err error) { again, err = q.ClaimTasks(ctx, "node-a", 5, time.Hour); return })
		if n != 1 || len(again) != 1 || again[0].Lease.Epoch != first[0].Lease.Epoch+1 {
			t.Fatalf("restart reclaim: released %d, claims %+v", n, again)
		}
	})
}

func TestCancel(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		ctx := context.Background()
		env := createEnvs(t, s, "Dev")[0]
		p := newProjectWithStep(t, s, "web")
		r := model.Release{ProjectID: p.ID, Version: "1.0.0"}
		tx(t, s, func(q *store.Queries) error { return q.CreateRelease(ctx, &r) })
		queued := queueDeployment(t, s, p, r, env)
		var task model.Task
		tx(t, s, func(q *store.Queries) (err error) { task, err = q.RequestCancel(ctx, queued.TaskID); return })
		if task.State != model.TaskCanceled || task.CompletedAt == nil {
			t.Fatalf("a queued task is canceled at once: %+v", task)
		}
		mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { _, err := q.RequestCancel(ctx, queued.TaskID); return err })

		running := queueDeployment(t, s, p, r, env)
		var claims []store.Claim
		tx(t, s, func(q *store.Queries) (err error) { claims, err = q.ClaimTasks(ctx, "n", 1, time.Minute); return })
		tx(t, s, func(q *store.Queries) (err error) { task, err = q.RequestCancel(ctx, running.TaskID); return })
		if task.State != model.TaskCanceling || !task.CancelRequested {
			t.Fatalf("a running task is asked to stop: %+v", task)
		}
		var requested bool
		tx(t, s, func(q *store.Queries) (err error) {
			requested, err = q.RenewLease(ctx, claims[0].Lease, time.Minute)
			return
		})
		if !requested {
			t.Fatal("renewing the lease should report the cancel request")
		}
	})
}

func TestTaskLog(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, c *clock) {
		ctx := context.Background()
		env := createEnvs(t, s, "Dev")[0]
		p := newProjectWithStep(t, s, "web")
		r := model.Release{ProjectID: p.ID, Version: "1.0.0"}
		tx(t, s, func(q *store.Queries) error { return q.CreateRelease(ctx, &r) })
		d := queueDeployment(t, s, p, r, env)
		var claims []store.Claim
		tx(t, s, func(q *store.Queries) (err error) { claims, err = q.ClaimTasks(ctx, "n", 1, time.Minute); return })
		l := claims[0].Lease

		step := model.Activity{Kind: model.ActivityStep, Name: "Run", State: model.ActivityRunning, StepID: "step-1"}
		target := model.Activity{Kind: model.ActivityTarget, Name: "built-in worker", State: model.ActivityPending}
		tx(t, s, func(q *store.Queries) error {
			if err := q.CreateActivity(ctx, l, &step); err != nil {
				return err
			}
			target.ParentID = step.ID
			return q.CreateActivity(ctx, l, &target)
		})
		code := 3
		target.State, target.ExitCode, target.ScriptTicket = model.ActivityFailed, &code, "tk-1"
		tx(t, s, func(q *store.Queries) error {
			if err := q.UpdateActivity(ctx, l, &target); err != nil {
				return err
			}
			return q.SetScriptLogSeq(ctx, l, target.ID, 17)
		})
		acts, err := s.Read().ListActivities(ctx, d.TaskID)
		if err != nil || len(acts) != 2 || acts[1].ParentID != acts[0].ID || *acts[1].ExitCode != 3 || acts[1].NextScriptLogSeq != 17 {
			t.Fatalf("activities: %v %+v", err, acts)
		}

		// More lines than one INSERT batch, appended in two calls.
		var lines []model.LogLine
		for i := 0; i < 450; i++ {
			lines = append(lines, model.LogLine{ActivityID: target.ID, Time: c.Now(), Level: model.LevelInfo, Text: "line"})
		}
		tx(t, s, func(q *store.Queries) error { return q.AppendLog(ctx, l, lines[:300]) })
		tx(t, s, func(q *store.Queries) error { return q.AppendLog(ctx, l, lines[300:]) })
		all, err := s.Read().ReadLog(ctx, d.TaskID, 0, 10000)
		if err != nil || len(all) != 450 || all[0].Seq != 1 || all[449].Seq != 450 {
			t.Fatalf("read log: %v len %d", err, len(all))
		}
		tail, _ := s.Read().ReadLog(ctx, d.TaskID, 440, 100)
		if len(tail) != 10 || tail[0].Seq != 441 {
			t.Fatalf("read from position: %+v", tail)
		}
	})
}

func TestConcurrentClaimsNeverShareATask(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		ctx := context.Background()
		env := createEnvs(t, s, "Dev")[0]
		p := newProjectWithStep(t, s, "web")
		r := model.Release{ProjectID: p.ID, Version: "1.0.0"}
		tx(t, s, func(q *store.Queries) error { return q.CreateRelease(ctx, &r) })
		const tasks = 40
		for i := 0; i < tasks; i++ {
			queueDeployment(t, s, p, r, env)
		}
		var mu sync.Mutex
		seen := map[string]string{}
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			node := string(rune('a' + w))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					var claims []store.Claim
					if err := s.Tx(ctx, func(q *store.Queries) (err error) { claims, err = q.ClaimTasks(ctx, node, 3, time.Hour); return }); err != nil {
						t.Error(err)
						return
					}
					if len(claims) == 0 {
						return
					}
					mu.Lock()
					for _, c := range claims {
						if prev, dup := seen[c.Task.ID]; dup {
							t.Errorf("task %s claimed by %s and %s", c.Task.ID, prev, node)
						}
						seen[c.Task.ID] = node
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != tasks {
			t.Fatalf("claimed %d of %d tasks", len(seen), tasks)
		}
	})
}

func TestDataSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	createEnvs(t, s, "Dev")
	s.Close()
	s, err = store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Read().FindEnvironment(ctx, "Dev"); err != nil {
		t.Fatalf("environment lost across reopen: %v", err)
	}
}

func TestMachines(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, c *clock) {
		ctx := context.Background()
		envs := createEnvs(t, s, "Dev", "Test")
		thumb := strings.Repeat("AB", 32)
		web := model.Machine{Name: "web-1", Kind: model.MachineListening, Usage: model.UsageTarget, Address: "10.0.0.5:10933",
			Thumbprint: thumb, EnvironmentIDs: []string{envs[0].ID}, Roles: []string{"web"}}
		tx(t, s, func(q *store.Queries) error { return q.CreateMachine(ctx, &web, "") })
		if web.ID != "Machines-1" || web.PolicyID != "MachinePolicies-1" || web.Health.Status != model.HealthUnknown {
			t.Fatalf("created %+v", web)
		}
		// One agent is one machine.
		twin := web
		twin.ID, twin.Name = "", "web-2"
		mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { return q.CreateMachine(ctx, &twin, "") })
		// References are checked.
		bad := model.Machine{Name: "x", Kind: model.MachinePolling, Usage: model.UsageTarget, Thumbprint: strings.Repeat("CD", 32),
			EnvironmentIDs: []string{"Environments-99"}, Roles: []string{"web"}}
		if err := mustFail(t, s, nil, func(q *store.Queries) error { return q.CreateMachine(ctx, &bad, "") }); !isValidation(err) {
			t.Fatalf("unknown environment: %v", err)
		}
		ssh := model.Machine{Name: "db-1", Kind: model.MachineSSH, Usage: model.UsageTarget, Address: "db.example:22",
			SSH:            &model.SSHEndpoint{User: "deploy", HostKeyFingerprint: "SHA256:abc", AuthMethod: "key"},
			EnvironmentIDs: []string{envs[0].ID, envs[1].ID}, Roles: []string{"db", "Web"}}
		tx(t, s, func(q *store.Queries) error { return q.CreateMachine(ctx, &ssh, "v1.sealed") })

		list, total, err := s.Read().ListMachines(ctx, store.MachineFilter{EnvironmentID: envs[0].ID, Roles: []string{"WEB"}})
		if err != nil || total != 2 || list[0].Name != "db-1" || list[1].Name != "web-1" {
			t.Fatalf("machines in Dev with role web: %d %+v %v", total, list, err)
		}
		list, _, _ = s.Read().ListMachines(ctx, store.MachineFilter{EnvironmentID: envs[1].ID})
		if len(list) != 1 || list[0].SSH.User != "deploy" {
			t.Fatalf("machines in Test: %+v", list)
		}
		if sealed, _ := s.Read().MachineCredentials(ctx, ssh.ID); sealed != "v1.sealed" {
			t.Fatalf("credentials %q", sealed)
		}
		if m, err := s.Read().MachineByThumbprint(ctx, thumb); err != nil || m.ID != web.ID {
			t.Fatalf("by thumbprint: %+v %v", m, err)
		}

		// Health: unavailability is dated from its first sighting.
		t0 := c.Now()
		tx(t, s, func(q *store.Queries) error {
			_, err := q.SetMachineHealth(ctx, web.ID, model.HealthUnavailable, "connection refused", t0)
			return err
		})
		c.Advance(time.Hour)
		var m model.Machine
		tx(t, s, func(q *store.Queries) (err error) {
			m, err = q.SetMachineHealth(ctx, web.ID, model.HealthUnavailable, "connection refused", c.Now())
			return err
		})
		if !m.Health.UnavailableSince.Equal(t0) || !m.Health.CheckedAt.Equal(c.Now()) {
			t.Fatalf("health %+v", m.Health)
		}
		tx(t, s, func(q *store.Queries) (err error) {
			m, err = q.SetMachineHealth(ctx, web.ID, model.HealthHealthy, "", c.Now())
			return err
		})
		if m.Health.UnavailableSince != nil {
			t.Fatalf("a healthy machine is still unavailable since %v", m.Health.UnavailableSince)
		}

		// An environment with machines cannot go.
		mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { return q.DeleteEnvironment(ctx, envs[1].ID) })
		tx(t, s, func(q *store.Queries) error { return q.DeleteMachine(ctx, ssh.ID) })
		tx(t, s, func(q *store.Queries) error { return q.DeleteEnvironment(ctx, envs[1].ID) })

		// Workers live in pools; the default pool and policy cannot be deleted.
		pool := model.WorkerPool{Name: "Linux"}
		tx(t, s, func(q *store.Queries) error { return q.CreateWorkerPool(ctx, &pool) })
		worker := model.Machine{Name: "w1", Kind: model.MachinePolling, Usage: model.UsageWorker, Thumbprint: strings.Repeat("EF", 32),
			WorkerPoolIDs: []string{pool.ID}}
		tx(t, s, func(q *store.Queries) error { return q.CreateMachine(ctx, &worker, "") })
		mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { return q.DeleteWorkerPool(ctx, pool.ID) })
		def, err := s.Read().DefaultWorkerPool(ctx)
		if err != nil || def.Name != model.DefaultWorkerPoolName {
			t.Fatalf("default pool %+v %v", def, err)
		}
		mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { return q.DeleteWorkerPool(ctx, def.ID) })
		mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { return q.DeleteMachinePolicy(ctx, "MachinePolicies-1") })

		// The default moves to the pool that asks for it; there is always one.
		pool.IsDefault = true
		tx(t, s, func(q *store.Queries) error { return q.UpdateWorkerPool(ctx, &pool) })
		pool.IsDefault = false
		tx(t, s, func(q *store.Queries) error { return q.UpdateWorkerPool(ctx, &pool) })
		pools, _, err := s.Read().ListWorkerPools(ctx, store.ListOptions{})
		if err != nil || len(pools) != 2 || pools[0].IsDefault || !pools[1].IsDefault || pools[1].ID != pool.ID {
			t.Fatalf("after making %s the default: %+v %v", pool.Name, pools, err)
		}
		third := model.WorkerPool{Name: "Windows", IsDefault: true}
		tx(t, s, func(q *store.Queries) error { return q.CreateWorkerPool(ctx, &third) })
		if def, err := s.Read().DefaultWorkerPool(ctx); err != nil || def.ID != third.ID {
			t.Fatalf("a pool created as the default: the default is %+v %v", def, err)
		}
	})
}

func TestSettingsAreDecidedByTheFirstWriter(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, c *clock) {
		ctx := context.Background()
		var first, second string
		tx(t, s, func(q *store.Queries) (err error) { first, err = q.InitSetting(ctx, "identity", "a"); return })
		tx(t, s, func(q *store.Queries) (err error) { second, err = q.InitSetting(ctx, "identity", "b"); return })
		if first != "a" || second != "a" {
			t.Fatalf("got %q then %q", first, second)
		}
	})
}

func TestLibrarySetsAreSnapshottedByReleases(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, c *clock) {
		ctx := context.Background()
		envs := createEnvs(t, s, "Dev", "Prod")
		set := model.LibraryVariableSet{Name: "Common", Variables: []model.Variable{
			{Name: "Smtp", Value: "smtp-dev", Scope: model.Scope{Environments: []string{envs[0].ID}}},
			{Name: "Smtp", Value: "smtp"},
		}}
		tx(t, s, func(q *store.Queries) error { return q.CreateLibrarySet(ctx, &set) })
		if set.ID == "" || set.Version != 1 || set.Variables[0].ID == "" {
			t.Fatalf("created %+v", set)
		}
		bad := model.LibraryVariableSet{Name: "Bad", Variables: []model.Variable{{Name: "X", Value: "y", Scope: model.Scope{Steps: []string{"s"}}}}}
		if err := mustFail(t, s, nil, func(q *store.Queries) error { return q.CreateLibrarySet(ctx, &bad) }); !isValidation(err) {
			t.Fatalf("a step scope in a library set: %v", err)
		}

		var p model.Project
		tx(t, s, func(q *store.Queries) error {
			p = model.Project{Name: "web", LibrarySetIDs: []string{set.ID}}
			if err := q.CreateProject(ctx, &p); err != nil {
				return err
			}
			d := model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Run", Script: &model.ScriptAction{Syntax: "bash", Body: "true"}}}}
			return q.SaveProcess(ctx, &d)
		})
		unknown := model.Project{Name: "other", LibrarySetIDs: []string{"LibraryVariableSets-99"}}
		if err := mustFail(t, s, nil, func(q *store.Queries) error { return q.CreateProject(ctx, &unknown) }); !isValidation(err) {
			t.Fatalf("an unknown set: %v", err)
		}

		var rel model.Release
		tx(t, s, func(q *store.Queries) error {
			rel = model.Release{ProjectID: p.ID, Version: "1.0.0"}
			return q.CreateRelease(ctx, &rel)
		})
		if n := len(rel.VariableSnapshot.Variables); n != 2 || rel.VariableSnapshot.Variables[0].LibrarySetID != set.ID {
			t.Fatalf("snapshot %+v", rel.VariableSnapshot.Variables)
		}

		// Editing the set changes new releases only, until the release's variables are refreshed.
		set.Variables[1].Value = "smtp-new"
		tx(t, s, func(q *store.Queries) error { return q.UpdateLibrarySet(ctx, &set) })
		got, _ := s.Read().GetRelease(ctx, rel.ID)
		if got.VariableSnapshot.Variables[1].Value != "smtp" {
			t.Fatalf("an edit of the set reached an existing release: %+v", got.VariableSnapshot.Variables)
		}
		tx(t, s, func(q *store.Queries) (err error) { got, err = q.RefreshReleaseVariables(ctx, rel.ID); return err })
		if got.VariableSnapshot.Variables[1].Value != "smtp-new" {
			t.Fatalf("refresh: %+v", got.VariableSnapshot.Variables)
		}
		stale := set
		stale.Version = 1
		mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { return q.UpdateLibrarySet(ctx, &stale) })
		mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { return q.DeleteLibrarySet(ctx, set.ID) })
	})
}

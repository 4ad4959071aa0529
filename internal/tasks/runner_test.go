package tasks_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
	"github.com/pulpo-deploy/pulpo/internal/testutil/pgtest"
)

var pg pgtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

const kindTest model.TaskKind = "Test"

// handler is a scripted task handler for the tests.
type handler struct {
	execute  func(ctx context.Context, run *tasks.Run) error
	finished atomic.Int32
	states   sync.Map // task id -> final state seen by Finished
}

func (h *handler) Execute(ctx context.Context, run *tasks.Run) error { return h.execute(ctx, run) }
func (h *handler) Finished(ctx context.Context, q *store.Queries, t model.Task, state model.TaskState) error {
	h.finished.Add(1)
	h.states.Store(t.ID, state)
	return nil
}

type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.off) }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

func eachStore(t *testing.T, test func(t *testing.T, s *store.Store, c *clock)) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			c := &clock{}
			cfg := store.Config{DataDir: t.TempDir(), Clock: c.Now}
			if dialect == "postgres" {
				cfg.DatabaseURL = pg.Database(t)
			}
			s, err := store.Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			test(t, s, c)
		})
	}
}

func queue(t *testing.T, s *store.Store) string {
	t.Helper()
	task := model.Task{Kind: kindTest, Description: "test task"}
	if err := s.Tx(context.Background(), func(q *store.Queries) error { return q.CreateTask(context.Background(), &task) }); err != nil {
		t.Fatal(err)
	}
	return task.ID
}

// startRunner runs a runner until the test ends (or stop is called).
func startRunner(t *testing.T, s *store.Store, node string, h tasks.Handler, lease time.Duration) (*tasks.Runner, func()) {
	t.Helper()
	r := tasks.NewRunner(s, tasks.NewBroker(), tasks.Config{Node: node, Lease: lease, Poll: 50 * time.Millisecond})
	r.Handle(kindTest, h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return r, stop
}

func waitState(t *testing.T, s *store.Store, id string, want model.TaskState) model.Task {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		task, err := s.Read().GetTask(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if task.State == want {
			return task
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s is %s, want %s (error %q)", id, task.State, want, task.Error)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func logText(t *testing.T, s *store.Store, id string) string {
	t.Helper()
	lines, err := s.Read().ReadLog(context.Background(), id, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i, l := range lines {
		if l.Seq != int64(i+1) {
			t.Fatalf("log line %d has seq %d", i, l.Seq)
		}
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

func TestTasksRunToTheirEnd(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		h := &handler{execute: func(ctx context.Context, run *tasks.Run) error {
			if strings.Contains(run.Task.Description, "fail") {
				return errors.New("exit code 3")
			}
			if strings.Contains(run.Task.Description, "panic") {
				panic("boom")
			}
			for i := 0; i < 3000; i++ {
				run.Logf(0, model.LevelInfo, "line %d", i)
			}
			return nil
		}}
		ok := queue(t, s)
		failing := model.Task{Kind: kindTest, Description: "will fail"}
		panicking := model.Task{Kind: kindTest, Description: "will panic"}
		unknown := model.Task{Kind: "Unknown", Description: "no handler"}
		s.Tx(context.Background(), func(q *store.Queries) error {
			for _, task := range []*model.Task{&failing, &panicking, &unknown} {
				if err := q.CreateTask(context.Background(), task); err != nil {
					return err
				}
			}
			return nil
		})
		startRunner(t, s, "a", h, 30*time.Second)
		done := waitState(t, s, ok, model.TaskSuccess)
		if done.StartedAt == nil || done.CompletedAt == nil {
			t.Fatalf("times not recorded: %+v", done)
		}
		if text := logText(t, s, ok); !strings.Contains(text, "line 0\n") || !strings.Contains(text, "line 2999\n") {
			t.Fatal("log incomplete")
		}
		if f := waitState(t, s, failing.ID, model.TaskFailed); f.Error != "exit code 3" {
			t.Fatalf("failure reason: %q", f.Error)
		}
		if p := waitState(t, s, panicking.ID, model.TaskFailed); !strings.Contains(p.Error, "internal error: boom") {
			t.Fatalf("panic reason: %q", p.Error)
		}
		if u := waitState(t, s, unknown.ID, model.TaskFailed); !strings.Contains(u.Error, "cannot run") {
			t.Fatalf("unknown kind reason: %q", u.Error)
		}
		if v, _ := h.states.Load(ok); v != model.TaskSuccess {
			t.Fatalf("Finished saw %v", v)
		}
	})
}

// blocking returns a handler that logs "started" and waits for its context.
func blocking(started chan<- string) *handler {
	return &handler{execute: func(ctx context.Context, run *tasks.Run) error {
		run.Log(0, model.LevelInfo, "started")
		started <- run.Task.ID
		<-ctx.Done()
		return context.Cause(ctx)
	}}
}

func TestCancelReachesARunningTask(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		started := make(chan string, 10)
		h := blocking(started)
		// A short lease, so renewals (which carry cancel requests made
		// elsewhere) come often.
		r, _ := startRunner(t, s, "a", h, 600*time.Millisecond)

		here := queue(t, s)
		<-started
		s.Tx(context.Background(), func(q *store.Queries) error { _, err := q.RequestCancel(context.Background(), here); return err })
		r.Cancel(here)
		waitState(t, s, here, model.TaskCanceled)

		// A request stored by another node, without telling this runner.
		elsewhere := queue(t, s)
		<-started
		s.Tx(context.Background(), func(q *store.Queries) error { _, err := q.RequestCancel(context.Background(), elsewhere); return err })
		waitState(t, s, elsewhere, model.TaskCanceled)
		if !strings.Contains(logText(t, s, elsewhere), "The task was canceled.") {
			t.Fatal("the log should say the task was canceled")
		}
	})
}

func TestAStoppedNodeResumesItsTasks(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		started := make(chan string, 10)
		_, stop := startRunner(t, s, "a", blocking(started), 30*time.Second)
		id := queue(t, s)
		<-started
		stop()
		if task, _ := s.Read().GetTask(context.Background(), id); task.State != model.TaskExecuting {
			t.Fatalf("a task interrupted by shutdown must stay Executing, is %s", task.State)
		}
		resumed := &handler{execute: func(ctx context.Context, run *tasks.Run) error {
			run.Log(0, model.LevelInfo, "resumed")
			return nil
		}}
		startRunner(t, s, "a", resumed, 30*time.Second)
		waitState(t, s, id, model.TaskSuccess)
		if text := logText(t, s, id); text != "started\nresumed\n" {
			t.Fatalf("log after resume: %q", text)
		}
	})
}

func TestAnotherNodeTakesOverALapsedLease(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, c *clock) {
		started := make(chan string, 10)
		var lostSeen atomic.Bool
		stuck := &handler{execute: func(ctx context.Context, run *tasks.Run) error {
			started <- run.Task.ID
			<-ctx.Done()
			lostSeen.Store(errors.Is(context.Cause(ctx), store.ErrLeaseLost))
			run.Log(0, model.LevelInfo, "written too late") // must never reach the log
			return context.Cause(ctx)
		}}
		startRunner(t, s, "a", stuck, 900*time.Millisecond)
		id := queue(t, s)
		<-started
		// Node a seems dead to the others: time jumps past its lease.
		c.Advance(time.Hour)
		takeover := &handler{execute: func(ctx context.Context, run *tasks.Run) error {
			run.Log(0, model.LevelInfo, "taken over")
			return nil
		}}
		startRunner(t, s, "b", takeover, 30*time.Second)
		waitState(t, s, id, model.TaskSuccess)
		deadline := time.Now().Add(10 * time.Second)
		for !lostSeen.Load() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if !lostSeen.Load() {
			t.Fatal("node a never learned it lost the task")
		}
		if text := logText(t, s, id); strings.Contains(text, "too late") || !strings.Contains(text, "taken over") {
			t.Fatalf("log: %q", text)
		}
		if takeover.finished.Load() != 1 || stuck.finished.Load() != 0 {
			t.Fatalf("Finished ran a=%d b=%d times", stuck.finished.Load(), takeover.finished.Load())
		}
	})
}

package tasks_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
)

func queueFor(t *testing.T, s *store.Store, project string, priority int) string {
	t.Helper()
	task := model.Task{Kind: kindTest, Description: "test task", ProjectID: project, Priority: priority}
	if err := s.Tx(context.Background(), func(q *store.Queries) error { return q.CreateTask(context.Background(), &task) }); err != nil {
		t.Fatal(err)
	}
	return task.ID
}

func claim(t *testing.T, s *store.Store, node string, n int) []string {
	t.Helper()
	var ids []string
	err := s.Tx(context.Background(), func(q *store.Queries) error {
		claims, err := q.ClaimTasks(context.Background(), node, n, time.Minute)
		for _, c := range claims {
			ids = append(ids, c.Task.ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestTheQueueIsFairBetweenProjects(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, c *clock) {
		var busy []string
		for i := 0; i < 10; i++ {
			busy = append(busy, queueFor(t, s, "Projects-1", model.PriorityDeployment))
		}
		quiet := queueFor(t, s, "Projects-2", model.PriorityDeployment)
		got := claim(t, s, "a", 2)
		if !slices.Equal(got, []string{busy[0], quiet}) {
			t.Fatalf("claimed %v; want the busy project's oldest and the quiet project's task %s, not two of the busy one", got, quiet)
		}
		// The busy project now has one running, the quiet one too: the next
		// claims take the busy project's in order.
		if got := claim(t, s, "a", 3); !slices.Equal(got, busy[1:4]) {
			t.Fatalf("then claimed %v, want %v", got, busy[1:4])
		}
	})
}

func TestProductionDeploymentsGoBeforeRunbooksWhenTheQueueIsFull(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, c *clock) {
		runbook := queueFor(t, s, "Projects-1", model.PriorityRunbook)
		dev := queueFor(t, s, "Projects-1", model.PriorityDeployment)
		prod := queueFor(t, s, "Projects-2", model.PriorityProduction)
		if got := claim(t, s, "a", 1); !slices.Equal(got, []string{prod}) {
			t.Fatalf("first claim %v, want the production deployment %s", got, prod)
		}
		if got := claim(t, s, "a", 2); !slices.Equal(got, []string{dev, runbook}) {
			t.Fatalf("then %v, want %v", got, []string{dev, runbook})
		}
	})
}

func TestTasksOfADeadNodeResumeBeforeNewWork(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, c *clock) {
		old := queueFor(t, s, "Projects-1", model.PriorityRunbook)
		if got := claim(t, s, "dead", 1); !slices.Equal(got, []string{old}) {
			t.Fatalf("claimed %v", got)
		}
		fresh := queueFor(t, s, "Projects-2", model.PriorityProduction)
		c.Advance(2 * time.Minute) // the dead node's lease lapses
		if got := claim(t, s, "b", 1); !slices.Equal(got, []string{old}) {
			t.Fatalf("claimed %v, want the interrupted task %s before new work %s", got, old, fresh)
		}
	})
}

func TestADrainedNodeTakesNoNewTasks(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, c *clock) {
		ran := make(chan string, 10)
		h := &handler{execute: func(ctx context.Context, run *tasks.Run) error { ran <- run.Task.ID; return nil }}
		r := tasks.NewRunner(s, tasks.NewBroker(), tasks.Config{Node: "a", Poll: 20 * time.Millisecond, Heartbeat: 20 * time.Millisecond,
			Logger: slog.New(slog.DiscardHandler)})
		r.Handle(kindTest, h)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		defer func() { cancel(); <-done }()

		first := queue(t, s)
		r.Notify()
		waitRan(t, ran, first)
		if _, err := setDraining(s, "a", true); err != nil {
			t.Fatal(err)
		}
		r.CheckDrain(ctx)
		second := queue(t, s)
		r.Notify()
		select {
		case id := <-ran:
			t.Fatalf("the drained node ran %s", id)
		case <-time.After(200 * time.Millisecond): // several polls and heartbeats
		}
		var nodes []model.Node
		s.Tx(ctx, func(q *store.Queries) (err error) { nodes, err = q.ListNodes(ctx, time.Minute); return err })
		if len(nodes) != 1 || !nodes[0].Draining || !nodes[0].Alive || nodes[0].Name != "a" {
			t.Fatalf("node list: %+v", nodes)
		}
		setDraining(s, "a", false)
		r.CheckDrain(ctx)
		waitRan(t, ran, second)
	})
}

func setDraining(s *store.Store, node string, d bool) (model.Node, error) {
	var n model.Node
	err := s.Tx(context.Background(), func(q *store.Queries) (err error) {
		n, err = q.SetDraining(context.Background(), node, d)
		return err
	})
	return n, err
}

func waitRan(t *testing.T, ran <-chan string, want string) {
	t.Helper()
	select {
	case id := <-ran:
		if id != want {
			t.Fatalf("ran %s, want %s", id, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("task %s did not run", want)
	}
}

func TestQueuedWorkWakesListeningNodesAtOnce(t *testing.T) {
	s, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir(), DatabaseURL: pg.Database(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	woke := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Listen(ctx, func() { woke <- struct{}{} }, slog.New(slog.DiscardHandler)) }()
	defer func() { cancel(); <-done }()
	select {
	case <-woke: // the first wake comes with the connection
	case <-time.After(10 * time.Second):
		t.Fatal("the listener never connected")
	}
	start := time.Now()
	queue(t, s)
	select {
	case <-woke:
		t.Logf("woken %s after the commit", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("queuing a task did not wake the listener")
	}
}

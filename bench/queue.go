package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
	"github.com/pulpo-deploy/pulpo/internal/testutil/pgtest"
)

const kindBench model.TaskKind = "Bench"

// started records when each task began to run.
type started struct {
	mu    sync.Mutex
	at    map[string]time.Time
	done  chan struct{}
	want  int
	nodes map[string]int
}

func (s *started) Execute(ctx context.Context, run *tasks.Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.at[run.Task.ID]; !seen {
		s.at[run.Task.ID] = time.Now()
		if len(s.at) == s.want {
			close(s.done)
		}
	}
	return nil
}

func (s *started) Finished(context.Context, *store.Queries, model.Task, model.TaskState) error {
	return nil
}

// queueScenarios measures the task queue alone (trivial tasks): how many
// dispatches a second a burst of n gets through, and how long a task
// queued while slots are free waits from queued to running, on SQLite (one
// node) and on PostgreSQL with two nodes.
func queueScenarios(ctx context.Context, n int, skipPG bool) ([]Result, error) {
	var results []Result
	setups := []struct {
		db    string
		nodes int
	}{{"sqlite", 1}}
	if !skipPG {
		setups = append(setups, struct {
			db    string
			nodes int
		}{"postgres", 2})
	}
	for _, setup := range setups {
		url := ""
		if setup.db == "postgres" {
			cluster, err := pgtest.Start(ctx)
			if err != nil {
				return nil, fmt.Errorf("start PostgreSQL: %w", err)
			}
			defer cluster.Stop()
			if url, err = cluster.NewDatabase(ctx); err != nil {
				return nil, err
			}
		}
		burst, err := queueRun(ctx, setup.db, url, setup.nodes, n, 0)
		if err != nil {
			return nil, fmt.Errorf("%s burst: %w", setup.db, err)
		}
		burst.Scenario = fmt.Sprintf("queue: burst of %d trivial tasks, %d node(s)", n, setup.nodes)
		paced, err := queueRun(ctx, setup.db, url, setup.nodes, min(n, 1000), 5*time.Millisecond)
		if err != nil {
			return nil, fmt.Errorf("%s paced: %w", setup.db, err)
		}
		paced.Scenario = fmt.Sprintf("queue: queued→running, 1 task per 5 ms, %d node(s)", setup.nodes)
		results = append(results, burst, paced)
	}
	return results, nil
}

// queueRun queues n tasks (all at once, or one every gap) on nodes runners
// sharing one database, and returns the queued→running latencies; PerSec
// is the dispatch rate from the first queue to the last start.
func queueRun(ctx context.Context, db, url string, nodes, n int, gap time.Duration) (Result, error) {
	data, err := os.MkdirTemp("", "pulpo-bench-queue-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(data)
	h := &started{at: map[string]time.Time{}, done: make(chan struct{}), want: n}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var queueStore *store.Store
	// One SQLite node wakes itself when it queues, as the server does;
	// PostgreSQL nodes are woken by NOTIFY.
	wake := func() {}
	for i := 0; i < nodes; i++ {
		s, err := store.Open(ctx, store.Config{DataDir: data, DatabaseURL: url})
		if err != nil {
			stop()
			return Result{}, err
		}
		defer s.Close()
		if i == 0 {
			queueStore = s
		}
		r := tasks.NewRunner(s, tasks.NewBroker(), tasks.Config{Node: fmt.Sprintf("node-%d", i), Slots: 10, Logger: slog.New(slog.DiscardHandler)})
		r.Handle(kindBench, h)
		wg.Add(2)
		go func() { defer wg.Done(); r.Run(runCtx) }()
		go func() { defer wg.Done(); s.Listen(runCtx, r.Notify, slog.New(slog.DiscardHandler)) }()
		if i == 0 && url == "" {
			wake = r.Notify
		}
	}
	defer func() { stop(); wg.Wait() }()

	queued := make(map[string]time.Time, n)
	first := time.Now()
	const batch = 500
	for i := 0; i < n; {
		size := batch
		if gap > 0 {
			size = 1
		}
		size = min(size, n-i)
		var ids []string
		err := queueStore.Tx(ctx, func(q *store.Queries) error {
			ids = ids[:0]
			for j := 0; j < size; j++ {
				t := model.Task{Kind: kindBench, Description: "bench", ProjectID: fmt.Sprintf("Projects-%d", (i+j)%20)}
				if err := q.CreateTask(ctx, &t); err != nil {
					return err
				}
				ids = append(ids, t.ID)
			}
			return nil
		})
		if err != nil {
			return Result{}, err
		}
		now := time.Now()
		for _, id := range ids {
			queued[id] = now
		}
		wake()
		i += size
		if gap > 0 {
			time.Sleep(gap)
		}
	}
	select {
	case <-h.done:
	case <-time.After(5 * time.Minute):
		return Result{}, fmt.Errorf("only %d of %d tasks started", len(h.at), n)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var lat []time.Duration
	last := first
	for id, at := range h.at {
		lat = append(lat, at.Sub(queued[id]))
		if at.After(last) {
			last = at
		}
	}
	r := summarize(lat)
	r.Database, r.Runs = db, n
	r.PerSec = float64(n) / last.Sub(first).Seconds()
	return r, nil
}

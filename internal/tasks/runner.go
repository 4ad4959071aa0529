// Package tasks runs the server's background work as durable tasks: queued
// in the database, claimed by a node under a lease it keeps renewing,
// resumed by the next claimant when a node dies, and canceled on request.
package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// ErrCancelRequested is the cause of a run's context when someone asked to
// cancel the task. A handler that sees it stops its work and returns.
var ErrCancelRequested = errors.New("cancellation requested")

// ErrShutdown is the cause of a run's context when this node is stopping.
// A handler that sees it returns without touching running scripts: the task
// stays claimed and is resumed when a node takes it again.
var ErrShutdown = errors.New("server node stopping")

// WaitError is what a handler returns to park its task until people answer
// the questions it recorded (store.CreateInterruption): the task gives up
// its slot and lease, and runs again from the start once answered, so the
// handler must pick up where it stopped.
type WaitError struct{ Reason string }

func (e *WaitError) Error() string { return "waiting: " + e.Reason }

// Wait parks the task; reason is logged.
func Wait(reason string) error { return &WaitError{Reason: reason} }

// Handler executes one kind of task.
type Handler interface {
	// Execute does the task's work. It returns nil on success. When the
	// context ends it returns promptly; context.Cause tells why.
	Execute(ctx context.Context, run *Run) error
	// Finished runs inside the transaction that records the final state,
	// so follow-up work (the next automatic deployment) is queued exactly once.
	Finished(ctx context.Context, q *store.Queries, t model.Task, state model.TaskState) error
}

// Config tunes a Runner.
type Config struct {
	// Node names this server node; it owns the leases it takes.
	Node string
	// Slots is how many tasks this node runs at once.
	Slots int
	// Lease is how long a claim lasts without renewal; another node takes
	// the task over when it lapses. Renewed every Lease/3.
	Lease time.Duration
	// Poll is how often the queue is checked without a wake-up: for work
	// queued by other nodes and leases that lapsed.
	Poll time.Duration
	// Heartbeat is how often the node records that it is alive (and reads
	// whether it should drain); 5 s when zero.
	Heartbeat time.Duration
	// Version, APIURL and PollingAddress describe the node in the node list.
	Version, APIURL, PollingAddress string
	Logger                          *slog.Logger
}

// Runner claims and runs tasks.
type Runner struct {
	cfg      Config
	store    *store.Store
	broker   *Broker
	handlers map[model.TaskKind]Handler
	wake     chan struct{}

	mu       sync.Mutex
	running  map[string]*Run
	draining bool
	wg       sync.WaitGroup
}

// NewRunner returns a runner; call Start to begin.
func NewRunner(s *store.Store, broker *Broker, cfg Config) *Runner {
	if cfg.Slots <= 0 {
		cfg.Slots = 5
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, store: s, broker: broker, handlers: map[model.TaskKind]Handler{},
		wake: make(chan struct{}, 1), running: map[string]*Run{}}
}

// Handle registers the handler of a task kind.
func (r *Runner) Handle(kind model.TaskKind, h Handler) { r.handlers[kind] = h }

// Notify says work was queued, so the runner looks at once.
func (r *Runner) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Cancel stops a task this node is running, without waiting for the next
// lease renewal to notice the request.
func (r *Runner) Cancel(taskID string) {
	r.mu.Lock()
	run := r.running[taskID]
	r.mu.Unlock()
	if run != nil {
		run.cancel(ErrCancelRequested)
	}
}

// Running reports how many tasks this node runs now.
func (r *Runner) Running() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.running)
}

// Run claims and runs tasks until ctx ends, then stops the runs it holds
// (leaving them to be resumed) and gives up their leases.
func (r *Runner) Run(ctx context.Context) error {
	// Leases this node holds are from its previous life: take them back now.
	err := r.store.Tx(ctx, func(q *store.Queries) error {
		n, err := q.ReleaseLeases(ctx, r.cfg.Node)
		if n > 0 {
			r.cfg.Logger.Info("resuming tasks left running by this node", "count", n)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("task runner: %w", err)
	}
	if err := r.register(ctx); err != nil {
		return fmt.Errorf("task runner: %w", err)
	}
	beat := time.NewTicker(r.cfg.Heartbeat)
	defer beat.Stop()
	tick := time.NewTicker(r.cfg.Poll)
	defer tick.Stop()
	for {
		if err := r.claim(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Error("claim tasks", "error", err)
		}
		select {
		case <-ctx.Done():
			r.stopAll()
			return nil
		case <-r.wake:
		case <-tick.C:
		case <-beat.C:
			r.heartbeat(ctx)
		}
	}
}

// register records this node's start in the node list.
func (r *Runner) register(ctx context.Context) error {
	n := model.Node{Name: r.cfg.Node, Version: r.cfg.Version, Slots: r.cfg.Slots, APIURL: r.cfg.APIURL, PollingAddress: r.cfg.PollingAddress}
	err := r.store.Tx(ctx, func(q *store.Queries) error {
		if err := q.StartNode(ctx, n); err != nil {
			return err
		}
		draining, err := q.IsDraining(ctx, r.cfg.Node)
		r.setDraining(draining)
		return err
	})
	return err
}

// heartbeat records that the node is alive and learns whether to drain.
func (r *Runner) heartbeat(ctx context.Context) {
	var draining bool
	err := r.store.Tx(ctx, func(q *store.Queries) (err error) {
		draining, err = q.Heartbeat(ctx, r.cfg.Node, r.Running())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		err = r.register(ctx) // someone removed the row; put it back
	} else if err == nil {
		r.setDraining(draining)
	}
	if err != nil && ctx.Err() == nil {
		r.cfg.Logger.Warn("node heartbeat", "error", err)
	}
}

func (r *Runner) setDraining(d bool) {
	r.mu.Lock()
	changed := r.draining != d
	r.draining = d
	r.mu.Unlock()
	if changed {
		r.cfg.Logger.Info("node drain changed", "draining", d)
		r.Notify()
	}
}

// Draining reports whether this node takes no new tasks.
func (r *Runner) Draining() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.draining
}

// CheckDrain reads the drain flag now rather than at the next heartbeat.
func (r *Runner) CheckDrain(ctx context.Context) {
	if d, err := r.store.Read().IsDraining(ctx, r.cfg.Node); err == nil {
		r.setDraining(d)
	}
}

func (r *Runner) claim(ctx context.Context) error {
	free := r.cfg.Slots - r.Running()
	if free <= 0 || r.Draining() {
		return nil
	}
	var claims []store.Claim
	err := r.store.Tx(ctx, func(q *store.Queries) (err error) {
		claims, err = q.ClaimTasks(ctx, r.cfg.Node, free, r.cfg.Lease)
		return err
	})
	if err != nil {
		return err
	}
	for _, c := range claims {
		r.start(c)
	}
	return nil
}

func (r *Runner) start(c store.Claim) {
	ctx, cancel := context.WithCancelCause(context.Background())
	run := &Run{Task: c.Task, Lease: c.Lease, store: r.store, broker: r.broker, clock: r.store.Now,
		cancel: cancel, cursors: map[int]int64{}, kick: make(chan struct{}, 1)}
	r.mu.Lock()
	r.running[c.Task.ID] = run
	r.mu.Unlock()
	r.broker.Publish(c.Task.ID)
	if c.Task.CancelRequested {
		cancel(ErrCancelRequested)
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() {
			r.mu.Lock()
			delete(r.running, c.Task.ID)
			r.mu.Unlock()
			cancel(nil)
			r.Notify() // a slot is free
		}()
		r.execute(ctx, run)
	}()
}

func (r *Runner) execute(ctx context.Context, run *Run) {
	logger := r.cfg.Logger.With("task", run.Task.ID)
	stop := make(chan struct{})
	var helpers sync.WaitGroup
	helpers.Add(2)
	go func() {
		defer helpers.Done()
		run.flushLoop(stop, func(err error) { logger.Warn("write task log", "error", err) })
	}()
	go func() { defer helpers.Done(); r.renew(ctx, run, stop, logger) }()

	var err error
	h := r.handlers[run.Task.Kind]
	switch {
	case h == nil:
		err = fmt.Errorf("this server cannot run %q tasks", run.Task.Kind)
	case run.Lease.Epoch == 1 && run.Task.NotAfter != nil && run.clock().After(*run.Task.NotAfter):
		// Claimed for the first time only after its expiry (the server was
		// down, or the queue long): it must not start late.
		err = fmt.Errorf("it was to start by %s and did not: it expired", run.Task.NotAfter.UTC().Format("2006-01-02 15:04:05 UTC"))
	default:
		for {
			err = safeExecute(ctx, h, run)
			var wait *WaitError
			if !errors.As(err, &wait) || ctx.Err() != nil {
				break
			}
			suspended, serr := r.suspend(run, wait)
			if serr != nil || suspended {
				close(stop)
				helpers.Wait()
				if serr != nil && !errors.Is(serr, store.ErrLeaseLost) {
					logger.Warn("suspend task", "error", serr) // the lease lapses and a node resumes it
				}
				return
			}
			// Answered before it could be parked: go on with the answers.
		}
	}
	close(stop)
	helpers.Wait()

	cause := context.Cause(ctx)
	if errors.Is(cause, ErrShutdown) || errors.Is(cause, store.ErrLeaseLost) {
		// Not finished: whoever claims the task next resumes it.
		if ferr := run.Flush(context.Background()); ferr != nil && !errors.Is(ferr, store.ErrLeaseLost) {
			logger.Warn("write task log", "error", ferr)
		}
		logger.Info("task interrupted", "cause", cause)
		return
	}
	state, msg := model.TaskSuccess, ""
	switch {
	case errors.Is(cause, ErrCancelRequested) || errors.Is(err, ErrCancelRequested):
		state, msg = model.TaskCanceled, "canceled"
		run.Log(0, model.LevelWarning, "The task was canceled.")
	case err != nil:
		state, msg = model.TaskFailed, run.Masked(err.Error())
		run.Log(0, model.LevelError, "The task failed: "+err.Error())
	}
	r.finish(run, h, state, msg, logger)
}

// suspend parks a waiting task, unless its questions were all answered
// meanwhile.
func (r *Runner) suspend(run *Run, wait *WaitError) (bool, error) {
	ctx := context.Background()
	run.Log(0, model.LevelHighlight, "Waiting: "+wait.Reason)
	if err := run.Flush(ctx); err != nil {
		return false, err
	}
	var suspended bool
	err := r.store.Tx(ctx, func(q *store.Queries) (err error) {
		suspended, err = q.SuspendTask(ctx, run.Lease)
		return err
	})
	if err == nil && suspended {
		r.cfg.Logger.Info("task waiting", "task", run.Task.ID, "reason", wait.Reason)
		r.broker.Publish(run.Task.ID)
	}
	return suspended, err
}

// safeExecute turns a handler's panic into a failed task instead of a dead server.
func safeExecute(ctx context.Context, h Handler, run *Run) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	return h.Execute(ctx, run)
}

// finish records the final state, retrying through passing database trouble.
func (r *Runner) finish(run *Run, h Handler, state model.TaskState, msg string, logger *slog.Logger) {
	ctx := context.Background()
	for attempt := 0; ; attempt++ {
		err := run.Flush(ctx)
		if err == nil {
			err = r.store.Tx(ctx, func(q *store.Queries) error {
				if err := q.FinishTask(ctx, run.Lease, state, msg); err != nil {
					return err
				}
				if h != nil {
					return h.Finished(ctx, q, run.Task, state)
				}
				return nil
			})
		}
		switch {
		case err == nil:
			logger.Info("task finished", "state", state)
			r.broker.Publish(run.Task.ID)
			r.Notify() // Finished may have queued more work
			return
		case errors.Is(err, store.ErrLeaseLost):
			logger.Warn("task lost to another node before it could finish", "state", state)
			return
		case attempt >= 20:
			logger.Error("could not record the task's end; it will be resumed", "error", err)
			return
		}
		logger.Warn("record task end", "error", err, "attempt", attempt+1)
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
}

// renew keeps the lease alive and notices cancel requests made on other nodes.
func (r *Runner) renew(ctx context.Context, run *Run, stop <-chan struct{}, logger *slog.Logger) {
	tick := time.NewTicker(r.cfg.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		var requested bool
		err := r.store.Tx(context.Background(), func(q *store.Queries) (err error) {
			requested, err = q.RenewLease(context.Background(), run.Lease, r.cfg.Lease)
			return err
		})
		switch {
		case errors.Is(err, store.ErrLeaseLost):
			logger.Warn("lease lost: another node took the task over")
			run.cancel(store.ErrLeaseLost)
			return
		case err != nil:
			logger.Warn("renew lease", "error", err)
		case requested && ctx.Err() == nil:
			run.cancel(ErrCancelRequested)
		}
	}
}

// stopAll interrupts every run, waits for them, and releases their leases
// so another node can resume them at once.
func (r *Runner) stopAll() {
	r.mu.Lock()
	for _, run := range r.running {
		run.cancel(ErrShutdown)
	}
	r.mu.Unlock()
	r.wg.Wait()
	err := r.store.Tx(context.Background(), func(q *store.Queries) error {
		_, err := q.ReleaseLeases(context.Background(), r.cfg.Node)
		return err
	})
	if err != nil {
		r.cfg.Logger.Warn("release leases", "error", err)
	}
}

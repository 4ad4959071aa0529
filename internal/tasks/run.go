package tasks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// Run is one execution of a claimed task: its lease, and a log that is
// buffered and written in batches under the lease.
type Run struct {
	Task  model.Task
	Lease store.Lease

	store  *store.Store
	broker *Broker
	clock  func() time.Time
	cancel context.CancelCauseFunc

	// flushMu keeps flushes in order: steps on several targets log at once,
	// and a later batch must never land (or move a script's read position)
	// before an earlier one.
	flushMu sync.Mutex
	mu      sync.Mutex
	masker  Masker
	outputs map[int][]model.OutputVariable // activity id -> all its outputs, saved with the lines
	pending []model.LogLine
	cursors map[int]int64 // activity id -> script log position, saved with the lines
	kick    chan struct{}
}

// flushDelay gathers lines into batches: a line reaches readers of the log
// at most this late, and a chatty script costs a few writes a second.
const flushDelay = 50 * time.Millisecond

// maxPending makes a writer flush at once when this many lines wait.
const maxPending = 2000

// Masker hides sensitive values in text.
type Masker interface{ Mask(text string) string }

// SetMasker hides sensitive values in every line logged from now on, and in
// the task's error.
func (r *Run) SetMasker(m Masker) {
	r.mu.Lock()
	r.masker = m
	r.mu.Unlock()
}

// Masker returns the masker set with SetMasker, or nil.
func (r *Run) Masker() Masker {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.masker
}

// mask applies the masker; the caller holds r.mu.
func (r *Run) mask(text string) string {
	if r.masker == nil {
		return text
	}
	return r.masker.Mask(text)
}

// Masked hides sensitive values in text, as the log does.
func (r *Run) Masked(text string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mask(text)
}

// Log adds a line to the task log under an activity (0 is the task itself).
func (r *Run) Log(activityID int, level model.LogLevel, text string) {
	r.mu.Lock()
	r.pending = append(r.pending, model.LogLine{ActivityID: activityID, Time: r.clock().UTC(), Level: level, Text: r.mask(text)})
	r.mu.Unlock()
	r.signal()
}

// Logf formats a line into the log.
func (r *Run) Logf(activityID int, level model.LogLevel, format string, args ...any) {
	r.Log(activityID, level, fmt.Sprintf(format, args...))
}

// LogScriptOutput adds lines a script wrote and the position in the
// script's own log they reach. Both are saved in one transaction, so after
// a restart the output is read again from exactly where the task log ends.
func (r *Run) LogScriptOutput(activityID int, lines []model.LogLine, nextSeq int64) {
	r.mu.Lock()
	for _, ln := range lines {
		ln.ActivityID = activityID
		ln.Text = r.mask(ln.Text)
		r.pending = append(r.pending, ln)
	}
	r.cursors[activityID] = nextSeq
	r.mu.Unlock()
	r.signal()
}

func (r *Run) signal() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// SetOutputs replaces a target node's output variables; they are saved
// with the log lines logged before this call, in one transaction, so after
// a restart outputs and read position agree.
func (r *Run) SetOutputs(activityID int, outputs []model.OutputVariable) {
	r.mu.Lock()
	if r.outputs == nil {
		r.outputs = map[int][]model.OutputVariable{}
	}
	r.outputs[activityID] = slices.Clone(outputs)
	r.mu.Unlock()
	r.signal()
}

// Flush writes the waiting lines now.
func (r *Run) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	lines, cursors, outputs := r.pending, r.cursors, r.outputs
	r.pending, r.cursors, r.outputs = nil, map[int]int64{}, nil
	r.mu.Unlock()
	if len(lines) == 0 && len(cursors) == 0 && len(outputs) == 0 {
		return nil
	}
	err := r.store.Tx(ctx, func(q *store.Queries) error {
		if err := q.AppendLog(ctx, r.Lease, lines); err != nil {
			return err
		}
		for id, seq := range cursors {
			if err := q.SetScriptLogSeq(ctx, r.Lease, id, seq); err != nil {
				return err
			}
		}
		for id, outs := range outputs {
			if err := q.SetActivityOutputs(ctx, r.Lease, id, outs); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			r.cancel(store.ErrLeaseLost)
			return err
		}
		// Keep the lines for the next attempt, in order.
		r.mu.Lock()
		r.pending = append(lines, r.pending...)
		for id, outs := range outputs {
			if _, newer := r.outputs[id]; !newer {
				if r.outputs == nil {
					r.outputs = map[int][]model.OutputVariable{}
				}
				r.outputs[id] = outs
			}
		}
		for id, seq := range cursors {
			if _, newer := r.cursors[id]; !newer {
				r.cursors[id] = seq
			}
		}
		r.mu.Unlock()
		return err
	}
	r.broker.Publish(r.Task.ID)
	return nil
}

// flushLoop writes the log in batches until stop is closed.
func (r *Run) flushLoop(stop <-chan struct{}, onError func(error)) {
	for {
		select {
		case <-stop:
			return
		case <-r.kick:
		}
		r.mu.Lock()
		full := len(r.pending) >= maxPending
		r.mu.Unlock()
		if !full {
			select {
			case <-stop:
				return
			case <-time.After(flushDelay):
			}
		}
		if err := r.Flush(context.Background()); err != nil {
			onError(err)
			if errors.Is(err, store.ErrLeaseLost) {
				return
			}
		}
	}
}

// Tx runs fn in a transaction that first checks this run still holds the
// task, so a node that lost the task cannot change it.
func (r *Run) Tx(ctx context.Context, fn func(q *store.Queries) error) error {
	err := r.store.Tx(ctx, func(q *store.Queries) error {
		if err := q.Fence(ctx, r.Lease); err != nil {
			return err
		}
		return fn(q)
	})
	if errors.Is(err, store.ErrLeaseLost) {
		r.cancel(store.ErrLeaseLost)
	}
	if err == nil {
		r.broker.Publish(r.Task.ID)
	}
	return err
}

// Store is the store the run writes to, for reads.
func (r *Run) Store() *store.Store { return r.store }

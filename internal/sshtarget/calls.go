package sshtarget

import (
	"context"
	"errors"

	"github.com/hashicorp/yamux"

	"github.com/pulpo-deploy/pulpo/internal/agentrpc"
	"github.com/pulpo-deploy/pulpo/internal/comms"
)

// call runs fn against the machine's remote process, starting one first if
// there is none. When the process or its connection dies under the call,
// the call is made once more on a new one if repeatable says that can do
// no harm.
func (t *Target) call(ctx context.Context, repeatable func() bool, fn func(rpc *agentrpc.Target) error) error {
	for attempt := 1; ; attempt++ {
		p, err := t.remoteProcess(ctx)
		if err != nil {
			return &notSentError{err}
		}
		err = fn(p.rpc)
		if err == nil || !sessionLost(err) {
			return err
		}
		if attempt > 1 || ctx.Err() != nil || !repeatable() {
			return p.explain(ctx, t.cfg.Name, err)
		}
	}
}

// always is repeatable for calls that are idempotent: every script call is,
// by its ticket.
func always() bool { return true }

// sessionLost says a call failed because the session it went over ended,
// not because the machine refused it.
func sessionLost(err error) bool {
	return errors.Is(err, comms.ErrSessionClosed) || errors.Is(err, yamux.ErrSessionShutdown)
}

// notSentError is a call that never left: no remote process could be
// reached or started for it.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

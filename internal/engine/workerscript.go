package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
	"github.com/pulpo-deploy/pulpo/internal/vars"
)

// WorkerScript is a bash script run on a worker outside any deployment
// process: a staging's control scripts.
type WorkerScript struct {
	// Body is the script, already rendered.
	Body string
	// Args are its positional parameters ("$@").
	Args []string
	// What names it in the log ("the create script").
	What string
	// Timeout stops it when it runs longer (0: no limit).
	Timeout time.Duration
	// Values are the variables get_octopusvariable reads.
	Values *vars.Values
}

// ErrScriptTimeout says a worker script ran out of time and was stopped.
var ErrScriptTimeout = errors.New("the script ran out of time")

// withArgs prepends the positional parameters, quoted for bash.
func (s WorkerScript) withArgs() string {
	if len(s.Args) == 0 {
		return s.Body
	}
	var b strings.Builder
	b.WriteString("set --")
	for _, a := range s.Args {
		b.WriteString(" '")
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteString("'")
	}
	b.WriteString("\n")
	b.WriteString(s.Body)
	return b.String()
}

// ScriptResult is how a worker script ended.
type ScriptResult struct {
	ExitCode int
	// Output is the script's output, masked, at most the last
	// maxResultLines lines.
	Output []string
	// TimedOut: it was stopped at its timeout (ExitCode is then
	// contract.ExitCanceled).
	TimedOut bool
}

const maxResultLines = 200

// Text is the output as one text.
func (r ScriptResult) Text() string { return strings.Join(r.Output, "\n") }

// RunWorkerScript runs a script on a worker of the pool as a node of the
// task's log named name, streaming its output there. A task resumed on
// another node finds the node and re-attaches to the script instead of
// starting it again; a node already finished gives its recorded result.
func (e *Engine) RunWorkerScript(ctx context.Context, run *tasks.Run, name, poolID string, s WorkerScript) (ScriptResult, error) {
	h := deployHandler{e}
	acts, err := run.Store().Read().ListActivities(ctx, run.Task.ID)
	if err != nil {
		return ScriptResult{}, err
	}
	var step, target *model.Activity
	for i := range acts {
		if acts[i].Kind == model.ActivityStep && acts[i].Name == name {
			step = &acts[i]
		}
	}
	if step != nil {
		for i := range acts {
			if acts[i].ParentID == step.ID && acts[i].Kind == model.ActivityTarget {
				target = &acts[i]
			}
		}
	}
	if target == nil {
		m, err := pickWorker(ctx, run.Store().Read(), poolID)
		if err != nil {
			return ScriptResult{}, fmt.Errorf("%s %w", s.What, err)
		}
		err = run.Tx(ctx, func(q *store.Queries) error {
			if step == nil {
				step = &model.Activity{Kind: model.ActivityStep, Name: name, State: model.ActivityRunning}
				if err := q.CreateActivity(ctx, run.Lease, step); err != nil {
					return err
				}
			}
			target = &model.Activity{Kind: model.ActivityTarget, ParentID: step.ID, Name: e.cfg.Worker.Name(), State: model.ActivityPending}
			if m != nil {
				target.Name, target.MachineID = m.Name, m.ID
			}
			return q.CreateActivity(ctx, run.Lease, target)
		})
		if err != nil {
			return ScriptResult{}, err
		}
	}
	result := func(code int) (ScriptResult, error) {
		out, err := activityOutput(ctx, run, target.ID)
		return ScriptResult{ExitCode: code, Output: out}, err
	}
	switch target.State {
	case model.ActivitySuccess, model.ActivityFailed, model.ActivityCanceled:
		if target.ExitCode == nil {
			return ScriptResult{}, fmt.Errorf("%s failed before it ran", s.What)
		}
		return result(*target.ExitCode)
	}
	p := h.resolve(ctx, run.Store().Read(), target)
	if p.missing != nil {
		run.Logf(target.ID, model.LevelError, "%v", p.missing)
		h.setState(run, target, model.ActivityFailed)
		h.setState(run, step, model.ActivityFailed)
		return ScriptResult{}, p.missing
	}
	values := s.Values
	if values == nil {
		values = vars.NewValues()
	}
	boot, warnings := bootstrap(model.SyntaxBash, values)
	sc := scriptToRun{syntax: model.SyntaxBash, body: s.withArgs(), bootstrap: boot, warnings: warnings, what: s.What, concurrent: true}
	sctx := ctx
	if s.Timeout > 0 {
		// The clock runs from the script's first start, across resumes.
		start := time.Now()
		if target.StartedAt != nil {
			start = *target.StartedAt
		}
		var cancel context.CancelFunc
		sctx, cancel = context.WithDeadlineCause(ctx, start.Add(s.Timeout), tasks.ErrCancelRequested)
		defer cancel()
	}
	code, _, err := h.runScript(sctx, run, model.Step{Name: name}, p, sc)
	timedOut := s.Timeout > 0 && ctx.Err() == nil && sctx.Err() != nil
	if timedOut {
		run.Logf(target.ID, model.LevelError, "%s ran longer than %s and was stopped", capitalize(s.What), s.Timeout)
	}
	state := model.ActivitySuccess
	if err != nil || code != 0 {
		state = model.ActivityFailed
	}
	h.setState(run, step, state)
	if err != nil && !timedOut {
		return ScriptResult{}, err
	}
	res, rerr := result(code)
	res.TimedOut = timedOut
	if rerr != nil {
		return res, rerr
	}
	if timedOut {
		return res, fmt.Errorf("%s: %w after %s", s.What, ErrScriptTimeout, s.Timeout)
	}
	return res, nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// activityOutput reads back what a target node logged: the script's
// output, already masked.
func activityOutput(ctx context.Context, run *tasks.Run, activityID int) ([]string, error) {
	if err := run.Flush(ctx); err != nil {
		return nil, err
	}
	var out []string
	var after int64
	for {
		lines, err := run.Store().Read().ReadLog(ctx, run.Task.ID, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			if l.ActivityID == activityID && l.Level != model.LevelVerbose {
				out = append(out, l.Text)
			}
			after = l.Seq
		}
		if len(lines) < 1000 {
			break
		}
	}
	if len(out) > maxResultLines {
		out = out[len(out)-maxResultLines:]
	}
	return out, nil
}

// RunWorkerScriptNow runs a script on a worker of the pool outside any
// task and waits for it: quick scripts whose answer is needed at once (a
// staging's config check, its status checks). Output is masked with
// masker when given.
func (e *Engine) RunWorkerScriptNow(ctx context.Context, poolID string, s WorkerScript, masker *vars.Masker) (ScriptResult, error) {
	m, err := pickWorker(ctx, e.cfg.Store.Read(), poolID)
	if err != nil {
		return ScriptResult{}, fmt.Errorf("%s %w", s.What, err)
	}
	target := e.cfg.Worker
	if m != nil {
		if e.cfg.Targets == nil {
			return ScriptResult{}, errors.New("this server cannot reach workers")
		}
		if target, err = e.cfg.Targets.Target(*m); err != nil {
			return ScriptResult{}, fmt.Errorf("reach worker %s: %w", m.Name, err)
		}
	}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	values := s.Values
	if values == nil {
		values = vars.NewValues()
	}
	boot, warnings := bootstrap(model.SyntaxBash, values)
	for _, w := range warnings { // no task, so no task log: the server's log says it
		e.cfg.Logger.Warn(masker.Mask(w), "script", s.What)
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	svc := target.Scripts()
	cmd := contract.StartScriptCommand{Ticket: "now-" + hex.EncodeToString(nonce[:]), Syntax: string(model.SyntaxBash), Body: s.withArgs(),
		Bootstrap: boot, Wait: e.cfg.StatusWait}
	status, err := svc.StartScript(ctx, cmd)
	if err != nil {
		return ScriptResult{}, fmt.Errorf("start %s on %s: %w", s.What, target.Name(), err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if status.State != contract.ScriptComplete {
			svc.CancelScript(cctx, contract.StatusRequest{Ticket: cmd.Ticket, Wait: time.Second})
		}
		svc.CompleteScript(cctx, cmd.Ticket)
	}()
	var out []string
	var next int64
	for {
		for _, l := range status.Logs {
			if l.Seq < next || l.Source == contract.Diagnostic {
				continue
			}
			text := l.Text
			if masker != nil {
				text = masker.Mask(text)
			}
			out = append(out, text)
		}
		next = max(next, status.NextLogSeq)
		if status.State == contract.ScriptComplete {
			break
		}
		status, err = svc.GetStatus(ctx, contract.StatusRequest{Ticket: cmd.Ticket, FromLogSeq: next, Wait: e.cfg.StatusWait})
		if err != nil {
			if ctx.Err() != nil && s.Timeout > 0 {
				return ScriptResult{ExitCode: contract.ExitCanceled, Output: tail(out), TimedOut: true},
					fmt.Errorf("%s: %w after %s", s.What, ErrScriptTimeout, s.Timeout)
			}
			return ScriptResult{}, fmt.Errorf("follow %s on %s: %w", s.What, target.Name(), err)
		}
	}
	return ScriptResult{ExitCode: status.ExitCode, Output: tail(out)}, nil
}

func tail(lines []string) []string {
	if len(lines) > maxResultLines {
		return lines[len(lines)-maxResultLines:]
	}
	return lines
}

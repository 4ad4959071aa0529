package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

func TestAWaitingTaskHoldsNoLeaseUntilItsQuestionIsAnswered(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, c *clock) {
		ctx := context.Background()
		env := createEnvs(t, s, "Dev")[0]
		p := newProjectWithStep(t, s, "web")
		r := model.Release{ProjectID: p.ID, Version: "1.0.0"}
		tx(t, s, func(q *store.Queries) error { return q.CreateRelease(ctx, &r) })
		d := queueDeployment(t, s, p, r, env)
		claim := func() []store.Claim {
			var claims []store.Claim
			tx(t, s, func(q *store.Queries) (err error) {
				claims, err = q.ClaimTasks(ctx, "node-a", 5, 30*time.Second)
				return
			})
			return claims
		}
		claims := claim()
		if len(claims) != 1 {
			t.Fatalf("claims: %+v", claims)
		}
		lease := claims[0].Lease

		// With no question open there is nothing to wait for.
		var suspended bool
		tx(t, s, func(q *store.Queries) (err error) { suspended, err = q.SuspendTask(ctx, lease); return })
		if suspended {
			t.Fatal("a task without an open question was suspended")
		}

		i := model.Interruption{Kind: model.InterruptionManual, ActivityID: 1, Title: "Approve", Answers: []string{model.AnswerProceed, model.AnswerAbort}}
		tx(t, s, func(q *store.Queries) error { return q.CreateInterruption(ctx, lease, &i) })
		tx(t, s, func(q *store.Queries) (err error) { suspended, err = q.SuspendTask(ctx, lease); return })
		task, _ := s.Read().GetTask(ctx, d.TaskID)
		if !suspended || task.State != model.TaskWaiting {
			t.Fatalf("suspended %v, state %s", suspended, task.State)
		}
		c.Advance(72 * time.Hour) // days: no lease to lapse, nobody claims it
		if got := claim(); len(got) != 0 {
			t.Fatalf("a waiting task was claimed: %+v", got)
		}

		err := mustFail(t, s, nil, func(q *store.Queries) error {
			_, err := q.AnswerInterruption(ctx, i.ID, "alice", "maybe", "")
			return err
		})
		if !isValidation(err) || !strings.Contains(err.Error(), "answer Proceed, Abort") {
			t.Fatalf("a wrong answer: %v", err)
		}
		tx(t, s, func(q *store.Queries) error { _, err := q.TakeResponsibility(ctx, i.ID, "bob"); return err })
		tx(t, s, func(q *store.Queries) (err error) {
			i, err = q.AnswerInterruption(ctx, i.ID, "alice", "proceed", " all green ")
			return
		})
		if i.Answer != model.AnswerProceed || i.AnsweredBy != "alice" || i.TakenBy != "bob" || i.Notes != "all green" || i.Pending() {
			t.Fatalf("answered: %+v", i)
		}
		mustFail(t, s, store.ErrConflict, func(q *store.Queries) error {
			_, err := q.AnswerInterruption(ctx, i.ID, "carol", "abort", "")
			return err
		})

		// Answered: queued again, and claimed with a new lease.
		again := claim()
		if len(again) != 1 || again[0].Task.ID != d.TaskID || again[0].Lease.Epoch <= lease.Epoch {
			t.Fatalf("the answered task should be claimed again: %+v", again)
		}
		pending, _, _ := s.Read().ListInterruptions(ctx, store.InterruptionFilter{PendingOnly: true})
		if len(pending) != 0 {
			t.Fatalf("pending: %+v", pending)
		}
	})
}

func TestCancelingAWaitingTaskClosesItsQuestions(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, c *clock) {
		ctx := context.Background()
		env := createEnvs(t, s, "Dev")[0]
		p := newProjectWithStep(t, s, "web")
		r := model.Release{ProjectID: p.ID, Version: "1.0.0"}
		tx(t, s, func(q *store.Queries) error { return q.CreateRelease(ctx, &r) })
		d := queueDeployment(t, s, p, r, env)
		var claims []store.Claim
		tx(t, s, func(q *store.Queries) (err error) {
			claims, err = q.ClaimTasks(ctx, "node-a", 1, 30*time.Second)
			return
		})
		i := model.Interruption{Kind: model.InterruptionGuidedFailure, ActivityID: 2, Title: "failed", Answers: model.GuidedFailureAnswers(true)}
		tx(t, s, func(q *store.Queries) error { return q.CreateInterruption(ctx, claims[0].Lease, &i) })
		tx(t, s, func(q *store.Queries) error { _, err := q.SuspendTask(ctx, claims[0].Lease); return err })

		var task model.Task
		tx(t, s, func(q *store.Queries) (err error) { task, err = q.RequestCancel(ctx, d.TaskID); return })
		if task.State != model.TaskQueued || !task.CancelRequested {
			t.Fatalf("a canceled waiting task runs once more to close what it opened: %+v", task)
		}
		got, _ := s.Read().GetInterruption(ctx, i.ID)
		if got.Answer != model.AnswerCanceled {
			t.Fatalf("its question: %+v", got)
		}
	})
}

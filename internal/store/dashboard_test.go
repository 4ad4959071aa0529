package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

func TestTheDashboardMarkerMovesWithWhatTheDashboardShows(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, c *clock) {
		ctx := context.Background()
		marker := func() string {
			t.Helper()
			m, err := s.Read().DashboardMarker(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		tx := func(f func(q *store.Queries) error) {
			t.Helper()
			if err := s.Tx(ctx, f); err != nil {
				t.Fatal(err)
			}
		}
		first := marker()
		if again := marker(); again != first {
			t.Fatalf("the marker moved with nothing changed: %s, %s", first, again)
		}
		tx(func(q *store.Queries) error { return q.CreateEnvironment(ctx, &model.Environment{Name: "Dev"}) })
		afterEnv := marker()
		if afterEnv == first {
			t.Error("a new environment did not move the marker")
		}
		task := model.Task{Kind: "Test", Description: "t"}
		tx(func(q *store.Queries) error { return q.CreateTask(ctx, &task) })
		queued := marker()
		if queued == afterEnv {
			t.Error("a queued task did not move the marker")
		}
		var lease store.Lease
		tx(func(q *store.Queries) error {
			claims, err := q.ClaimTasks(ctx, "a", 1, time.Minute)
			if len(claims) == 1 {
				lease = claims[0].Lease
			}
			return err
		})
		running := marker()
		if running == queued {
			t.Error("a task starting did not move the marker")
		}
		tx(func(q *store.Queries) error { return q.FinishTask(ctx, lease, model.TaskSuccess, "") })
		if marker() == running {
			t.Error("a task ending did not move the marker")
		}
	})
}

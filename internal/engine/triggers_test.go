package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// fakeClock is a store clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func TestAScheduledTriggerFiresAtItsTimeOnce(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			clock := &fakeClock{now: time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)}
			cfg := store.Config{DataDir: t.TempDir(), Clock: clock.Now}
			if dialect == "postgres" {
				cfg.DatabaseURL = pg.Database(t)
			}
			s, err := store.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			f := setup(t, s, twoPhases(), "echo deployed to #{Octopus.Environment.Name} by #{Octopus.Deployment.CreatedBy.Username}")
			srv := newServer(t, s, t.TempDir())
			r := srv.release(f, "1.0.0")
			waitTask(t, s, srv.deploy(r, f.envs["Dev"]).TaskID, model.TaskSuccess)

			trig := model.Trigger{ProjectID: f.project.ID, Name: "Nightly Test", Kind: model.TriggerSchedule, Cron: "0 2 * * *",
				TimeZone: "Europe/Berlin", SourceEnvironmentID: f.envs["Dev"].ID, TargetEnvironmentIDs: []string{f.envs["Test"].ID}}
			if err := s.Tx(ctx, func(q *store.Queries) error { return q.CreateTrigger(ctx, &trig) }); err != nil {
				t.Fatal(err)
			}
			firstRun := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC) // 02:00 in Berlin
			if trig.NextRunAt == nil || !trig.NextRunAt.Equal(firstRun) {
				t.Fatalf("next run %v, want %s", trig.NextRunAt, firstRun)
			}
			testDeployments := func() []model.Deployment {
				deps, _, err := s.Read().ListDeployments(ctx, store.DeploymentFilter{EnvironmentID: f.envs["Test"].ID})
				if err != nil {
					t.Fatal(err)
				}
				return deps
			}

			clock.Set(firstRun.Add(-time.Second))
			if err := srv.engine.FireDueSchedules(ctx); err != nil || len(testDeployments()) != 0 {
				t.Fatalf("fired early: %v %+v", err, testDeployments())
			}
			clock.Set(firstRun.Add(time.Second))
			if err := srv.engine.FireDueSchedules(ctx); err != nil {
				t.Fatal(err)
			}
			if err := srv.engine.FireDueSchedules(ctx); err != nil { // the same run: nothing more
				t.Fatal(err)
			}
			deps := testDeployments()
			if len(deps) != 1 || deps[0].CreatedBy != "trigger Nightly Test" || deps[0].ReleaseID != r.ID {
				t.Fatalf("one deployment of the release last on Dev: %+v", deps)
			}
			waitTask(t, s, deps[0].TaskID, model.TaskSuccess)
			if log := logOf(t, s, deps[0].TaskID); !strings.Contains(log, "deployed to Test by trigger Nightly Test") {
				t.Fatalf("log:\n%s", log)
			}
			got, _ := s.Read().GetTrigger(ctx, trig.ID)
			if !got.NextRunAt.Equal(firstRun.Add(24*time.Hour)) || !strings.HasPrefix(got.LastResult, "queued Deployments-") {
				t.Fatalf("after the run: next %v, result %q", got.NextRunAt, got.LastResult)
			}
		})
	}
}

func TestTriggersAreCheckedWhenSaved(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := setup(t, s, twoPhases(), "echo hi")
		tests := []struct {
			name    string
			trigger model.Trigger
			want    string
		}{
			{"an invalid cron", model.Trigger{Name: "A", Kind: model.TriggerSchedule, Cron: "every day", TargetEnvironmentIDs: []string{f.envs["Test"].ID}}, "cron: cron expression \"every day\""},
			{"an unknown time zone", model.Trigger{Name: "A", Kind: model.TriggerSchedule, Cron: "@daily", TimeZone: "Nowhere/Land", TargetEnvironmentIDs: []string{f.envs["Test"].ID}}, `time zone "Nowhere/Land" is not known`},
			{"no target", model.Trigger{Name: "A", Kind: model.TriggerSchedule, Cron: "@daily"}, "targetEnvironmentIds: is required"},
			{"a package no step takes", model.Trigger{Name: "A", Kind: model.TriggerPackage, PackageID: "other"}, `no step of the project takes package "other"`},
			{"no kind", model.Trigger{Name: "A"}, "kind: is required"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.trigger.ProjectID = f.project.ID
				err := s.Tx(ctx, func(q *store.Queries) error { return q.CreateTrigger(ctx, &tt.trigger) })
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("got %v, want %q", err, tt.want)
				}
			})
		}
	})
}

package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/health"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// forgetful gives the health checker the test's machines.
type forgetful struct{ *machines }

func (forgetful) Forget(model.Machine) {}

func withHealth(s *store.Store, src *machines) func(*engine.Config) {
	return func(c *engine.Config) {
		c.Targets = src
		c.Health = &health.Checker{Store: s, Targets: forgetful{src}}
	}
}

func healthStep(name string, hc model.HealthCheckAction, roles ...string) model.Step {
	return model.Step{Name: name, TargetRoles: roles, HealthCheck: &hc}
}

func onRoles(step model.Step, roles ...string) model.Step {
	step.TargetRoles = roles
	return step
}

func TestAHealthCheckStepFailsOrLeavesOutUnhealthyTargets(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, nil)
		src := register(t, s, f,
			machineSpec{name: "web-1", envs: []string{"Dev"}, roles: []string{"web"}},
			machineSpec{name: "web-2", envs: []string{"Dev"}, roles: []string{"web"}},
			machineSpec{name: "db-1", envs: []string{"Dev"}, roles: []string{"db"}},
		)
		srv := newServer(t, s, t.TempDir(), withHealth(s, src))
		deploy := onRoles(script("Deploy", "echo deployed on #{Octopus.Machine.Name}"), "web")

		// All up: every target is checked and deployed to.
		setSteps(t, s, f, healthStep("Check", model.HealthCheckAction{}, "web"), deploy)
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log := logOf(t, s, d.TaskID)
		for _, want := range []string{"Health check of web-1: Healthy (Pulpo test on", "Health check of web-2: Healthy", "deployed on web-1", "deployed on web-2"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
		if strings.Contains(log, "db-1") {
			t.Errorf("db-1 is not in the step's roles:\n%s", log)
		}

		// web-2 goes down; onError fail fails the step naming it, and the
		// deployment step does not run.
		src.down["web-2"] = true
		d = srv.deploy(srv.release(f, "1.0.1"), f.envs["Dev"])
		task := waitTask(t, s, d.TaskID, model.TaskFailed)
		if !strings.Contains(task.Error, `step "Check" failed the health check of web-2 (Unavailable: connect: connection refused)`) {
			t.Fatalf("error: %s", task.Error)
		}
		log = logOf(t, s, d.TaskID)
		if strings.Contains(log, "deployed on") || !strings.Contains(log, "Health check of web-1: Healthy") {
			t.Fatalf("no target should be deployed to after a failed health check:\n%s", log)
		}
		got := targetsOf(t, s, d.TaskID)
		if strings.Join(got["Step 1: Check"], ",") != "web-1:Success,web-2:Failed" || len(got["Step 2: Deploy"]) != 0 {
			t.Fatalf("targets: %v", got)
		}
		if m, _ := s.Read().FindMachine(context.Background(), "web-2"); m.Health.Status != model.HealthUnavailable {
			t.Fatalf("the check should record web-2's health: %+v", m.Health)
		}

		// onError skip: the deployment goes on without web-2, saying so.
		setSteps(t, s, f, healthStep("Check", model.HealthCheckAction{Type: model.HealthCheckConnection, OnError: model.HealthCheckSkip}, "web"), deploy)
		d = srv.deploy(srv.release(f, "1.0.2"), f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log = logOf(t, s, d.TaskID)
		for _, want := range []string{"Connection test of web-1: Healthy", "Connection test of web-2: Unavailable (connect: connection refused); it is left out of the rest of this deployment",
			"Left out of the rest of this deployment: web-2", "deployed on web-1", "web-2 was excluded from this deployment earlier"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
		if strings.Contains(log, "deployed on web-2") {
			t.Errorf("web-2 was left out:\n%s", log)
		}
		got = targetsOf(t, s, d.TaskID)
		if strings.Join(got["Step 1: Check"], ",") != "web-1:Success,web-2:Skipped" || strings.Join(got["Step 2: Deploy"], ",") != "web-1:Success" {
			t.Fatalf("targets: %v", got)
		}

		// A health check step that does not run leaves nothing out.
		src.down["web-2"] = false
		check := healthStep("Check", model.HealthCheckAction{OnError: model.HealthCheckSkip}, "web")
		check.Environments = []string{f.envs["Test"].ID}
		setSteps(t, s, f, check, deploy)
		d = srv.deploy(srv.release(f, "1.0.3"), f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		got = targetsOf(t, s, d.TaskID)
		if strings.Join(got["Step 1: Check"], ",") != "web-1:Skipped,web-2:Skipped" || strings.Join(got["Step 2: Deploy"], ",") != "web-1:Success,web-2:Success" {
			t.Fatalf("targets: %v\n%s", got, logOf(t, s, d.TaskID))
		}
	})
}

func TestAHealthCheckStepIncludesNewTargetsOnlyWhenAsked(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, nil)
		src := register(t, s, f, machineSpec{name: "web-1", envs: []string{"Dev"}, roles: []string{"web"}})
		srv := newServer(t, s, t.TempDir(), withHealth(s, src))
		ctx := context.Background()
		for i, include := range []bool{true, false} {
			newcomer := []string{"web-new", "web-late"}[i]
			setSteps(t, s, f,
				model.Step{Name: "Provision", Manual: &model.ManualAction{Instructions: "Start the new machine"}},
				healthStep("Check", model.HealthCheckAction{IncludeNewTargets: include}, "web"),
				onRoles(script("Deploy", "echo deployed on #{Octopus.Machine.Name}"), "web"))
			d := srv.deploy(srv.release(f, []string{"2.0.0", "2.0.1"}[i]), f.envs["Dev"])
			waitTask(t, s, d.TaskID, model.TaskWaiting)
			// While the deployment waits, a machine joins the environment.
			register(t, s, f, machineSpec{name: newcomer, envs: []string{"Dev"}, roles: []string{"web"}})
			asked, _, err := s.Read().ListInterruptions(ctx, store.InterruptionFilter{TaskID: d.TaskID})
			if err != nil || len(asked) != 1 {
				t.Fatalf("interruptions: %v %v", asked, err)
			}
			if err := s.Tx(ctx, func(q *store.Queries) error {
				_, err := q.AnswerInterruption(ctx, asked[0].ID, "tester", model.AnswerProceed, "")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			srv.runner.Notify()
			waitTask(t, s, d.TaskID, model.TaskSuccess)
			log := logOf(t, s, d.TaskID)
			got := targetsOf(t, s, d.TaskID)
			if include {
				for _, want := range []string{"web-new joined Dev after the deployment started; it is checked and, if healthy, included",
					"Health check of web-new: Healthy", "deployed on web-new", "deployed on web-1"} {
					if !strings.Contains(log, want) {
						t.Errorf("log lacks %q:\n%s", want, log)
					}
				}
				if strings.Join(got["Step 2: Check"], ",") != "web-1:Success,web-new:Success" || strings.Join(got["Step 3: Deploy"], ",") != "web-1:Success,web-new:Success" {
					t.Fatalf("targets: %v", got)
				}
				continue
			}
			for _, want := range []string{"web-late joined Dev after the deployment started; it is left out of this deployment", "deployed on web-1", "deployed on web-new"} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
			if strings.Contains(log, "deployed on web-late") || strings.Contains(log, "Health check of web-late") {
				t.Errorf("web-late joined after the deployment started and should be left out:\n%s", log)
			}
			if strings.Join(got["Step 2: Check"], ",") != "web-1:Success,web-new:Success,web-late:Skipped" {
				t.Fatalf("targets: %v", got)
			}
		}
	})
}

// A server stopped in the middle of a health check step: the next one
// checks again what was being checked, and still knows which targets the
// deployment started with.
func TestAHealthCheckStepResumesWithTheTargetsItStartedWith(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := setup(t, s, nil)
		gate := filepath.Join(t.TempDir(), "gate")
		err := s.Tx(ctx, func(q *store.Queries) error {
			p := model.MachinePolicy{Name: "Slow", WhenUnavailable: model.UnavailableFail,
				HealthCheckScript: fmt.Sprintf("while [ ! -e %s ]; do sleep 0.05; done", gate)}
			return q.CreateMachinePolicy(ctx, &p)
		})
		if err != nil {
			t.Fatal(err)
		}
		src := register(t, s, f, machineSpec{name: "web-1", envs: []string{"Dev"}, roles: []string{"web"}, policy: "Slow"})
		setSteps(t, s, f, healthStep("Check", model.HealthCheckAction{OnError: model.HealthCheckSkip}, "web"),
			onRoles(script("Deploy", "echo deployed on #{Octopus.Machine.Name}"), "web"))
		work := t.TempDir()
		first := newServer(t, s, work, withHealth(s, src))
		d := first.deploy(first.release(f, "1.0.0"), f.envs["Dev"])
		deadline := time.Now().Add(30 * time.Second)
		for !slices.Contains(targetsOf(t, s, d.TaskID)["Step 1: Check"], "web-1:Running") {
			if time.Now().After(deadline) {
				t.Fatalf("the check never started:\n%s", logOf(t, s, d.TaskID))
			}
			time.Sleep(20 * time.Millisecond)
		}
		register(t, s, f, machineSpec{name: "web-late", envs: []string{"Dev"}, roles: []string{"web"}})
		first.stop()
		os.WriteFile(gate, nil, 0o600)

		newServer(t, s, work, withHealth(s, src))
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		got := targetsOf(t, s, d.TaskID)
		if strings.Join(got["Step 1: Check"], ",") != "web-1:Success,web-late:Skipped" || strings.Join(got["Step 2: Deploy"], ",") != "web-1:Success" {
			t.Fatalf("targets: %v\n%s", got, logOf(t, s, d.TaskID))
		}
		if log := logOf(t, s, d.TaskID); !strings.Contains(log, "web-late joined Dev after the deployment started; it is left out") {
			t.Fatalf("log:\n%s", log)
		}
	})
}

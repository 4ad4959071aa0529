package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// anotherProject adds a project beside f's, on the same lifecycle, with the
// given steps and project variables, and returns it as a fixture.
func anotherProject(t *testing.T, s *store.Store, f fixture, name string, variables []model.Variable, steps ...model.Step) fixture {
	t.Helper()
	ctx := context.Background()
	g := fixture{envs: f.envs, project: model.Project{Name: name, LifecycleID: f.project.LifecycleID}}
	err := s.Tx(ctx, func(q *store.Queries) error {
		if err := q.CreateProject(ctx, &g.project); err != nil {
			return err
		}
		if err := q.SaveProcess(ctx, &model.DeploymentProcess{ProjectID: g.project.ID, Steps: steps}); err != nil {
			return err
		}
		return q.SaveVariables(ctx, &model.VariableSet{OwnerID: g.project.ID, Variables: variables})
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// until polls cond until it holds, failing the test after 20 s.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// One deployment script at a time per target: a second deployment's script
// on a target waits, saying so, until the first one's ends, unless its step
// sets OctopusBypassDeploymentMutex to True, when it runs alongside. The
// scripts record the order they ran in through a file; the first holds until
// the test opens its gate.
func TestOneDeploymentScriptAtATimePerTarget(t *testing.T) {
	tests := []struct {
		name string
		// bypass is the second project's OctopusBypassDeploymentMutex, if any.
		bypass string
		// secondWaits: the second deployment's script waits for the first's.
		secondWaits bool
	}{
		{name: "the second deployment waits for the first", secondWaits: true},
		{name: "OctopusBypassDeploymentMutex=True runs it alongside", bypass: "True"},
		{name: "OctopusBypassDeploymentMutex=False keeps the lock", bypass: "False", secondWaits: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, s *store.Store) {
				dir := t.TempDir()
				order, gate := filepath.Join(dir, "order"), filepath.Join(dir, "gate")
				f := setup(t, s, nil)
				src := register(t, s, f, machineSpec{name: "shared", envs: []string{"Dev"}, roles: []string{"web"}})
				first := script("Hold", fmt.Sprintf(`echo first-start >> %[1]q
for i in $(seq 600); do [ -e %[2]q ] && break; sleep 0.05; done
echo first-end >> %[1]q`, order, gate))
				first.TargetRoles = []string{"web"}
				setSteps(t, s, f, first)
				second := script("Mark", fmt.Sprintf(`echo second-start >> %q`, order))
				second.TargetRoles = []string{"web"}
				var variables []model.Variable
				if tt.bypass != "" {
					variables = append(variables, model.Variable{Name: "OctopusBypassDeploymentMutex", Value: tt.bypass})
				}
				g := anotherProject(t, s, f, "api", variables, second)
				srv := newServer(t, s, t.TempDir(), withTargets(src))
				ran := func() string { b, _ := os.ReadFile(order); return strings.Join(strings.Fields(string(b)), ",") }

				d1 := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
				until(t, "the first script runs", func() bool { return ran() == "first-start" })
				d2 := srv.deploy(srv.release(g, "1.0.0"), f.envs["Dev"])
				const waiting = "waiting for another script on this target"

				if tt.secondWaits {
					until(t, "the second deployment says it waits", func() bool { return strings.Contains(logOf(t, s, d2.TaskID), waiting) })
					if got := ran(); got != "first-start" {
						t.Fatalf("with the first script still running, the scripts ran %s", got)
					}
					os.WriteFile(gate, nil, 0o600)
					waitTask(t, s, d1.TaskID, model.TaskSuccess)
					waitTask(t, s, d2.TaskID, model.TaskSuccess)
					if got := ran(); got != "first-start,first-end,second-start" {
						t.Fatalf("the scripts ran %s, want the second after the first", got)
					}
					return
				}
				// The second deployment ends while the first still holds.
				waitTask(t, s, d2.TaskID, model.TaskSuccess)
				if got := ran(); got != "first-start,second-start" {
					t.Fatalf("the scripts ran %s, want the second beside the first", got)
				}
				if log := logOf(t, s, d2.TaskID); strings.Contains(log, waiting) {
					t.Fatalf("the bypassing deployment waited:\n%s", log)
				}
				os.WriteFile(gate, nil, 0o600)
				waitTask(t, s, d1.TaskID, model.TaskSuccess)
				if got := ran(); got != "first-start,second-start,first-end" {
					t.Fatalf("the scripts ran %s", got)
				}
			})
		})
	}
}

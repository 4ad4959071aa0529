package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

func TestReferenceCyclesAreRefusedWhenSavedAndWhenReleased(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		ctx := context.Background()
		dev := createEnvs(t, s, "Dev")[0]
		p := newProjectWithStep(t, s, "web")

		// Every value of a name is checked, not only the last one written.
		vs := model.VariableSet{OwnerID: p.ID, Variables: []model.Variable{
			{Name: "A", Value: "#{B}"},
			{Name: "B", Value: "#{A}"},
			{Name: "A", Value: "fixed", Scope: model.Scope{Environments: []string{dev.ID}}},
		}}
		err := mustFail(t, s, nil, func(q *store.Queries) error { return q.SaveVariables(ctx, &vs) })
		if !isValidation(err) || !strings.Contains(err.Error(), `variables[0].value ("A"): variable reference cycle: B -> A -> B`) {
			t.Fatalf("a cycle beside a Dev value: %v", err)
		}

		// Each set alone is fine; together they make a cycle, refused when
		// a release would take them.
		set := model.LibraryVariableSet{Name: "Common", Variables: []model.Variable{{Name: "Url", Value: "https://#{Host}/"}}}
		tx(t, s, func(q *store.Queries) error { return q.CreateLibrarySet(ctx, &set) })
		p.LibrarySetIDs = []string{set.ID}
		tx(t, s, func(q *store.Queries) error {
			if err := q.UpdateProject(ctx, &p); err != nil {
				return err
			}
			own := model.VariableSet{OwnerID: p.ID, Variables: []model.Variable{{Name: "Host", Value: "#{Url | ToLower}"}}}
			return q.SaveVariables(ctx, &own)
		})
		err = mustFail(t, s, nil, func(q *store.Queries) error {
			return q.CreateRelease(ctx, &model.Release{ProjectID: p.ID, Version: "1.0.0"})
		})
		for _, want := range []string{"the variables of project web and its library sets",
			`"Host" (the project's value): variable reference cycle: Url -> Host -> Url`,
			`"Url" (library set Common): variable reference cycle: Host -> Url -> Host`} {
			if !isValidation(err) || !strings.Contains(err.Error(), want) {
				t.Errorf("a release of a cycle across the project and a set: %v; want %q", err, want)
			}
		}

		// Broken, a release is made; the cycle cannot come back through
		// update-variables either.
		set.Variables[0].Value = "https://example.com/"
		tx(t, s, func(q *store.Queries) error { return q.UpdateLibrarySet(ctx, &set) })
		rel := model.Release{ProjectID: p.ID, Version: "1.0.0"}
		tx(t, s, func(q *store.Queries) error { return q.CreateRelease(ctx, &rel) })
		set.Variables[0].Value = "https://#{Host}/"
		tx(t, s, func(q *store.Queries) error { return q.UpdateLibrarySet(ctx, &set) })
		err = mustFail(t, s, nil, func(q *store.Queries) error { _, err := q.RefreshReleaseVariables(ctx, rel.ID); return err })
		if !isValidation(err) || !strings.Contains(err.Error(), "Url -> Host -> Url") {
			t.Fatalf("update-variables into a cycle: %v", err)
		}
	})
}

// A release follows its channel's lifecycle when the channel has one, so
// whether it is settled (deployed in that lifecycle's last phase) is
// decided by that lifecycle, as the engine decides where it may go.
func TestUpdateVariablesFollowsTheLifecycleOfTheReleasesChannel(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		ctx := context.Background()
		envs := createEnvs(t, s, "Dev", "Production")
		dev, prod := envs[0], envs[1]
		p := newProjectWithStep(t, s, "web")
		lifecycle := func(name string, envs ...model.Environment) model.Lifecycle {
			l := model.Lifecycle{Name: name}
			for _, e := range envs {
				l.Phases = append(l.Phases, model.Phase{Name: e.Name, ManualEnvironments: []string{e.ID}})
			}
			tx(t, s, func(q *store.Queries) error { return q.CreateLifecycle(ctx, &l) })
			return l
		}
		p.LifecycleID = lifecycle("Dev then Production", dev, prod).ID
		devOnly := lifecycle("Dev only", dev)
		channels := map[string]model.Channel{}
		tx(t, s, func(q *store.Queries) error {
			if err := q.UpdateProject(ctx, &p); err != nil {
				return err
			}
			for _, c := range []model.Channel{
				{ProjectID: p.ID, Name: "Normal", IsDefault: true},
				{ProjectID: p.ID, Name: "Dev builds", LifecycleID: devOnly.ID},
			} {
				if err := q.CreateChannel(ctx, &c); err != nil {
					return err
				}
				channels[c.Name] = c
			}
			return nil
		})
		deployedToDev := func(version, channel string) model.Release {
			t.Helper()
			r := model.Release{ProjectID: p.ID, Version: version, ChannelID: channels[channel].ID}
			tx(t, s, func(q *store.Queries) error { return q.CreateRelease(ctx, &r) })
			queueDeployment(t, s, p, r, dev)
			tx(t, s, func(q *store.Queries) error {
				claims, err := q.ClaimTasks(ctx, "node", 1, time.Minute)
				if err != nil || len(claims) != 1 {
					return fmt.Errorf("claim the deployment: %v, %d claims", err, len(claims))
				}
				return q.FinishTask(ctx, claims[0].Lease, model.TaskSuccess, "")
			})
			return r
		}

		// Dev is the last phase of the channel's lifecycle: settled.
		devBuild := deployedToDev("1.0.0-dev", "Dev builds")
		err := mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { _, err := q.RefreshReleaseVariables(ctx, devBuild.ID); return err })
		if !strings.Contains(err.Error(), "has been deployed to Dev, in its lifecycle's last phase") {
			t.Fatalf("a release deployed in its channel's last phase: %v", err)
		}
		// The project's lifecycle goes on to Production: not settled yet.
		normal := deployedToDev("1.0.0", "Normal")
		tx(t, s, func(q *store.Queries) error { _, err := q.RefreshReleaseVariables(ctx, normal.ID); return err })
	})
}

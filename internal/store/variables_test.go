package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

var errRolledBack = errors.New("rolled back")

// A value that refers to itself through others is refused where it can
// really happen: each value is checked where its own scope puts it, with
// the values that win there, the project's and its library sets' together
// when a release takes them.
func TestVariableCyclesAreFoundWhereValuesMeet(t *testing.T) {
	type value struct {
		name, value        string
		envs, roles        []string
		library, sensitive bool
	}
	v := func(name, text string, envs ...string) value { return value{name: name, value: text, envs: envs} }
	library := func(x value) value { x.library = true; return x }
	sensitive := func(x value) value { x.sensitive = true; return x }
	role := func(x value, r string) value { x.roles = []string{r}; return x }
	const ab, ba = "variable reference cycle: A -> B -> A; break the cycle", "variable reference cycle: B -> A -> B; break the cycle"
	rows := []struct {
		name   string
		values []value
		want   []string // the problems reported, when the values are saved or else when a release takes them
	}{
		{"two values that refer to each other",
			[]value{v("A", "#{B}"), v("B", "x#{A}")},
			[]string{`variables[0].value ("A"): ` + ba, `variables[1].value ("B"): ` + ab}},
		{"a value that refers to itself",
			[]value{v("A", "x#{A}")},
			[]string{`variables[0].value ("A"): variable reference cycle: A -> A; break the cycle`}},
		{"three in a ring",
			[]value{v("A", "#{B}"), v("B", "#{C}"), v("C", "#{A}")},
			[]string{`variables[0].value ("A"): variable reference cycle: B -> C -> A -> B; break the cycle`,
				`variables[1].value ("B"): variable reference cycle: C -> A -> B -> C; break the cycle`,
				`variables[2].value ("C"): variable reference cycle: A -> B -> C -> A; break the cycle`}},
		{"another value of a name for Dev does not hide the cycle everywhere else",
			[]value{v("A", "#{B}"), v("B", "#{A}"), v("A", "fixed", "Dev")},
			[]string{`variables[0].value ("A"): ` + ba, `variables[1].value ("B"): ` + ab}},
		{"the Dev value wins wherever the Dev-only value refers to it",
			[]value{v("A", "#{B}"), v("A", "fixed", "Dev"), v("B", "#{A}", "Dev")},
			nil},
		{"values for Dev and for Test never meet",
			[]value{v("A", "#{B}", "Dev"), v("B", "#{A}", "Test")},
			nil},
		{"values for Dev and for Dev or Test meet in Dev",
			[]value{v("A", "#{B}", "Dev"), v("B", "#{A}", "Test", "Dev")},
			[]string{`variables[0].value ("A"): ` + ba, `variables[1].value ("B"): ` + ab}},
		// Outside Dev the unscoped value refers to nothing, so the cycle is
		// the Dev value's.
		{"an unscoped value meets one for Dev in Dev",
			[]value{v("A", "#{B}"), v("B", "#{A}", "Dev")},
			[]string{`variables[1].value ("B"): ` + ab}},
		{"a value for a role meets an unscoped one on machines with the role",
			[]value{role(v("A", "#{B}"), "web"), v("B", "#{A}")},
			[]string{`variables[0].value ("A"): ` + ba}},
		{"a value only leading to a cycle is not blamed for it",
			[]value{v("Start", "#{B}"), v("B", "#{C}"), v("C", "#{B}")},
			[]string{`variables[1].value ("B"): variable reference cycle: C -> B -> C; break the cycle`,
				`variables[2].value ("C"): variable reference cycle: B -> C -> B; break the cycle`}},
		{"a sensitive value is never rendered, so a chain through it ends there",
			[]value{v("A", "#{B}"), sensitive(v("B", "#{A}"))},
			nil},
		{"a library set's value the project's own hides",
			[]value{library(v("A", "#{B}")), v("A", "plain"), v("B", "#{A}")},
			nil},
		{"a library set's value and the project's",
			[]value{library(v("A", "#{B}")), v("B", "#{A}")},
			[]string{`"B" (the project's value): ` + ab, `"A" (library set Common): ` + ba}},
	}
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		ctx := context.Background()
		box, _ := secrets.New(secrets.NewKey())
		s.SetSealer(box)
		envs := createEnvs(t, s, "Dev", "Test")
		envIDs := map[string]string{"Dev": envs[0].ID, "Test": envs[1].ID}
		for _, row := range rows {
			t.Run(row.name, func(t *testing.T) {
				var own, shared []model.Variable
				for _, x := range row.values {
					mv := model.Variable{Name: x.name, Value: x.value, Sensitive: x.sensitive, Scope: model.Scope{Roles: x.roles}}
					for _, e := range x.envs {
						mv.Scope.Environments = append(mv.Scope.Environments, envIDs[e])
					}
					if x.library {
						shared = append(shared, mv)
					} else {
						own = append(own, mv)
					}
				}
				err := s.Tx(ctx, func(q *store.Queries) error {
					p := model.Project{Name: "web"}
					if len(shared) > 0 {
						set := model.LibraryVariableSet{Name: "Common", Variables: shared}
						if err := q.CreateLibrarySet(ctx, &set); err != nil {
							return err
						}
						p.LibrarySetIDs = []string{set.ID}
					}
					if err := q.CreateProject(ctx, &p); err != nil {
						return err
					}
					d := model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Run", Script: &model.ScriptAction{Body: "echo ok"}}}}
					if err := q.SaveProcess(ctx, &d); err != nil {
						return err
					}
					vs := model.VariableSet{OwnerID: p.ID, Variables: own}
					if err := q.SaveVariables(ctx, &vs); err != nil {
						return err
					}
					if err := q.CreateRelease(ctx, &model.Release{ProjectID: p.ID, Version: "1.0.0"}); err != nil {
						return err
					}
					return errRolledBack // each row starts from the same empty server
				})
				var got []string
				var invalid *model.ValidationError
				switch {
				case errors.Is(err, errRolledBack):
				case errors.As(err, &invalid):
					got = invalid.Problems
				default:
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, row.want) {
					t.Errorf("got  %q\nwant %q", got, row.want)
				}
			})
		}
	})
}

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

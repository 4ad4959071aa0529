package store_test

import (
	"context"
	"strings"
	"testing"

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

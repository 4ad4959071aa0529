package apply_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/apply"
	"github.com/pulpo-deploy/pulpo/internal/confdoc"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// archiveSource is a server with two unrelated projects: shop uses a
// lifecycle, a group, a library set, a worker pool and secrets; misc uses
// none of them.
const archiveSource = `environments:
  - name: Dev
  - name: Staging
  - name: Production
workerPools:
  - name: Builders
lifecycles:
  - name: Standard
    phases:
      - {name: Pre, automaticEnvironments: [Dev]}
      - {name: Live, manualEnvironments: [Production]}
  - name: Other
    phases:
      - {name: Only, automaticEnvironments: [Staging]}
projectGroups:
  - name: Web
  - name: Ops
librarySets:
  - name: Common
    variables:
      - {name: ApiKey, value: lib-secret-1, sensitive: true}
  - name: Unused
    variables:
      - {name: Nothing, value: here}
projects:
  - name: shop
    projectGroup: Web
    lifecycle: Standard
    librarySets: [Common]
    steps:
      - name: Hello
        workerPool: Builders
        script: {body: "echo #{Greeting}"}
    variables:
      - {name: Greeting, value: hello}
      - {name: Password, value: proj-secret-2, sensitive: true}
  - name: misc
    projectGroup: Ops
    lifecycle: Other
    steps:
      - name: Noop
        script: {body: "true"}
`

func sealedStore(t *testing.T, s *store.Store) {
	t.Helper()
	box, err := secrets.New(secrets.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	s.SetSealer(box)
}

// exportShop builds the source server (SQLite) and exports shop as an
// archive would hold it.
func exportShop(t *testing.T) *confdoc.Document {
	t.Helper()
	src, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	sealedStore(t, src)
	mustApply(t, src, parse(t, archiveSource), false)
	doc, err := apply.ExportSelection(context.Background(), src.Read(), apply.Selection{Projects: []string{"SHOP"}})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestExportSelectionTakesWhatProjectsReference(t *testing.T) {
	eachStore(t, func(t *testing.T, src *store.Store) {
		sealedStore(t, src)
		mustApply(t, src, parse(t, archiveSource), false)
		doc, err := apply.ExportSelection(context.Background(), src.Read(), apply.Selection{Projects: []string{"SHOP"}})
		if err != nil {
			t.Fatal(err)
		}
		checkShopExport(t, src, doc)
	})
}

func checkShopExport(t *testing.T, src *store.Store, doc *confdoc.Document) {
	got := map[string][]string{}
	for _, e := range doc.Environments {
		got["environments"] = append(got["environments"], e.Name)
	}
	for _, p := range doc.WorkerPools {
		got["workerPools"] = append(got["workerPools"], p.Name)
	}
	for _, l := range doc.Lifecycles {
		got["lifecycles"] = append(got["lifecycles"], l.Name)
	}
	for _, g := range doc.ProjectGroups {
		got["projectGroups"] = append(got["projectGroups"], g.Name)
	}
	for _, l := range doc.LibrarySets {
		got["librarySets"] = append(got["librarySets"], l.Name)
	}
	for _, p := range doc.Projects {
		got["projects"] = append(got["projects"], p.Name)
	}
	want := map[string][]string{"environments": {"Dev", "Production"}, "workerPools": {"Builders"}, "lifecycles": {"Standard"},
		"projectGroups": {"Web"}, "librarySets": {"Common"}, "projects": {"shop"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("archive holds\n %v\nwant\n %v", got, want)
	}
	if v := doc.LibrarySets[0].Variables[0]; v.Value != "lib-secret-1" || !v.Sensitive {
		t.Fatalf("library set's sensitive value not carried: %+v", v)
	}
	if v := doc.Projects[0].Variables[1]; v.Value != "proj-secret-2" || !v.Sensitive {
		t.Fatalf("project's sensitive value not carried: %+v", v)
	}

	// The plain export still leaves secrets out.
	plain, err := apply.Export(context.Background(), src.Read())
	if err != nil {
		t.Fatal(err)
	}
	if text, _ := plain.YAML(); strings.Contains(string(text), "secret-") {
		t.Fatalf("the plain export shows a sensitive value:\n%s", text)
	}

	for _, sel := range []apply.Selection{{}, {Projects: []string{"nope"}}, {All: true, Projects: []string{"shop"}}} {
		var ve *model.ValidationError
		if _, err := apply.ExportSelection(context.Background(), src.Read(), sel); !errors.As(err, &ve) {
			t.Fatalf("selection %+v: error %v, want a validation error", sel, err)
		}
	}
	all, err := apply.ExportSelection(context.Background(), src.Read(), apply.Selection{All: true})
	if err != nil || len(all.Projects) != 2 || len(all.LibrarySets) != 2 {
		t.Fatalf("export of all: %v, %+v", err, all)
	}
}

func mustImport(t *testing.T, s *store.Store, doc *confdoc.Document, opts apply.ImportOptions) confdoc.Result {
	t.Helper()
	res, err := apply.Import(context.Background(), s, doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestImportDryRunThenImport(t *testing.T) {
	doc := exportShop(t)
	eachStore(t, func(t *testing.T, s *store.Store) {
		sealedStore(t, s) // the receiving server's own master key
		ctx := context.Background()
		want := []string{"created environment Dev", "created environment Production", "created worker pool Builders",
			"created library set Common", "created lifecycle Standard", "created project group Web", "created project shop"}
		dry := mustImport(t, s, doc, apply.ImportOptions{DryRun: true})
		if got := actions(dry); !reflect.DeepEqual(got, want) || !dry.DryRun {
			t.Fatalf("dry run:\n got %q\nwant %q", got, want)
		}
		if _, err := s.Read().FindProject(ctx, "shop"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the dry run created the project: %v", err)
		}
		if _, err := s.Read().FindEnvironment(ctx, "Dev"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the dry run created an environment: %v", err)
		}
		if got := actions(mustImport(t, s, doc, apply.ImportOptions{})); !reflect.DeepEqual(got, want) {
			t.Fatalf("import:\n got %q\nwant %q", got, want)
		}
		p, err := s.Read().FindProject(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		vs, _ := s.Read().GetVariables(ctx, p.ID)
		if v := vs.Variables[1]; v.Value == "proj-secret-2" {
			t.Fatal("an imported sensitive value was stored in the clear")
		} else if plain, err := s.Read().OpenSealed(v.Value); err != nil || plain != "proj-secret-2" {
			t.Fatalf("the imported sensitive value opens as %q, %v", plain, err)
		}
	})
}

func TestImportSkipsOrUpdatesExisting(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		doc := exportShop(t) // changed below: one per database
		sealedStore(t, s)
		ctx := context.Background()
		mustImport(t, s, doc, apply.ImportOptions{})
		p, _ := s.Read().FindProject(ctx, "shop")
		before, _ := s.Read().GetProcess(ctx, p.ID)

		// The source changed its step and its lifecycle's description.
		doc.Projects[0].Steps[0].Script.Body = "echo changed"
		doc.Lifecycles[0].Description = "now described"
		want := []string{"unchanged environment Dev", "unchanged environment Production", "unchanged worker pool Builders",
			"unchanged library set Common", "skipped lifecycle Standard (description)", "unchanged project group Web", "skipped project shop"}
		res := mustImport(t, s, doc, apply.ImportOptions{})
		if got := actions(res); !reflect.DeepEqual(got, want) || res.Changed() != 0 {
			t.Fatalf("import without updating:\n got %q\nwant %q", got, want)
		}
		if after, _ := s.Read().GetProcess(ctx, p.ID); after.Version != before.Version {
			t.Fatal("a skipped project's process was saved")
		}
		if l, _ := s.Read().FindLifecycle(ctx, "Standard"); l.Description != "" {
			t.Fatal("a skipped lifecycle was changed")
		}

		opts := apply.ImportOptions{UpdateExisting: true, DryRun: true}
		want = []string{"unchanged environment Dev", "unchanged environment Production", "unchanged worker pool Builders",
			"unchanged library set Common", "updated lifecycle Standard (description)", "unchanged project group Web", "updated project shop (steps)"}
		if got := actions(mustImport(t, s, doc, opts)); !reflect.DeepEqual(got, want) {
			t.Fatalf("dry run of updating:\n got %q\nwant %q", got, want)
		}
		if after, _ := s.Read().GetProcess(ctx, p.ID); after.Version != before.Version {
			t.Fatal("the dry run saved the process")
		}
		opts.DryRun = false
		if got := actions(mustImport(t, s, doc, opts)); !reflect.DeepEqual(got, want) {
			t.Fatalf("updating:\n got %q\nwant %q", got, want)
		}
		after, _ := s.Read().GetProcess(ctx, p.ID)
		if after.Steps[0].Script.Body != "echo changed" || after.Steps[0].ID != before.Steps[0].ID {
			t.Fatalf("step after update: %+v (was %+v)", after.Steps[0], before.Steps[0])
		}
	})
}

func TestImportIsOneTransaction(t *testing.T) {
	doc := exportShop(t)
	// The last thing applied (the project) names a lifecycle that is
	// nowhere: everything created before it must be rolled back.
	doc.Projects[0].Lifecycle = "Missing"
	eachStore(t, func(t *testing.T, s *store.Store) {
		sealedStore(t, s)
		ctx := context.Background()
		_, err := apply.Import(ctx, s, doc, apply.ImportOptions{})
		var ve *model.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), `lifecycle "Missing"`) {
			t.Fatalf("import error %v, want one naming the missing lifecycle", err)
		}
		for _, check := range []func() error{
			func() error { _, err := s.Read().FindEnvironment(ctx, "Dev"); return err },
			func() error { _, err := s.Read().FindLibrarySet(ctx, "Common"); return err },
			func() error { _, err := s.Read().FindLifecycle(ctx, "Standard"); return err },
		} {
			if err := check(); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a failed import left something behind: %v", err)
			}
		}
	})
}

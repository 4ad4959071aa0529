package apply_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/apply"
	"github.com/pulpo-deploy/pulpo/internal/confdoc"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/testutil/pgtest"
)

var pg pgtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

func eachStore(t *testing.T, test func(t *testing.T, s *store.Store)) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			cfg := store.Config{DataDir: t.TempDir()}
			if dialect == "postgres" {
				cfg.DatabaseURL = pg.Database(t)
			}
			s, err := store.Open(context.Background(), cfg)
			if err != nil {
				t.Fatalf("open %s store: %v", dialect, err)
			}
			t.Cleanup(func() { s.Close() })
			test(t, s)
		})
	}
}

const sample = `environments:
  - name: Dev
  - name: Test
    description: for QA
  - name: Production
lifecycles:
  - name: Standard
    phases:
      - name: Pre-production
        automaticEnvironments: [Dev]
        manualEnvironments: [Test]
      - name: Production
        manualEnvironments: [Production]
projectGroups:
  - name: Web
projects:
  - name: shop
    projectGroup: Web
    lifecycle: Standard
    steps:
      - name: Say hello
        script:
          body: |
            echo "#{Greeting}"
            echo done
      - name: Old step
        disabled: true
        script:
          syntax: sh
          body: echo old
    variables:
      - name: Greeting
        value: hello
      - name: Greeting
        value: hello dev
        environments: [Dev]
`

func parse(t *testing.T, text string) *confdoc.Document {
	t.Helper()
	doc, err := confdoc.ParseYAML([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func mustApply(t *testing.T, s *store.Store, doc *confdoc.Document, dryRun bool) confdoc.Result {
	t.Helper()
	res, err := apply.Apply(context.Background(), s, doc, dryRun)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// actions renders a result as "action kind name" lines, for comparison.
func actions(res confdoc.Result) []string {
	var out []string
	for _, c := range res.Changes {
		line := c.Action + " " + c.Kind + " " + c.Name
		if len(c.Fields) > 0 {
			line += " (" + strings.Join(c.Fields, ",") + ")"
		}
		out = append(out, line)
	}
	return out
}

func TestApplyCreatesThenChangesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		first := mustApply(t, s, parse(t, sample), false)
		want := []string{
			"created environment Dev", "created environment Test", "created environment Production",
			"created lifecycle Standard", "created project group Web", "created project shop",
		}
		if got := actions(first); !reflect.DeepEqual(got, want) {
			t.Fatalf("first apply:\n got %q\nwant %q", got, want)
		}
		p, err := s.Read().FindProject(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		before, _ := s.Read().GetProcess(ctx, p.ID)
		if len(before.Steps) != 2 || before.Steps[0].Script.Syntax != model.SyntaxBash || !before.Steps[1].Disabled {
			t.Fatalf("process after apply: %+v", before.Steps)
		}
		vs, _ := s.Read().GetVariables(ctx, p.ID)
		dev, _ := s.Read().FindEnvironment(ctx, "Dev")
		if len(vs.Variables) != 2 || vs.Variables[1].Scope.Environments[0] != dev.ID {
			t.Fatalf("variables after apply: %+v", vs.Variables)
		}

		second := mustApply(t, s, parse(t, sample), false)
		if second.Changed() != 0 {
			t.Fatalf("second apply changed something: %q", actions(second))
		}
		after, _ := s.Read().GetProcess(ctx, p.ID)
		if after.Version != before.Version {
			t.Fatalf("an unchanged process was saved again: version %d -> %d", before.Version, after.Version)
		}
	})
}

func TestApplyUpdates(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustApply(t, s, parse(t, sample), false)
		p, _ := s.Read().FindProject(ctx, "shop")
		before, _ := s.Read().GetProcess(ctx, p.ID)

		edited := strings.NewReplacer(
			"description: for QA", "description: for QA and demos",
			"value: hello dev", "value: bonjour dev",
			"echo done", "echo finished",
		).Replace(sample)
		res := mustApply(t, s, parse(t, edited), false)
		want := []string{
			"unchanged environment Dev", "updated environment Test (description)", "unchanged environment Production",
			"unchanged lifecycle Standard", "unchanged project group Web", "updated project shop (steps,variables)",
		}
		if got := actions(res); !reflect.DeepEqual(got, want) {
			t.Fatalf("apply of an edited file:\n got %q\nwant %q", got, want)
		}
		after, _ := s.Read().GetProcess(ctx, p.ID)
		if after.Steps[0].ID != before.Steps[0].ID {
			t.Fatalf("a step matched by name lost its id: %s -> %s", before.Steps[0].ID, after.Steps[0].ID)
		}
		if !strings.Contains(after.Steps[0].Script.Body, "echo finished") {
			t.Fatalf("step body not updated: %q", after.Steps[0].Script.Body)
		}
	})
}

func TestApplyOrdersEnvironmentsAsListed(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustApply(t, s, parse(t, "environments:\n  - name: Dev\n  - name: Production\n  - name: Sandbox\n"), false)
		// Test goes between Dev and Production; Sandbox, not listed, keeps its place.
		res := mustApply(t, s, parse(t, "environments:\n  - name: Dev\n  - name: Test\n  - name: Production\n"), false)
		envs, err := s.Read().AllEnvironments(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, e := range envs {
			order = append(order, e.Name)
		}
		if want := []string{"Dev", "Test", "Production", "Sandbox"}; !reflect.DeepEqual(order, want) {
			t.Fatalf("order after inserting Test: %v (want %v); changes %q", order, want, actions(res))
		}
		again := mustApply(t, s, parse(t, "environments:\n  - name: Dev\n  - name: Test\n  - name: Production\n"), false)
		if again.Changed() != 0 {
			t.Fatalf("reapplying changed: %q", actions(again))
		}
		swapped := mustApply(t, s, parse(t, "environments:\n  - name: Production\n  - name: Dev\n"), false)
		want := []string{"updated environment Production (order)", "updated environment Dev (order)"}
		if got := actions(swapped); !reflect.DeepEqual(got, want) {
			t.Fatalf("swapping two environments: got %q, want %q", got, want)
		}
		envs, _ = s.Read().AllEnvironments(ctx)
		order = order[:0]
		for _, e := range envs {
			order = append(order, e.Name)
		}
		if want := []string{"Production", "Test", "Dev", "Sandbox"}; !reflect.DeepEqual(order, want) {
			t.Fatalf("order after swapping: %v (want %v)", order, want)
		}
	})
}

func TestDryRunChangesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		res := mustApply(t, s, parse(t, sample), true)
		if !res.DryRun || res.Changed() != 6 {
			t.Fatalf("dry run result: %+v", res)
		}
		envs, _ := s.Read().AllEnvironments(context.Background())
		if len(envs) != 0 {
			t.Fatalf("a dry run created environments: %+v", envs)
		}
		// Ids were not used up either: the real run gets the first ones.
		mustApply(t, s, parse(t, sample), false)
		dev, _ := s.Read().FindEnvironment(context.Background(), "Dev")
		if dev.ID != "Environments-1" {
			t.Fatalf("first environment after a dry run got id %s", dev.ID)
		}
	})
}

func TestBadDocumentsChangeNothing(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string // each must appear in the error
	}{
		{"unknown environment in a phase", "environments:\n  - name: Dev\nlifecycles:\n  - name: L\n    phases:\n      - name: P\n        manualEnvironments: [Prod]\n",
			[]string{`lifecycle "L"`, `phases[0].manualEnvironments: environment "Prod" is neither in the file nor on the server`}},
		{"unknown environment in a scope", "environments:\n  - name: Dev\nprojects:\n  - name: p\n    variables:\n      - name: A\n        value: x\n        environments: [Qa]\n",
			[]string{`project "p"`, `variables[0].environments: environment "Qa"`}},
		{"unknown lifecycle", "environments:\n  - name: Dev\nprojects:\n  - name: p\n    lifecycle: Nope\n",
			[]string{`lifecycle "Nope" is neither in the file nor on the server`}},
		{"duplicate names", "environments:\n  - name: Dev\n  - name: dev\n",
			[]string{`environments[1]: "dev" is listed twice`}},
		{"step without a body", "environments:\n  - name: Dev\nprojects:\n  - name: p\n    steps:\n      - name: s\n        script:\n          syntax: bash\n",
			[]string{`project "p"`, "steps[0].script.body: is required"}},
		{"missing name", "environments:\n  - name: Dev\n  - description: nameless\n",
			[]string{"name: is required"}},
		{"two values with one scope", "environments:\n  - name: Dev\nprojects:\n  - name: p\n    variables:\n      - {name: A, value: x}\n      - {name: a, value: y}\n",
			[]string{`"A" has two values with the same scope`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, s *store.Store) {
				_, err := apply.Apply(context.Background(), s, parse(t, tc.doc), false)
				var ve *model.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("want a validation error, got %v", err)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				// The environment before the mistake was rolled back with it.
				if envs, _ := s.Read().AllEnvironments(context.Background()); len(envs) != 0 {
					t.Errorf("a failed apply left environments behind: %+v", envs)
				}
			})
		})
	}
}

func TestExportAppliesBackUnchanged(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustApply(t, s, parse(t, sample), false)
		doc, err := apply.Export(ctx, s.Read())
		if err != nil {
			t.Fatal(err)
		}
		text, err := doc.YAML()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"name: Default Lifecycle", "manualEnvironments: [Test]", "echo \"#{Greeting}\"\n", "environments: [Dev]"} {
			if !strings.Contains(string(text), want) {
				t.Errorf("export lacks %q:\n%s", want, text)
			}
		}
		res := mustApply(t, s, parse(t, string(text)), false)
		if res.Changed() != 0 {
			t.Fatalf("applying the export changed: %q\n%s", actions(res), text)
		}

		// The export also builds the same configuration on an empty server.
		eachFresh := store.Config{DataDir: t.TempDir()}
		fresh, err := store.Open(ctx, eachFresh)
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Close()
		mustApply(t, fresh, parse(t, string(text)), false)
		again, err := apply.Export(ctx, fresh.Read())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(doc, again) {
			t.Fatalf("export of a server built from an export differs:\n%+v\n%+v", doc, again)
		}
	})
}

func TestApplyWorkerPoolsPoliciesAndWhereStepsRun(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		doc := `workerPools:
  - name: Builders
machinePolicies:
  - name: Lenient
    healthCheckInterval: 15m
    whenUnavailable: skip
    healthCheckScript: |
      df -h / | tail -1
projects:
  - name: app
    steps:
      - name: Build
        workerPool: Builders
        script:
          body: make
      - name: Roll out
        targetRoles: [web, api]
        windowSize: 2
        script:
          body: ./deploy.sh
`
		first := mustApply(t, s, parse(t, doc), false)
		want := []string{"created worker pool Builders", "created machine policy Lenient", "created project app"}
		if got := actions(first); !reflect.DeepEqual(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
		if again := mustApply(t, s, parse(t, doc), false); again.Changed() != 0 {
			t.Fatalf("second apply changed: %q", actions(again))
		}
		p, _ := s.Read().FindProject(ctx, "app")
		proc, _ := s.Read().GetProcess(ctx, p.ID)
		pool, _ := s.Read().FindWorkerPool(ctx, "Builders")
		if proc.Steps[0].WorkerPoolID != pool.ID || proc.Steps[1].WindowSize != 2 || len(proc.Steps[1].TargetRoles) != 2 {
			t.Fatalf("steps: %+v", proc.Steps)
		}
		policy, _ := s.Read().FindMachinePolicy(ctx, "Lenient")
		if policy.HealthCheckInterval.D.Minutes() != 15 || policy.WhenUnavailable != model.UnavailableSkip {
			t.Fatalf("policy: %+v", policy)
		}
		changed := mustApply(t, s, parse(t, strings.Replace(doc, "15m", "1h", 1)), false)
		if got := actions(changed); got[1] != "updated machine policy Lenient (healthCheckInterval)" {
			t.Fatalf("changing the interval: %q", got)
		}

		_, err := apply.Apply(ctx, s, parse(t, "machinePolicies:\n  - name: Bad\n    healthCheckInterval: soon\nprojects:\n  - name: p\n    steps:\n      - name: s\n        workerPool: Nowhere\n        script: {body: x}\n"), false)
		if err == nil || !strings.Contains(err.Error(), `"soon" is not a duration`) {
			t.Fatalf("a bad duration: %v", err)
		}
		_, err = apply.Apply(ctx, s, parse(t, "projects:\n  - name: p\n    steps:\n      - name: s\n        workerPool: Nowhere\n        script: {body: x}\n"), false)
		if err == nil || !strings.Contains(err.Error(), `steps[0].workerPool: worker pool "Nowhere" does not exist`) {
			t.Fatalf("an unknown pool: %v", err)
		}
	})
}

func TestApplyLibrarySetsScopesAndPrompts(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		box, _ := secrets.New(secrets.NewKey())
		s.SetSealer(box)
		ctx := context.Background()
		doc := `environments:
  - name: Dev
librarySets:
  - name: Common
    variables:
      - {name: Smtp, value: smtp.example}
      - {name: Smtp, value: smtp.dev, environments: [Dev]}
projects:
  - name: app
    librarySets: [Common]
    steps:
      - name: Deploy
        targetRoles: [web]
        script: {body: "echo #{Level}"}
    variables:
      - {name: Level, value: info}
      - {name: Level, value: debug, roles: [web], steps: [Deploy]}
      - {name: Ticket, prompt: {label: Change ticket, required: true}}
      - {name: Token, value: tok-123456, sensitive: true}
`
		first := mustApply(t, s, parse(t, doc), false)
		if got := actions(first); !reflect.DeepEqual(got, []string{"created environment Dev", "created library set Common", "created project app"}) {
			t.Fatalf("first apply: %q", got)
		}
		if again := mustApply(t, s, parse(t, doc), false); again.Changed() != 0 {
			t.Fatalf("second apply changed: %q", actions(again))
		}
		p, _ := s.Read().FindProject(ctx, "app")
		set, _ := s.Read().FindLibrarySet(ctx, "Common")
		if len(p.LibrarySetIDs) != 1 || p.LibrarySetIDs[0] != set.ID {
			t.Fatalf("project sets %v", p.LibrarySetIDs)
		}
		vs, _ := s.Read().GetVariables(ctx, p.ID)
		proc, _ := s.Read().GetProcess(ctx, p.ID)
		if vs.Variables[1].Scope.Steps[0] != proc.Steps[0].ID || vs.Variables[1].Scope.Roles[0] != "web" || !vs.Variables[2].Prompt.Required {
			t.Fatalf("variables %+v", vs.Variables)
		}
		if vs.Variables[3].Value == "tok-123456" {
			t.Fatal("a sensitive value was stored in the clear")
		}

		// Exported, the secret is left out; applied back, it is kept.
		exported, err := apply.Export(ctx, s.Read())
		if err != nil {
			t.Fatal(err)
		}
		text, _ := exported.YAML()
		if strings.Contains(string(text), "tok-123456") || !strings.Contains(string(text), "librarySets: [Common]") || !strings.Contains(string(text), "steps: [Deploy]") {
			t.Fatalf("export:\n%s", text)
		}
		if back := mustApply(t, s, parse(t, string(text)), false); back.Changed() != 0 {
			t.Fatalf("applying the export changed: %q\n%s", actions(back), text)
		}
		vs, _ = s.Read().GetVariables(ctx, p.ID)
		if plain, err := s.Read().OpenSealed(vs.Variables[3].Value); err != nil || plain != "tok-123456" {
			t.Fatalf("the secret was lost: %q %v", plain, err)
		}

		_, err = apply.Apply(ctx, s, parse(t, "librarySets:\n  - name: Bad\n    variables:\n      - {name: X, value: y, steps: [Deploy]}\n"), false)
		if err == nil || !strings.Contains(err.Error(), "cannot be scoped to steps") {
			t.Fatalf("a step scope in a library set: %v", err)
		}
	})
}

func TestChannelScopedValuesSurviveExportAndApply(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		doc := `projects:
  - name: app
    channels:
      - {name: Stable, default: true}
      - {name: Beta}
    steps:
      - name: Deploy
        script: {body: "echo #{Banner}"}
    variables:
      - {name: Banner, value: stable}
      - {name: Banner, value: beta build, channels: [beta]}
      - {name: Banner, value: beta deploy, channels: [Beta], steps: [Deploy]}
`
		mustApply(t, s, parse(t, doc), false)
		if again := mustApply(t, s, parse(t, doc), false); again.Changed() != 0 {
			t.Fatalf("second apply changed: %q", actions(again))
		}
		p, _ := s.Read().FindProject(ctx, "app")
		channels, _ := s.Read().ListChannels(ctx, p.ID)
		beta := ""
		for _, c := range channels {
			if c.Name == "Beta" {
				beta = c.ID
			}
		}
		vs, _ := s.Read().GetVariables(ctx, p.ID)
		if len(vs.Variables) != 3 || !reflect.DeepEqual(vs.Variables[1].Scope.Channels, []string{beta}) || !reflect.DeepEqual(vs.Variables[2].Scope.Channels, []string{beta}) {
			t.Fatalf("the Beta channel is %s; variables %+v", beta, vs.Variables)
		}

		exported, err := apply.Export(ctx, s.Read())
		if err != nil {
			t.Fatal(err)
		}
		text, _ := exported.YAML()
		if !strings.Contains(string(text), "channels: [Beta]") {
			t.Fatalf("the export lacks the channel scope:\n%s", text)
		}
		if back := mustApply(t, s, parse(t, string(text)), false); back.Changed() != 0 {
			t.Fatalf("applying the export changed: %q\n%s", actions(back), text)
		}
		fresh, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Close()
		mustApply(t, fresh, parse(t, string(text)), false)
		again, err := apply.Export(ctx, fresh.Read())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(exported, again) {
			t.Fatalf("export of a server built from an export differs:\n%+v\n%+v", exported, again)
		}

		for _, tt := range []struct{ doc, want string }{
			{"projects:\n  - name: app\n    variables:\n      - {name: X, value: y, channels: [Nightly]}\n", `variables[0].channels: the project has no channel "Nightly"`},
			{"librarySets:\n  - name: Bad\n    variables:\n      - {name: X, value: y, channels: [Beta]}\n", "a library set's values cannot be scoped to channels"},
		} {
			if _, err := apply.Apply(ctx, s, parse(t, tt.doc), false); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("apply %q: %v, want %q", tt.doc, err, tt.want)
			}
		}
	})
}

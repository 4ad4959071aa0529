package apply_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/apply"
	"github.com/pulpo-deploy/pulpo/internal/confdoc"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// library holds the ids of the library's objects fullSteps refer to.
type library struct {
	feed     string // an external feed
	template string // a step template with two versions
	team     string // a team email steps mail
}

// fullSteps are steps that between them set every field of model.Step and
// of every action reachable from it (checked by everyFieldSet), with ids
// taken from the store they are saved in.
func fullSteps(envs map[string]string, pool, channel, child string, lib library) []model.Step {
	feed := model.BuiltInFeedID
	return []model.Step{
		{Name: "Build", WorkerPoolID: pool, Retries: 2, RetryDelaySeconds: 5, ScriptModules: []string{"helpers"},
			Script: &model.ScriptAction{Syntax: model.SyntaxSh, Body: "echo build",
				Packages: []model.PackageReference{
					{Name: "image", PackageID: "acme/image", FeedID: lib.feed, Acquisition: model.AcquireNone},
					{Name: "base", PackageID: "acme.base", FeedID: feed, Acquisition: model.AcquireNone},
					{Name: "tool", PackageID: "acme.tool", Acquisition: model.AcquireOnServer, Extract: true},
				}}},
		{Name: "Migrate", RunOnServer: true, Disabled: true,
			Script: &model.ScriptAction{Syntax: model.SyntaxBash, FromPackage: &model.ScriptPackage{PackageID: "acme.db", FeedID: lib.feed,
				Acquisition: model.AcquireOnTarget, File: "scripts/migrate.sh", Arguments: "--fast", SubstituteFiles: []string{"*.conf"}}}},
		{Name: "Deploy", TargetRoles: []string{"web"}, MaxParallelism: 3, WindowSize: 2, Required: true,
			Environments: []string{envs["Dev"], envs["Production"]}, ExcludedEnvironments: []string{envs["Ops"]},
			Channels: []string{channel}, Condition: model.ConditionAlways,
			Package: &model.PackageAction{PackageID: "acme.web", FeedID: feed, Acquisition: model.AcquireOnServer,
				SubstituteFiles: []string{"web.config"}, StructuredConfigFiles: []string{"appsettings.json"},
				CustomInstallDir: "/srv/web", PurgeCustomInstallDir: true, CustomInstallExclude: []string{"logs/**"},
				PreDeploy: &model.ScriptAction{Syntax: model.SyntaxSh, Body: "echo pre"}, Deploy: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo deploy"},
				PostDeploy: &model.ScriptAction{Syntax: model.SyntaxPython, Body: "print('post')"}, DeployFailed: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo failed"},
				SkipPackageScripts: true, RetainInstallations: 3}},
		{Name: "Approve", StartWithPrevious: true, Condition: model.ConditionVariable, ConditionExpression: "#{if Approve}true#{/if}",
			Manual: &model.ManualAction{Instructions: "Check the site", ResponsibleTeams: []string{"Operators"}}},
		{Name: "Greet v1", Template: &model.StepTemplateRef{ID: lib.template, Version: 1,
			Parameters: map[string]string{"Greeting": "hello #{Colour}", "Token": "s3cret-v1"}}},
		{Name: "Greet", Template: &model.StepTemplateRef{ID: lib.template, Version: 2,
			Parameters: map[string]string{"Token": "s3cret-v2"}}},
		{Name: "Child", DeployRelease: &model.DeployReleaseAction{ProjectID: child, Mode: model.DeployIfNewer,
			Variables: map[string]string{"Colour": "#{Colour}"}}},
		{Name: "Check", TargetRoles: []string{"web"}, HealthCheck: &model.HealthCheckAction{Type: model.HealthCheckConnection,
			OnError: model.HealthCheckSkip, IncludeNewTargets: true}},
		{Name: "Mail", Condition: model.ConditionFailure, Email: &model.EmailAction{To: []string{"ops@example.com", "#{Owner}"}, ToTeams: []string{lib.team},
			Cc: []string{"Lead <lead@example.com>"}, CcTeams: []string{lib.team}, Bcc: []string{"audit@example.com"}, BccTeams: []string{lib.team},
			Subject: "#{Octopus.Project.Name} failed", Body: "<p>#{Octopus.Deployment.Error}</p>", IsHTML: true}},
	}
}

// everyFieldSet fails for each exported field of a struct type reachable
// from v that no value reachable from v sets: a fixture that sets them all
// makes a field a conversion forgets (or one added later and not yet
// converted) show up as a difference. except names fields ("Type.Field")
// that must stay unset.
func everyFieldSet(t *testing.T, what string, v any, except ...string) {
	t.Helper()
	set := map[reflect.Type][]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Struct:
			seen, ok := set[v.Type()]
			if !ok {
				seen = make([]bool, v.NumField())
				set[v.Type()] = seen
			}
			for i := range v.NumField() {
				if !v.Type().Field(i).IsExported() {
					continue
				}
				if !v.Field(i).IsZero() {
					seen[i] = true
				}
				walk(v.Field(i))
			}
		}
	}
	walk(reflect.ValueOf(v))
	for typ, seen := range set {
		for i, ok := range seen {
			if f := typ.Field(i); f.IsExported() && !ok && !slices.Contains(except, typ.String()+"."+f.Name) {
				t.Errorf("%s: no value sets %s.%s; give the fixture one so the round trip covers it", what, typ.Name(), f.Name)
			}
		}
	}
}

// buildFull saves a project whose process and runbook both hold fullSteps,
// a child project they deploy, and what the steps name.
func buildFull(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	err := s.Tx(ctx, func(q *store.Queries) error {
		envs := map[string]string{}
		for _, name := range []string{"Dev", "Ops", "Production"} {
			e := model.Environment{Name: name}
			if err := q.CreateEnvironment(ctx, &e); err != nil {
				return err
			}
			envs[name] = e.ID
		}
		pool := model.WorkerPool{Name: "Builders"}
		if err := q.CreateWorkerPool(ctx, &pool); err != nil {
			return err
		}
		child := model.Project{Name: "child"}
		if err := q.CreateProject(ctx, &child); err != nil {
			return err
		}
		parent := model.Project{Name: "parent"}
		if err := q.CreateProject(ctx, &parent); err != nil {
			return err
		}
		hotfix := model.Channel{ProjectID: parent.ID, Name: "Hotfix"}
		if err := q.CreateChannel(ctx, &hotfix); err != nil {
			return err
		}
		feed := model.Feed{Name: "Artifacts", Type: model.FeedHTTP, URL: "http://files.example/pkgs", Username: "reader", Password: "feed-pw"}
		if err := q.CreateFeed(ctx, &feed); err != nil {
			return err
		}
		module := model.ScriptModule{Name: "helpers", Syntax: model.SyntaxBash, Body: "say() { echo \"$@\"; }"}
		if err := q.CreateScriptModule(ctx, &module); err != nil {
			return err
		}
		tmpl := model.StepTemplate{Name: "Greeter", Parameters: []model.StepTemplateParameter{
			{Name: "Greeting", DefaultValue: "hi"}, {Name: "Token", Control: model.ControlSensitive}},
			Script: &model.ScriptAction{Body: "echo v1 #{Greeting}"}}
		if err := q.CreateStepTemplate(ctx, &tmpl); err != nil {
			return err
		}
		tmpl.Script = &model.ScriptAction{Body: "echo v2 #{Greeting}", Packages: []model.PackageReference{
			{Name: "tool", PackageID: "acme/tool", FeedID: feed.ID, Acquisition: model.AcquireOnTarget}}}
		if err := q.UpdateStepTemplate(ctx, &tmpl); err != nil {
			return err
		}
		team := model.Team{Name: "Mail Ops"}
		if err := q.CreateTeam(ctx, &team); err != nil {
			return err
		}
		lib := library{feed: feed.ID, template: tmpl.ID, team: team.ID}
		d, err := q.GetProcess(ctx, parent.ID)
		if err != nil {
			return err
		}
		d.Steps = fullSteps(envs, pool.ID, hotfix.ID, child.ID, lib)
		if err := q.SaveProcess(ctx, &d); err != nil {
			return fmt.Errorf("save process: %w", err)
		}
		rb := model.Runbook{ProjectID: parent.ID, Name: "Restart", EnvironmentIDs: []string{envs["Ops"]},
			Steps: fullSteps(envs, pool.ID, hotfix.ID, child.ID, lib)}
		if err := q.CreateRunbook(ctx, &rb); err != nil {
			return fmt.Errorf("create runbook: %w", err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("build the source server: %v", err)
	}
}

// namedSteps reads the parent's process and runbook steps with every id
// replaced by the name it stands for, so two servers' steps compare.
func namedSteps(t *testing.T, s *store.Store) map[string][]model.Step {
	t.Helper()
	ctx := context.Background()
	q := s.Read()
	names := map[string]string{}
	envs, err := q.AllEnvironments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range envs {
		names[e.ID] = "environment " + e.Name
	}
	pools, _, err := q.ListWorkerPools(ctx, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pools {
		names[p.ID] = "pool " + p.Name
	}
	projects, _, err := q.ListProjects(ctx, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range projects {
		names[p.ID] = "project " + p.Name
	}
	parent, err := q.FindProject(ctx, "parent")
	if err != nil {
		t.Fatal(err)
	}
	channels, err := q.ListChannels(ctx, parent.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range channels {
		names[c.ID] = "channel " + c.Name
	}
	feeds, _, err := q.ListFeeds(ctx, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range feeds {
		names[f.ID] = "feed " + f.Name
	}
	names[model.BuiltInFeedID] = "the built-in feed"
	templates, _, err := q.ListStepTemplates(ctx, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range templates {
		names[tm.ID] = "step template " + tm.Name
	}
	teams, _, err := q.ListTeams(ctx, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range teams {
		names[tm.ID] = "team " + tm.Name
	}
	name := func(id string) string {
		if id == "" {
			return ""
		}
		n, ok := names[id]
		if !ok {
			t.Fatalf("id %q names nothing", id)
		}
		return n
	}
	rename := func(steps []model.Step) []model.Step {
		var out []model.Step
		for _, st := range steps {
			if st.ID == "" {
				t.Errorf("step %q has no id", st.Name)
			}
			st.ID = "step " + st.Name // ids are random per server; that there is one is what counts
			st.WorkerPoolID = name(st.WorkerPoolID)
			for _, l := range []*[]string{&st.Environments, &st.ExcludedEnvironments, &st.Channels} {
				*l = slices.Clone(*l)
				for i := range *l {
					(*l)[i] = name((*l)[i])
				}
			}
			// Feeds and templates by name, sealed values opened: each
			// server seals with its own key.
			st = clone(t, st)
			if sc := st.Script; sc != nil {
				if sc.FromPackage != nil {
					sc.FromPackage.FeedID = name(sc.FromPackage.FeedID)
				}
				for i := range sc.Packages {
					sc.Packages[i].FeedID = name(sc.Packages[i].FeedID)
				}
			}
			if st.Package != nil {
				st.Package.FeedID = name(st.Package.FeedID)
			}
			if tr := st.Template; tr != nil {
				tr.ID = name(tr.ID)
				for k, v := range tr.Sensitive {
					if tr.Sensitive[k], err = q.OpenSealed(v); err != nil {
						t.Fatalf("step %q: open %s: %v", st.Name, k, err)
					}
				}
			}
			if e := st.Email; e != nil {
				for _, l := range [][]string{e.ToTeams, e.CcTeams, e.BccTeams} {
					for i := range l {
						l[i] = name(l[i])
					}
				}
			}
			if dr := st.DeployRelease; dr != nil {
				c := *dr
				c.ProjectID = name(c.ProjectID)
				st.DeployRelease = &c
			}
			out = append(out, st)
		}
		return out
	}
	d, err := q.GetProcess(ctx, parent.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]model.Step{"process": rename(d.Steps)}
	runbooks, err := q.ListRunbooks(ctx, parent.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, rb := range runbooks {
		out["runbook "+rb.Name] = rename(rb.Steps)
	}
	return out
}

// TestEveryStepFieldSurvivesExportAndImport saves steps that set every
// field, in a process and in a runbook, and moves them to a fresh server by
// a plain export and apply, and by an archive's export and import: the
// fresh server holds the same steps, and exporting it gives the same
// document.
func TestEveryStepFieldSurvivesExportAndImport(t *testing.T) {
	eachStore(t, func(t *testing.T, src *store.Store) {
		ctx := context.Background()
		sealedStore(t, src)
		buildFull(t, src)
		want := namedSteps(t, src)
		if len(want) != 2 {
			t.Fatalf("the source holds %d step lists, want the process and one runbook", len(want))
		}
		for what, steps := range want {
			everyFieldSet(t, what, steps)
		}
		// A plain file carries no secrets: applied to a fresh server, the
		// template steps' sensitive values are missing.
		wantPlain := map[string][]model.Step{}
		for k, steps := range want {
			for _, st := range steps {
				st = clone(t, st)
				if st.Template != nil {
					st.Template.Sensitive = nil
				}
				wantPlain[k] = append(wantPlain[k], st)
			}
		}
		// In the document feeds go by name, never by id, and a package
		// step's scripts take no packages.
		docExcept := []string{"model.PackageAction.FeedID", "model.ScriptPackage.FeedID", "model.PackageReference.FeedID",
			"model.ScriptAction.FromPackage", "model.ScriptAction.Packages"}
		for _, way := range []struct {
			name   string
			want   map[string][]model.Step
			export func(q *store.Queries) (*confdoc.Document, error)
			apply  func(s *store.Store, doc *confdoc.Document) error
		}{
			{"plain", wantPlain, func(q *store.Queries) (*confdoc.Document, error) { return apply.Export(ctx, q) },
				func(s *store.Store, doc *confdoc.Document) error {
					_, err := apply.Apply(ctx, s, doc, false)
					return err
				}},
			{"archive", want, func(q *store.Queries) (*confdoc.Document, error) {
				return apply.ExportSelection(ctx, q, apply.Selection{Projects: []string{"parent"}})
			}, func(s *store.Store, doc *confdoc.Document) error {
				_, err := apply.Import(ctx, s, doc, apply.ImportOptions{})
				return err
			}},
		} {
			t.Run(way.name, func(t *testing.T) {
				doc, err := way.export(src.Read())
				if err != nil {
					t.Fatalf("export: %v", err)
				}
				// Through the text, as a file or an archive carries it.
				text, err := doc.YAML()
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range doc.Projects {
					if p.Name != "parent" {
						continue
					}
					everyFieldSet(t, "the exported process", p.Steps, docExcept...)
					for _, rb := range p.Runbooks {
						everyFieldSet(t, "the exported runbook "+rb.Name, rb.Steps, docExcept...)
					}
				}
				// Applied back to the server it came from, it changes nothing.
				if res, err := apply.Apply(ctx, src, parse(t, string(text)), true); err != nil || res.Changed() != 0 {
					t.Errorf("the export applied to its own server: %v, changes %q", err, actions(res))
				}
				fresh, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
				if err != nil {
					t.Fatal(err)
				}
				defer fresh.Close()
				sealedStore(t, fresh)
				// Teams are not in documents: a step naming one the
				// server lacks is refused, saying so.
				if err := way.apply(fresh, parse(t, string(text))); err == nil || !strings.Contains(err.Error(), `email.toTeams: team "Mail Ops" does not exist on the server`) {
					t.Fatalf("applied without the team: %v", err)
				}
				if err := fresh.Tx(ctx, func(q *store.Queries) error {
					for _, name := range []string{"Other", "Mail Ops"} { // other ids than the source's
						if err := q.CreateTeam(ctx, &model.Team{Name: name}); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if err := way.apply(fresh, parse(t, string(text))); err != nil {
					t.Fatalf("apply the export to a fresh server: %v\n%s", err, text)
				}
				if got := namedSteps(t, fresh); !reflect.DeepEqual(got, way.want) {
					t.Errorf("the fresh server's steps differ:\n got %s\nwant %s", dump(got), dump(way.want))
				}
				again, err := way.export(fresh.Read())
				if err != nil {
					t.Fatal(err)
				}
				againText, err := again.YAML()
				if err != nil {
					t.Fatal(err)
				}
				if string(againText) != string(text) {
					t.Errorf("exporting the fresh server gives another document:\n%s\nthe source's:\n%s", againText, text)
				}
			})
		}
	})
}

func dump(v map[string][]model.Step) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(v)) {
		fmt.Fprintf(&b, "\n%s:", k)
		for _, s := range v[k] {
			fmt.Fprintf(&b, "\n  %+v", s)
		}
	}
	return b.String()
}

func clone[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

func TestReleasesTakePackageVersionsFromExternalFeeds(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		ctx := context.Background()
		p := model.Project{Name: "shop"}
		tx(t, s, func(q *store.Queries) error {
			if err := q.CreateProject(ctx, &p); err != nil {
				return err
			}
			for _, f := range []model.Feed{ // Feeds-1 and Feeds-2
				{Name: "Nexus", Type: model.FeedMaven, URL: "https://nexus.example.com/maven/"},
				{Name: "Registry", Type: model.FeedDocker, URL: "https://registry.example.com"},
			} {
				if err := q.CreateFeed(ctx, &f); err != nil {
					return err
				}
			}
			proc := model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{
				{Name: "Deploy app", Package: &model.PackageAction{PackageID: "com.shop:app", FeedID: "Feeds-1"}},
				{Name: "Run container", Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo #{Octopus.Action.Package[web].Image}",
					// A feed may be named: the step keeps its id.
					Packages: []model.PackageReference{{Name: "web", PackageID: "shop/web", FeedID: "Registry", Acquisition: model.AcquireNone}}}},
			}}
			if err := q.SaveProcess(ctx, &proc); err != nil {
				return err
			}
			c := model.Channel{ProjectID: p.ID, Name: "Stable", Rules: []model.ChannelRule{{Packages: []string{"com.shop:app"}, VersionRange: "[1.0,2.0)"}}}
			return q.CreateChannel(ctx, &c)
		})
		feeds := func(app, web store.FeedVersionList) store.FeedVersions {
			return store.FeedVersions{{FeedID: "Feeds-1", PackageID: "com.shop:app"}: app, {FeedID: "Feeds-2", PackageID: "shop/web"}: web}
		}
		versions := func(v ...string) store.FeedVersionList { return store.FeedVersionList{Feed: "Nexus", Versions: v} }
		chosen := func(r model.Release) map[string]string {
			out := map[string]string{}
			for _, rp := range r.Packages {
				out[rp.StepName+"/"+rp.Reference+"@"+rp.FeedID] = rp.Version
			}
			return out
		}

		t.Run("the newest version the channel takes, by default", func(t *testing.T) {
			r := model.Release{ProjectID: p.ID, Version: "1.0.0"}
			tx(t, s, func(q *store.Queries) error {
				return q.CreateReleaseFrom(ctx, &r, feeds(versions("2.0.0", "1.5.0", "1.4.0"), versions("3.1", "latest")))
			})
			got := chosen(r)
			if got["Deploy app/@Feeds-1"] != "1.5.0" || got["Run container/web@Feeds-2"] != "3.1" || len(got) != 2 {
				t.Fatalf("chosen versions: %v", got)
			}
		})
		t.Run("versions asked for by package id and by step:reference", func(t *testing.T) {
			r := model.Release{ProjectID: p.ID, Version: "1.0.1", Packages: []model.ReleasePackage{
				{PackageID: "com.shop:app", Version: "1.4.0"}, {PackageID: "Run container:web", Version: "latest"}}}
			tx(t, s, func(q *store.Queries) error {
				return q.CreateReleaseFrom(ctx, &r, feeds(versions("2.0.0", "1.5.0", "1.4.0"), versions("3.1", "latest")))
			})
			if got := chosen(r); got["Deploy app/@Feeds-1"] != "1.4.0" || got["Run container/web@Feeds-2"] != "latest" {
				t.Fatalf("chosen versions: %v", got)
			}
		})

		refusals := []struct {
			name  string
			ask   []model.ReleasePackage
			feeds store.FeedVersions
			want  string
		}{
			{"a version the feed does not have", []model.ReleasePackage{{PackageID: "web", Version: "9.9"}},
				feeds(versions("1.5.0"), versions("3.1")), `refers to package shop/web as web from feed Nexus: the feed has no version 9.9 (newest: 3.1)`},
			{"a feed that cannot be read", nil,
				feeds(versions("1.5.0"), store.FeedVersionList{Feed: "Hub", Err: errors.New("401 Unauthorized: check the feed's credentials")}),
				`from feed Hub: 401 Unauthorized: check the feed's credentials`},
			{"no version the channel takes", nil,
				feeds(versions("2.1.0", "2.0.0"), versions("3.1")), `no version in the feed fits channel Stable (newest: 2.1.0)`},
			{"an asked version outside the channel", []model.ReleasePackage{{PackageID: "com.shop:app", Version: "2.0.0"}},
				feeds(versions("2.0.0", "1.5.0"), versions("3.1")), `com.shop:app 2.0.0 is outside [1.0,2.0)`},
			{"versions not read before the transaction", nil,
				store.FeedVersions{}, `its versions were not read`},
		}
		if proc, _ := s.Read().GetProcess(ctx, p.ID); proc.Steps[1].Script.Packages[0].FeedID != "Feeds-2" {
			t.Fatalf("a feed named in a step is kept by id: %+v", proc.Steps[1].Script.Packages[0])
		}
		for _, c := range refusals {
			t.Run(c.name, func(t *testing.T) {
				r := model.Release{ProjectID: p.ID, Version: "5.0.0", Packages: c.ask}
				err := mustFail(t, s, nil, func(q *store.Queries) error { return q.CreateReleaseFrom(ctx, &r, c.feeds) })
				var ve *model.ValidationError
				if !errors.As(err, &ve) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("want a validation error containing %q, got %v", c.want, err)
				}
				if _, err := s.Read().FindRelease(ctx, p.ID, "5.0.0"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("a refused release was stored: %v", err)
				}
			})
		}
	})
}

func TestAProcessNamesFeedsThatExistAndFitTheStep(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		ctx := context.Background()
		p := model.Project{Name: "shop"}
		tx(t, s, func(q *store.Queries) error {
			if err := q.CreateProject(ctx, &p); err != nil {
				return err
			}
			return q.CreateFeed(ctx, &model.Feed{Name: "Registry", Type: model.FeedDocker, URL: "https://registry.example.com"})
		})
		cases := []struct {
			name string
			step model.Step
			want string
		}{
			{"a feed that does not exist", model.Step{Name: "a", Package: &model.PackageAction{PackageID: "app", FeedID: "Feeds-9"}},
				`steps[0].package.feedId: feed "Feeds-9" does not exist`},
			{"an image as a package step's package", model.Step{Name: "a", Package: &model.PackageAction{PackageID: "team/web", FeedID: "Registry"}},
				"feed Registry is a container registry"},
			{"an image holding a script", model.Step{Name: "a", Script: &model.ScriptAction{FromPackage: &model.ScriptPackage{PackageID: "team/web", FeedID: "Registry", File: "x.sh"}}},
				"steps[0].script.fromPackage.feedId: feed Registry is a container registry"},
			{"a reference to a feed that does not exist", model.Step{Name: "a", Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo",
				Packages: []model.PackageReference{{Name: "x", PackageID: "x", FeedID: "Nope"}}}}, `steps[0].script.packages[0].feedId: feed "Nope" does not exist`},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				err := mustFail(t, s, nil, func(q *store.Queries) error {
					proc, err := q.GetProcess(ctx, p.ID)
					if err != nil {
						return err
					}
					proc.Steps = []model.Step{c.step}
					return q.SaveProcess(ctx, &proc)
				})
				if !isValidation(err) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("want a validation error containing %q, got %v", c.want, err)
				}
			})
		}
	})
}

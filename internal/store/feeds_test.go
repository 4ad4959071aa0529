package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

func TestFeeds(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		ctx := context.Background()
		box, _ := secrets.New(secrets.NewKey())
		s.SetSealer(box)

		nexus := model.Feed{Name: "Nexus", Type: model.FeedMaven, URL: "https://nexus.example.com/repository/maven-releases/", Username: "ci", Password: "s3cret"}
		tx(t, s, func(q *store.Queries) error { return q.CreateFeed(ctx, &nexus) })
		if nexus.ID == "" || nexus.Password != "" || !nexus.HasPassword {
			t.Fatalf("created: %+v", nexus)
		}
		hub := model.Feed{Name: "Docker Hub", Type: model.FeedDocker, URL: "https://index.docker.io"}
		tx(t, s, func(q *store.Queries) error { return q.CreateFeed(ctx, &hub) })
		gh := model.Feed{Name: "GitHub", Type: model.FeedGitHub}
		tx(t, s, func(q *store.Queries) error { return q.CreateFeed(ctx, &gh) })
		if gh.URL != model.GitHubAPIURL {
			t.Errorf("a GitHub feed without a URL reads %q", gh.URL)
		}

		// Names are unique, case aside.
		err := mustFail(t, s, store.ErrConflict, func(q *store.Queries) error {
			return q.CreateFeed(ctx, &model.Feed{Name: "nexus", Type: model.FeedHTTP, URL: "http://files.example.com/"})
		})
		if !strings.Contains(err.Error(), "already exists") {
			t.Errorf("duplicate name: %v", err)
		}
		// Invalid feeds say what to fix.
		for _, bad := range []model.Feed{
			{Name: "x", Type: "svn", URL: "https://a"},
			{Name: "x", Type: model.FeedNuGet, URL: "https://nuget.example.com/feed"},
			{Name: "x", Type: model.FeedDocker, URL: "ftp://registry"},
			{Name: "x", Type: model.FeedBuiltIn, URL: "https://a"},
		} {
			if err := mustFail(t, s, nil, func(q *store.Queries) error { return q.CreateFeed(ctx, &bad) }); !isValidation(err) {
				t.Errorf("%+v: %v", bad, err)
			}
		}

		q := s.Read()
		list, total, err := q.ListFeeds(ctx, store.ListOptions{})
		if err != nil || total != 3 || list[0].Name != "Docker Hub" || list[2].Name != "Nexus" {
			t.Fatalf("list: %+v %d %v", list, total, err)
		}
		for _, f := range list {
			if f.Password != "" {
				t.Errorf("list returns a password: %+v", f)
			}
		}
		got, err := q.GetFeed(ctx, "nexus")
		if err != nil || got.ID != nexus.ID || got.Password != "" || !got.HasPassword || got.Username != "ci" {
			t.Fatalf("get by name: %+v %v", got, err)
		}
		_, pw, err := q.FeedWithPassword(ctx, nexus.ID)
		if err != nil || pw != "s3cret" {
			t.Fatalf("password: %q %v", pw, err)
		}
		if _, err := q.GetFeed(ctx, "Feeds-999"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing feed: %v", err)
		}

		// An update without a password keeps the stored one; with one, replaces it.
		got.URL = "https://nexus2.example.com/repository/maven-releases/"
		tx(t, s, func(q *store.Queries) error { return q.UpdateFeed(ctx, &got) })
		if _, pw, _ := s.Read().FeedWithPassword(ctx, nexus.ID); pw != "s3cret" || got.URL != "https://nexus2.example.com/repository/maven-releases/" {
			t.Errorf("after an update without a password: %q %+v", pw, got)
		}
		got.Password = "changed"
		tx(t, s, func(q *store.Queries) error { return q.UpdateFeed(ctx, &got) })
		if _, pw, _ := s.Read().FeedWithPassword(ctx, nexus.ID); pw != "changed" || got.Password != "" {
			t.Errorf("after an update with a password: %q %+v", pw, got)
		}
		got.Name = "GitHub"
		mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { return q.UpdateFeed(ctx, &got) })

		// The built-in feed is no row to change.
		builtin := model.BuiltInFeed()
		builtin.Type = model.FeedHTTP
		builtin.URL = "https://x"
		var refused *model.RefusedError
		if err := mustFail(t, s, nil, func(q *store.Queries) error { return q.UpdateFeed(ctx, &builtin) }); !errors.As(err, &refused) {
			t.Errorf("update the built-in feed: %v", err)
		}
		if err := mustFail(t, s, nil, func(q *store.Queries) error { return q.DeleteFeed(ctx, model.BuiltInFeedID) }); !errors.As(err, &refused) {
			t.Errorf("delete the built-in feed: %v", err)
		}

		// A feed a process takes packages from stays until the step changes.
		var web model.Project
		tx(t, s, func(q *store.Queries) error {
			web = model.Project{Name: "web"}
			if err := q.CreateProject(ctx, &web); err != nil {
				return err
			}
			return q.SaveProcess(ctx, &model.DeploymentProcess{ProjectID: web.ID, Steps: []model.Step{{Name: "Install",
				Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "docker run #{Octopus.Action.Package[web].Image}",
					Packages: []model.PackageReference{{Name: "web", PackageID: "team/web", FeedID: hub.ID, Acquisition: model.AcquireNone}}}}}})
		})
		err = mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { return q.DeleteFeed(ctx, hub.ID) })
		if !strings.Contains(err.Error(), "project web (step Install)") {
			t.Errorf("delete a feed in use: %v", err)
		}
		tx(t, s, func(q *store.Queries) error {
			d, err := q.GetProcess(ctx, web.ID)
			if err != nil {
				return err
			}
			d.Steps[0].Script.Packages[0].FeedID, d.Steps[0].Script.Packages[0].PackageID = "", "web"
			return q.SaveProcess(ctx, &d)
		})
		tx(t, s, func(q *store.Queries) error { return q.DeleteFeed(ctx, "Docker Hub") })
		mustFail(t, s, store.ErrNotFound, func(q *store.Queries) error { return q.DeleteFeed(ctx, hub.ID) })

		// Rotation re-seals the password.
		box2, _ := secrets.New(secrets.NewKey())
		var n int
		tx(t, s, func(q *store.Queries) (err error) { n, err = q.RotateSecrets(ctx, box, box2); return err })
		if n != 1 {
			t.Errorf("rotation re-sealed %d values, want the one password", n)
		}
		s.SetSealer(box2)
		if _, pw, err := s.Read().FeedWithPassword(ctx, nexus.ID); pw != "changed" || err != nil {
			t.Errorf("after rotation: %q %v", pw, err)
		}
		s.SetSealer(box)
		if _, _, err := s.Read().FeedWithPassword(ctx, nexus.ID); err == nil {
			t.Error("the old key still opens the password")
		}
	})
}

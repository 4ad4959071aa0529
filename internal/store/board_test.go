package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

func TestBuildInformationIsPushedLikeAPackage(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, _ *clock) {
		ctx := context.Background()
		push := func(b model.BuildInformation, mode string) (model.BuildInformation, bool, error) {
			var existed bool
			err := s.Tx(ctx, func(q *store.Queries) (err error) { existed, err = q.PushBuildInformation(ctx, &b, mode); return })
			return b, existed, err
		}
		first, existed, err := push(model.BuildInformation{PackageID: "Web", Version: "1.0.0", BuildURL: "https://ci.example/b/1",
			Commits:   []model.Commit{{ID: "abc123", Comment: "Fix login"}},
			WorkItems: []model.WorkItem{{ID: "WEB-1", Title: "Login fails", URL: "https://issues.example/WEB-1"}}}, "")
		if err != nil || existed || first.ID == "" {
			t.Fatalf("first push: %v %v %+v", err, existed, first)
		}
		if _, _, err := push(model.BuildInformation{PackageID: "web", Version: "1.0.0"}, store.BuildInfoFailIfExists); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a second push without overwrite: %v", err)
		}
		kept, existed, err := push(model.BuildInformation{PackageID: "web", Version: "1.0.0", BuildURL: "https://ci.example/b/2"}, store.BuildInfoIgnoreIfExists)
		if err != nil || !existed || kept.BuildURL != "https://ci.example/b/1" {
			t.Fatalf("ignore if exists keeps the old: %v %v %+v", err, existed, kept)
		}
		if _, existed, err := push(model.BuildInformation{PackageID: "web", Version: "1.0.0", BuildURL: "https://ci.example/b/3"}, store.BuildInfoOverwriteExisting); err != nil || !existed {
			t.Fatalf("overwrite: %v %v", err, existed)
		}
		got, err := s.Read().FindBuildInformation(ctx, "WEB", "1.0.0")
		if err != nil || got.BuildURL != "https://ci.example/b/3" || len(got.WorkItems) != 0 {
			t.Fatalf("after overwrite: %v %+v", err, got)
		}
		for _, bad := range []model.BuildInformation{
			{PackageID: "web", Version: "not a version"},
			{PackageID: "web", Version: "2.0.0", WorkItems: []model.WorkItem{{ID: "X", URL: "javascript:alert(1)"}}},
			{PackageID: "web", Version: "2.0.0", WorkItems: []model.WorkItem{{Title: "no id"}}},
			{PackageID: "web", Version: "2.0.0", BuildURL: "ftp://ci"},
		} {
			if _, _, err := push(bad, ""); !isValidation(err) {
				t.Errorf("%+v: want a validation error, got %v", bad, err)
			}
		}
		if _, _, err := push(model.BuildInformation{PackageID: "web", Version: "2.0.0"}, "Sometimes"); !isValidation(err) {
			t.Errorf("an unknown mode: %v", err)
		}
		list, total, err := s.Read().ListBuildInformation(ctx, "web", store.ListOptions{})
		if err != nil || total != 1 || len(list) != 1 {
			t.Fatalf("list: %v %d %+v", err, total, list)
		}
	})
}

// deployTo runs a deployment through the task table by hand: claimed,
// optionally stopped at a manual intervention someone answers, and
// finished in the given state (or left running when state is "").
func deployTo(t *testing.T, s *store.Store, c *clock, p model.Project, r model.Release, env model.Environment, approver string, state model.TaskState) model.Deployment {
	t.Helper()
	ctx := context.Background()
	d := queueDeployment(t, s, p, r, env)
	var claims []store.Claim
	tx(t, s, func(q *store.Queries) (err error) { claims, err = q.ClaimTasks(ctx, "node", 1, time.Minute); return })
	if len(claims) != 1 || claims[0].Task.ID != d.TaskID {
		t.Fatalf("claim %s: %+v", d.TaskID, claims)
	}
	lease := claims[0].Lease
	if approver != "" {
		i := model.Interruption{Kind: model.InterruptionManual, ActivityID: 1, Title: "Approve", Instructions: "Look",
			Answers: []string{model.AnswerProceed, model.AnswerAbort}}
		tx(t, s, func(q *store.Queries) error { return q.CreateInterruption(ctx, lease, &i) })
		tx(t, s, func(q *store.Queries) error {
			_, err := q.AnswerInterruption(ctx, i.ID, approver, "Proceed", "")
			return err
		})
	}
	c.Advance(time.Minute)
	if state != "" {
		tx(t, s, func(q *store.Queries) error { return q.FinishTask(ctx, lease, state, "") })
	}
	return d
}

func TestReleaseBoardShowsWhatIsLiveWhere(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, c *clock) {
		ctx := context.Background()
		envs := createEnvs(t, s, "Dev", "Test")
		dev, test := envs[0], envs[1]
		p := model.Project{Name: "web"}
		tx(t, s, func(q *store.Queries) error {
			if err := q.CreateProject(ctx, &p); err != nil {
				return err
			}
			proc := model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Deploy", TargetRoles: []string{"web"}, Package: &model.PackageAction{PackageID: "web"}}}}
			if err := q.SaveProcess(ctx, &proc); err != nil {
				return err
			}
			for _, v := range []string{"1.0.0", "1.1.0"} {
				if _, err := q.PutPackage(ctx, &model.Package{PackageID: "web", Version: v, Extension: ".tar.gz"}, false); err != nil {
					return err
				}
			}
			_, err := q.PushBuildInformation(ctx, &model.BuildInformation{PackageID: "web", Version: "1.0.0",
				WorkItems: []model.WorkItem{{ID: "WEB-1", Title: "Login fails", URL: "https://issues.example/WEB-1"}}}, "")
			return err
		})
		other := newProjectWithStep(t, s, "api")
		r1 := model.Release{ProjectID: p.ID, Version: "1.0.0", Notes: "**First** release", Packages: []model.ReleasePackage{{PackageID: "web", Version: "1.0.0"}},
			WorkItems: []model.WorkItem{{ID: "REQ-7", Title: "Customers can log in", URL: "https://issues.example/REQ-7"}, {ID: "web-1", Title: "duplicate of the build's"}}}
		tx(t, s, func(q *store.Queries) error { return q.CreateRelease(ctx, &r1) })
		// A later push changes nothing in the release made before.
		tx(t, s, func(q *store.Queries) error {
			_, err := q.PushBuildInformation(ctx, &model.BuildInformation{PackageID: "web", Version: "1.0.0",
				WorkItems: []model.WorkItem{{ID: "WEB-99", Title: "later"}}}, store.BuildInfoOverwriteExisting)
			return err
		})
		got, err := s.Read().GetRelease(ctx, r1.ID)
		if err != nil || len(got.WorkItems) != 2 || got.WorkItems[0].ID != "REQ-7" || got.WorkItems[0].Source != model.WorkItemFromRelease ||
			got.WorkItems[1].ID != "web-1" {
			t.Fatalf("the release's work items: %v %+v", err, got.WorkItems)
		}
		bad := model.Release{ProjectID: p.ID, Version: "1.0.5", WorkItems: []model.WorkItem{{ID: "X", URL: "javascript:alert(1)"}}}
		if err := mustFail(t, s, nil, func(q *store.Queries) error { return q.CreateRelease(ctx, &bad) }); !isValidation(err) {
			t.Fatalf("a work item with a script link: %v", err)
		}
		r2 := model.Release{ProjectID: p.ID, Version: "1.1.0"}
		tx(t, s, func(q *store.Queries) error { return q.CreateRelease(ctx, &r2) })

		deployTo(t, s, c, p, r1, dev, "alice", model.TaskSuccess)
		devLive := c.Now()
		deployTo(t, s, c, p, r1, test, "", model.TaskSuccess)
		testLive := c.Now()
		deployTo(t, s, c, p, r2, dev, "", "") // under way

		b, err := s.Read().ReleaseBoard(ctx, store.BoardFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Environments) != 2 || b.Environments[0].Name != "Dev" || b.Environments[1].Name != "Test" {
			t.Fatalf("environments: %+v", b.Environments)
		}
		if len(b.Groups) != 1 || len(b.Groups[0].Projects) != 2 || b.Groups[0].Projects[0].Name != "api" || b.Groups[0].Projects[1].Name != "web" {
			t.Fatalf("rows: %+v", b.Groups)
		}
		if api := b.Groups[0].Projects[0]; len(api.Cells) != 2 || api.Cells[0].Live != nil || api.Cells[0].Newer != nil {
			t.Fatalf("a project never deployed: %+v", api)
		}
		web := b.Groups[0].Projects[1]
		d, tc := web.Cells[0], web.Cells[1]
		if d.EnvironmentID != dev.ID || d.Live == nil || d.Live.Version != "1.0.0" || !d.Live.LiveSince.Equal(devLive) || d.Live.DeployedBy != "tester" ||
			strings.Join(d.Live.ApprovedBy, ",") != "alice" || d.Live.Notes != "**First** release" || len(d.Live.WorkItems) != 2 {
			t.Fatalf("dev: %+v", d.Live)
		}
		if d.Newer == nil || d.Newer.Version != "1.1.0" || d.Newer.Label() != "deploying" {
			t.Fatalf("dev's newer deployment: %+v", d.Newer)
		}
		if tc.Live == nil || tc.Live.Version != "1.0.0" || !tc.Live.LiveSince.Equal(testLive) || len(tc.Live.ApprovedBy) != 0 || tc.Newer != nil {
			t.Fatalf("test: %+v %+v", tc.Live, tc.Newer)
		}
		raw, _ := json.Marshal(b)
		if strings.Contains(string(raw), "echo ok") || strings.Contains(string(raw), "variableSnapshot") {
			t.Fatalf("the board carries a snapshot: %s", raw)
		}

		only, err := s.Read().ReleaseBoard(ctx, store.BoardFilter{EnvironmentID: test.ID, ProjectID: p.ID})
		if err != nil || len(only.Environments) != 1 || len(only.Groups) != 1 || len(only.Groups[0].Projects) != 1 || only.Groups[0].Projects[0].Cells[0].Live.Version != "1.0.0" {
			t.Fatalf("filtered: %v %+v", err, only)
		}
		// A reader who may see no deployment sees the rows, empty.
		none, err := s.Read().ReleaseBoard(ctx, store.BoardFilter{Deployments: &access.Filter{}, Project: func(id, _ string) bool { return id == p.ID }})
		if err != nil || len(none.Groups) != 1 || len(none.Groups[0].Projects) != 1 || none.Groups[0].Projects[0].Cells[0].Live != nil {
			t.Fatalf("no deployment visible: %v %+v", err, none)
		}
		_ = other

		// A failed newer deployment shows beside the live one.
		deployTo(t, s, c, p, r2, test, "", model.TaskFailed)
		b, _ = s.Read().ReleaseBoard(ctx, store.BoardFilter{ProjectID: p.ID})
		if tc := b.Groups[0].Projects[0].Cells[1]; tc.Live.Version != "1.0.0" || tc.Newer == nil || tc.Newer.Label() != "failed" {
			t.Fatalf("after a failure: %+v %+v", tc.Live, tc.Newer)
		}
	})
}

func TestBoardShareLinks(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store, c *clock) {
		ctx := context.Background()
		p := newProjectWithStep(t, s, "web")
		past := c.Now().Add(-time.Minute)
		if err := mustFail(t, s, nil, func(q *store.Queries) error {
			return q.CreateBoardShare(ctx, &model.BoardShare{Name: "old", ExpiresAt: &past}, "t0")
		}); !isValidation(err) {
			t.Fatalf("an expiry in the past: %v", err)
		}
		if err := mustFail(t, s, nil, func(q *store.Queries) error {
			return q.CreateBoardShare(ctx, &model.BoardShare{Name: "x", ProjectID: "Projects-404"}, "t0")
		}); !isValidation(err) {
			t.Fatalf("an unknown project: %v", err)
		}
		soon := c.Now().Add(time.Hour)
		expiring := model.BoardShare{Name: "For sales", ProjectID: p.ID, ExpiresAt: &soon, CreatedBy: "rm"}
		forever := model.BoardShare{Name: "Wall screen"}
		tx(t, s, func(q *store.Queries) error {
			if err := q.CreateBoardShare(ctx, &expiring, "token-one"); err != nil {
				return err
			}
			return q.CreateBoardShare(ctx, &forever, "token-two")
		})
		if got, err := s.Read().ActiveBoardShare(ctx, "token-one"); err != nil || got.ID != expiring.ID || got.ProjectID != p.ID {
			t.Fatalf("open: %v %+v", err, got)
		}
		if _, err := s.Read().ActiveBoardShare(ctx, "token-three"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an unknown token: %v", err)
		}
		c.Advance(2 * time.Hour)
		if _, err := s.Read().ActiveBoardShare(ctx, "token-one"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an expired link: %v", err)
		}
		if _, err := s.Read().ActiveBoardShare(ctx, "token-two"); err != nil {
			t.Fatalf("a link without expiry: %v", err)
		}
		tx(t, s, func(q *store.Queries) error { _, err := q.RevokeBoardShare(ctx, forever.ID, "rm"); return err })
		if _, err := s.Read().ActiveBoardShare(ctx, "token-two"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a revoked link: %v", err)
		}
		list, err := s.Read().ListBoardShares(ctx, nil)
		if err != nil || len(list) != 2 || list[0].ID != forever.ID || list[0].RevokedAt == nil || list[0].RevokedBy != "rm" {
			t.Fatalf("list: %v %+v", err, list)
		}
	})
}

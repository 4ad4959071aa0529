package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/server"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// offsetClock is the real time moved on by what a test adds, so share
// links expire without waiting.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}
func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// hookReceiver is a webhook endpoint on loopback that keeps the board
// events whose signature checks out, and counts those that do not.
type hookReceiver struct {
	secret string
	mu     sync.Mutex
	events []map[string]any
	bad    []string
	got    chan struct{}
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts, _ := strconv.ParseInt(r.Header.Get("X-Pulpo-Timestamp"), 10, 64)
	mac := hmac.New(sha256.New, []byte(h.secret))
	fmt.Fprintf(mac, "%d.", ts)
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	h.mu.Lock()
	defer h.mu.Unlock()
	if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Pulpo-Signature"))) {
		h.bad = append(h.bad, string(body))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev map[string]any
	json.Unmarshal(body, &ev)
	h.events = append(h.events, ev)
	select {
	case h.got <- struct{}{}:
	default:
	}
}

// boardCellOf finds a project's cell in an environment of a board.
func boardCellOf(b model.Board, project, env string) (model.BoardCell, bool) {
	col := -1
	for i, e := range b.Environments {
		if e.Name == env {
			col = i
		}
	}
	for _, g := range b.Groups {
		for _, p := range g.Projects {
			if p.Name == project && col >= 0 {
				return p.Cells[col], true
			}
		}
	}
	return model.BoardCell{}, false
}

func TestReleaseBoardAfterRealDeployments(t *testing.T) {
	eachDatabase(t, func(t *testing.T, _ *testServer) {
		dbURL := ""
		if strings.HasSuffix(t.Name(), "postgres") {
			dbURL = pg.Database(t)
		}
		clock := &offsetClock{}
		n, err := server.New(context.Background(), server.Config{DataDir: t.TempDir(), DatabaseURL: dbURL, AdminAPIKey: adminKey,
			NodeName: "test", Version: "test", Clock: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(n.Handler())
		t.Cleanup(func() { hs.CloseClientConnections(); hs.Close(); n.Close() })
		c, err := client.New(hs.URL, adminKey)
		if err != nil {
			t.Fatal(err)
		}
		s := &testServer{url: hs.URL, client: c}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}

		dev, err := c.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
		must(err)
		test, err := c.CreateEnvironment(ctx, model.Environment{Name: "Test"})
		must(err)
		var lc model.Lifecycle
		if st := admin(t, hs, "POST", "/api/v1/lifecycles", model.Lifecycle{Name: "Any order", Phases: []model.Phase{
			{Name: "All", ManualEnvironments: []string{dev.ID, test.ID}}}}, &lc); st != 201 {
			t.Fatalf("lifecycle: %d", st)
		}
		var shop model.ProjectGroup
		if st := admin(t, hs, "POST", "/api/v1/projectgroups", model.ProjectGroup{Name: "Shop"}, &shop); st != 201 {
			t.Fatalf("project group: %d", st)
		}
		web, err := c.CreateProject(ctx, model.Project{Name: "web", ProjectGroupID: shop.ID, LifecycleID: lc.ID})
		must(err)
		blog, err := c.CreateProject(ctx, model.Project{Name: "blog", LifecycleID: lc.ID})
		must(err)
		_, err = c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: web.ID, Steps: []model.Step{
			{Name: "Run", Script: &model.ScriptAction{FromPackage: &model.ScriptPackage{PackageID: "web", File: "run.sh"}}},
			{Name: "Approve", Environments: []string{test.ID}, Manual: &model.ManualAction{Instructions: "Check the shop"}}}})
		must(err)
		_, err = c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: blog.ID, Steps: []model.Step{
			{Name: "Run", Script: &model.ScriptAction{Body: "echo blog"}}}})
		must(err)
		// Values that must never reach the board, sensitive or not.
		secrets := []string{"hunter2-board-secret", "ultramarine-board-value", "blog-plain-value"}
		_, err = c.SaveVariables(ctx, model.VariableSet{OwnerID: web.ID, Variables: []model.Variable{
			{Name: "DbPassword", Value: secrets[0], Sensitive: true}, {Name: "Colour", Value: secrets[1]}}})
		must(err)
		_, err = c.SaveVariables(ctx, model.VariableSet{OwnerID: blog.ID, Variables: []model.Variable{{Name: "Theme", Value: secrets[2]}}})
		must(err)
		for _, v := range []string{"1.0.0", "1.1.0"} {
			pkg := tarGzOf(t, map[string]string{"run.sh": "echo deployed web " + v + "\n"})
			_, err := c.PushPackage(ctx, "web."+v+".tar.gz", bytes.NewReader(pkg), int64(len(pkg)), client.PushOptions{})
			must(err)
		}
		pushed, err := c.PushBuildInformation(ctx, model.BuildInformation{PackageID: "web", Version: "1.0.0", BuildURL: "https://ci.example/builds/41",
			Commits:   []model.Commit{{ID: "0a1b2c", Comment: "Fix the login"}},
			WorkItems: []model.WorkItem{{ID: "WEB-1", Title: "Login <b>fails</b> on Safari", URL: "https://issues.example/WEB-1"}}}, "")
		if err != nil || pushed.Outcome != "Created" {
			t.Fatalf("push build information: %v %+v", err, pushed)
		}
		if _, err := c.PushBuildInformation(ctx, model.BuildInformation{PackageID: "web", Version: "1.0.0"}, ""); clientStatus(err) != http.StatusConflict {
			t.Fatalf("a second push without overwrite: %v", err)
		}

		// Anna approves; she has an account and a key of her own.
		anna, err := c.CreateUser(ctx, wire.CreateUserRequest{Username: "anna", Password: "anna's long passphrase"})
		must(err)
		_, err = c.CreateTeam(ctx, model.Team{Name: "Release managers", MemberIDs: []string{anna.ID}, Roles: []model.RoleGrant{{RoleID: model.RoleProjectDeployer}}})
		must(err)
		annaKey, err := c.CreateAPIKey(ctx, anna.ID, wire.CreateAPIKeyRequest{Purpose: "approvals"})
		must(err)
		annaClient, err := client.New(hs.URL, annaKey.APIKey)
		must(err)

		hook := &hookReceiver{secret: "board-hook-secret", got: make(chan struct{}, 1)}
		hookServer := httptest.NewServer(hook)
		defer hookServer.Close()
		_, err = c.CreateSubscription(ctx, model.Subscription{Name: "Status page", Events: []model.EventKind{model.EventReleaseBoardUpdated},
			WebhookURL: hookServer.URL, Secret: hook.secret, ProjectIDs: []string{web.ID}})
		must(err)
		// A page meant for Test only gets Test's column.
		testHook := &hookReceiver{secret: "test-board-secret", got: make(chan struct{}, 1)}
		testHookServer := httptest.NewServer(testHook)
		defer testHookServer.Close()
		_, err = c.CreateSubscription(ctx, model.Subscription{Name: "Test status page", Events: []model.EventKind{model.EventReleaseBoardUpdated},
			WebhookURL: testHookServer.URL, Secret: testHook.secret, EnvironmentIDs: []string{test.ID}})
		must(err)

		r1, err := c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: web.ID, Version: "1.0.0", Packages: map[string]string{"web": "1.0.0"},
			Notes:     "Fixes <script>alert('notes')</script> the **login**",
			WorkItems: []model.WorkItem{{ID: "REQ-7", Title: "Customers can log in", URL: "https://issues.example/REQ-7"}}})
		must(err)
		if ids := workItemIDs(r1.Release.WorkItems); ids != "REQ-7,WEB-1" {
			t.Fatalf("the release's work items: %s", ids)
		}
		if _, err := c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: web.ID, Version: "1.0.9",
			WorkItems: []model.WorkItem{{ID: "X", URL: "javascript:alert(1)"}}}); clientStatus(err) != http.StatusBadRequest {
			t.Fatalf("a work item linking to a script: %v", err)
		}
		blogRel, err := c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: blog.ID, Version: "3.0.0"})
		must(err)

		deploy := func(rel model.Release, env model.Environment, approve bool) model.Task {
			t.Helper()
			d, err := c.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: rel.ID, EnvironmentID: env.ID})
			must(err)
			if approve {
				deadline := time.Now().Add(time.Minute)
				for {
					page, err := c.Interruptions(ctx, d.TaskID, true, client.ListOptions{})
					must(err)
					if len(page.Items) == 1 {
						_, err := annaClient.AnswerInterruption(ctx, page.Items[0].ID, wire.AnswerRequest{Answer: "Proceed"})
						must(err)
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("deployment %s never asked for approval", d.ID)
					}
					select {
					case <-ctx.Done():
						t.Fatal(ctx.Err())
					case <-time.After(50 * time.Millisecond):
					}
				}
			}
			end := follow(t, s, d.TaskID)
			if end.State != model.TaskSuccess {
				t.Fatalf("deploy %s to %s: %s %s", rel.Version, env.Name, end.State, end.Error)
			}
			return end
		}
		devFirst := deploy(r1.Release, dev, false)
		testTask := deploy(r1.Release, test, true)
		r2, err := c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: web.ID, Version: "1.1.0", Packages: map[string]string{"web": "1.1.0"}, Notes: "Faster pages"})
		must(err)
		devTask := deploy(r2.Release, dev, false)
		deploy(blogRel.Release, dev, false)
		if devFirst.CompletedAt == nil || devTask.CompletedAt == nil || testTask.CompletedAt == nil {
			t.Fatal("finished tasks without an end time")
		}

		b, err := c.ReleaseBoard(ctx, client.BoardFilter{})
		must(err)
		if len(b.Environments) != 2 || b.Environments[0].Name != "Dev" || b.Environments[1].Name != "Test" {
			t.Fatalf("environments: %+v", b.Environments)
		}
		tasks := map[string]model.Task{"Dev": devTask, "Test": testTask}
		for _, tc := range []struct {
			env, version, approver, items string
		}{
			{"Dev", "1.1.0", "", ""},
			{"Test", "1.0.0", "anna", "REQ-7,WEB-1"},
		} {
			cell, ok := boardCellOf(b, "web", tc.env)
			if !ok || cell.Live == nil {
				t.Fatalf("%s: no live release: %+v", tc.env, cell)
			}
			l := cell.Live
			if l.Version != tc.version || strings.Join(l.ApprovedBy, ",") != tc.approver || workItemIDs(l.WorkItems) != tc.items ||
				l.DeployedBy == "" || !l.LiveSince.Equal(*tasks[tc.env].CompletedAt) || cell.Newer != nil {
				t.Errorf("%s: %+v (want %s approved by %q with %q, live since %s)", tc.env, l, tc.version, tc.approver, tc.items, tasks[tc.env].CompletedAt)
			}
		}
		if cell, _ := boardCellOf(b, "blog", "Test"); cell.Live != nil {
			t.Errorf("blog was never deployed to Test: %+v", cell.Live)
		}
		if len(b.Groups) != 2 {
			t.Fatalf("groups: %+v", b.Groups)
		}

		noLeak := func(what, body string) {
			t.Helper()
			for _, v := range secrets {
				if strings.Contains(body, v) {
					t.Errorf("%s shows the variable value %q", what, v)
				}
			}
		}
		_, _, raw := s.call(t, "GET", "/api/v1/release-board", "", nil)
		noLeak("the board's JSON", string(raw))

		// The portal page, logged in.
		br := portalAdmin(t, hs)
		resp, page := br.do("GET", "/release-board", "", nil)
		html := string(page)
		if resp.StatusCode != 200 || !strings.Contains(html, "1.1.0") || !strings.Contains(html, "anna") || !strings.Contains(html, "REQ-7") {
			t.Fatalf("the board page: %d\n%s", resp.StatusCode, html)
		}
		noLeak("the board page", html)
		if strings.Contains(html, "<script>alert") || strings.Contains(html, "<b>fails</b>") || !strings.Contains(html, "&lt;script&gt;") ||
			!strings.Contains(html, "<strong>login</strong>") {
			t.Errorf("notes or work item titles are not escaped:\n%s", html)
		}

		// A share link for the web project only.
		var link wire.CreatedBoardShare
		if st := admin(t, hs, "POST", "/api/v1/release-board/shares", wire.CreateBoardShareRequest{Name: "Sales", ProjectID: web.ID}, &link); st != 201 || link.Token == "" {
			t.Fatalf("create share: %d %+v", st, link)
		}
		anon := func(path string) (int, string) {
			resp, err := http.Get(hs.URL + path)
			must(err)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		st, js := anon(link.APIPath)
		var shared model.Board
		json.Unmarshal([]byte(js), &shared)
		if st != 200 || len(shared.Groups) != 1 || len(shared.Groups[0].Projects) != 1 || shared.Groups[0].Projects[0].Name != "web" {
			t.Fatalf("the shared board: %d %s", st, js)
		}
		noLeak("the shared board's JSON", js)
		st, html = anon(link.Path)
		if st != 200 || !strings.Contains(html, "1.0.0") || !strings.Contains(html, "anna") || strings.Contains(html, "blog") || strings.Contains(html, "Log out") {
			t.Fatalf("the shared page: %d\n%s", st, html)
		}
		noLeak("the shared page", html)
		if strings.Contains(html, "<script>alert") || !strings.Contains(html, "&lt;b&gt;fails&lt;/b&gt;") {
			t.Errorf("the shared page does not escape:\n%s", html)
		}
		if st, _ := anon("/api/v1/release-board/shared/not-a-token"); st != 404 {
			t.Errorf("an unknown token: %d", st)
		}
		if st, _ := anon("/api/v1/release-board"); st != 401 {
			t.Errorf("the board without logging in: %d", st)
		}

		// Revoked: it stops at once.
		if st := admin(t, hs, "POST", "/api/v1/release-board/shares/"+link.Share.ID+"/revoke", nil, nil); st != 200 {
			t.Fatalf("revoke: %d", st)
		}
		if st, body := anon(link.APIPath); st != 404 || !strings.Contains(body, "revoked") {
			t.Errorf("a revoked link's JSON: %d %s", st, body)
		}
		if st, _ := anon(link.Path); st != 404 {
			t.Errorf("a revoked link's page: %d", st)
		}
		// Expired: after its time, by the server's clock.
		in := clock.Now().Add(time.Hour)
		var expiring wire.CreatedBoardShare
		if st := admin(t, hs, "POST", "/api/v1/release-board/shares", wire.CreateBoardShareRequest{Name: "Board for a day", ProjectGroupID: shop.ID, ExpiresAt: &in}, &expiring); st != 201 {
			t.Fatalf("create an expiring share: %d", st)
		}
		if st, _ := anon(expiring.Path); st != 200 {
			t.Fatalf("before its expiry: %d", st)
		}
		clock.Advance(2 * time.Hour)
		if st, _ := anon(expiring.APIPath); st != 404 {
			t.Errorf("an expired link's JSON: %d", st)
		}
		if st, _ := anon(expiring.Path); st != 404 {
			t.Errorf("an expired link's page: %d", st)
		}

		// The webhook got the board after each deployment of web, signed.
		waitForEvents := func(h *hookReceiver, n int) {
			t.Helper()
			deadline := time.After(time.Minute)
			for {
				h.mu.Lock()
				done := len(h.events) >= n
				h.mu.Unlock()
				if done {
					return
				}
				select {
				case <-h.got:
				case <-deadline:
					h.mu.Lock()
					t.Fatalf("webhook deliveries: %d good, bad: %v", len(h.events), h.bad)
				}
			}
		}
		waitForEvents(hook, 3)
		// The Test-only subscription heard of the one deployment to Test,
		// and its board has Test's column alone.
		waitForEvents(testHook, 1)
		testHook.mu.Lock()
		if len(testHook.events) != 1 || len(testHook.bad) > 0 {
			t.Errorf("the Test-only subscription's deliveries: %v, bad: %v", testHook.events, testHook.bad)
		}
		for _, e := range testHook.events {
			raw, _ := json.Marshal(e)
			var ev struct {
				Project struct {
					Cells []model.BoardCell `json:"cells"`
				} `json:"project"`
				Environments []model.BoardEnvironment `json:"environments"`
			}
			json.Unmarshal(raw, &ev)
			if len(ev.Environments) != 1 || ev.Environments[0].ID != test.ID || len(ev.Project.Cells) != 1 ||
				ev.Project.Cells[0].EnvironmentID != test.ID || ev.Project.Cells[0].Live == nil || ev.Project.Cells[0].Live.Version != "1.0.0" {
				t.Errorf("the Test-only board: %s", raw)
			}
		}
		testHook.mu.Unlock()
		hook.mu.Lock()
		defer hook.mu.Unlock()
		if len(hook.bad) > 0 {
			t.Errorf("deliveries with a wrong signature: %v", hook.bad)
		}
		// Deliveries may arrive in any order: one of them is the board after
		// the last deployment, with 1.1.0 in Dev and 1.0.0 (approved) in Test.
		var all []string
		found := false
		for _, e := range hook.events {
			raw, _ := json.Marshal(e)
			noLeak("the webhook's board", string(raw))
			all = append(all, string(raw))
			var ev struct {
				Event   string `json:"event"`
				Project struct {
					Name  string            `json:"name"`
					Cells []model.BoardCell `json:"cells"`
				} `json:"project"`
				Environments []model.BoardEnvironment `json:"environments"`
			}
			json.Unmarshal(raw, &ev)
			if ev.Event != string(model.EventReleaseBoardUpdated) || ev.Project.Name != "web" || len(ev.Project.Cells) != 2 || len(ev.Environments) != 2 {
				t.Errorf("a board event: %s", raw)
				continue
			}
			d, tc := ev.Project.Cells[0].Live, ev.Project.Cells[1].Live
			found = found || d != nil && d.Version == "1.1.0" && tc != nil && tc.Version == "1.0.0" && strings.Join(tc.ApprovedBy, ",") == "anna"
		}
		if !found {
			t.Errorf("no board event shows the last deployment:\n%s", strings.Join(all, "\n"))
		}
	})
}

func workItemIDs(items []model.WorkItem) string {
	var ids []string
	for _, w := range items {
		ids = append(ids, w.ID)
	}
	return strings.Join(ids, ",")
}

// clientStatus is the HTTP status of the client's error (0 when none).
func clientStatus(err error) int {
	var e *client.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

func TestReleaseBoardShowsOnlyWhatTheReaderMaySee(t *testing.T) {
	w := newWorld(t, start(t, ""))
	rows := func(user string) (int, []string) {
		t.Helper()
		st, raw := w.as(t, user, "GET", "/api/v1/release-board", "")
		var b model.Board
		json.Unmarshal(raw, &b)
		var names []string
		for _, g := range b.Groups {
			for _, p := range g.Projects {
				names = append(names, p.Name)
			}
		}
		return st, names
	}
	for _, tc := range []struct {
		user   string
		status int
		rows   string
	}{
		{"admin", 200, ""},
		{"shopviewer", 200, "shop"},
		{"blogsviewer", 200, "blog"},
		{"nobody", 403, ""},
	} {
		st, names := rows(tc.user)
		got := strings.Join(names, ",")
		if tc.user == "admin" {
			if st != 200 || len(names) != 2 {
				t.Errorf("admin: %d %s", st, got)
			}
			continue
		}
		if st != tc.status || got != tc.rows {
			t.Errorf("%s: %d %q, want %d %q", tc.user, st, got, tc.status, tc.rows)
		}
	}
	share := fmt.Sprintf(`{"name":"Sales","projectId":%q}`, w.shop.ID)
	if st, _ := w.as(t, "shopviewer", "POST", "/api/v1/release-board/shares", share); st != 403 {
		t.Errorf("a viewer shared the board: %d", st)
	}
	if st, _ := w.as(t, "lead", "POST", "/api/v1/release-board/shares", share); st != 201 {
		t.Errorf("a project lead could not share the board: %d", st)
	}
	if st, raw := w.as(t, "blogsviewer", "GET", "/api/v1/release-board/shares", ""); st != 200 || strings.Contains(string(raw), "Sales") {
		t.Errorf("a viewer of other projects sees the shop's link: %d %s", st, raw)
	}
}

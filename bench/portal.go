package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/server"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// portalDashboard measures the portal's dashboard with projects×envs
// cells, each holding a finished deployment: the whole page, and the grid
// fragment the page fetches every 2 s to stay live.
func portalDashboard(ctx context.Context, projects, envs, runs int) ([]Result, error) {
	data, err := os.MkdirTemp("", "pulpo-bench-portal-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(data)
	if err := seedDashboard(ctx, data, projects, envs); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	n, err := server.New(ctx, server.Config{DataDir: data, AdminAPIKey: key, NodeName: "bench", Version: "bench"})
	if err != nil {
		return nil, err
	}
	defer n.Close()
	hs := httptest.NewServer(n.Handler())
	defer hs.Close()
	// Log in as a browser does: a user with a password, and its session.
	password := "bench password 0123"
	if err := post(hs.URL+"/api/v1/users", key, fmt.Sprintf(`{"username":"viewer","password":%q,"isAdmin":true}`, password)); err != nil {
		return nil, err
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Post(hs.URL+"/api/v1/users/login", "application/json", strings.NewReader(fmt.Sprintf(`{"username":"viewer","password":%q}`, password)))
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("login: %s", resp.Status)
	}
	// The marker a browser holds after drawing the page: its polls while
	// nothing moves are answered 204.
	mresp, err := browser.Get(hs.URL + "/api/v1/dashboard/marker")
	if err != nil {
		return nil, err
	}
	var marker struct{ Marker string }
	json.NewDecoder(mresp.Body).Decode(&marker)
	mresp.Body.Close()
	var results []Result
	for _, target := range []struct{ name, path string }{
		{"portal: live grid poll while nothing moved (204)", "/?fragment=grid&marker=" + marker.Marker},
		{fmt.Sprintf("portal: dashboard page, %d projects × %d environments", projects, envs), "/"},
		{fmt.Sprintf("portal: dashboard live grid, %d × %d", projects, envs), "/?fragment=grid"},
		{fmt.Sprintf("API: dashboard JSON, %d × %d", projects, envs), "/api/v1/dashboard"},
		{"API: dashboard change marker (what the live grid asks first)", "/api/v1/dashboard/marker"},
	} {
		var times []time.Duration
		var size int
		for i := 0; i < runs+2; i++ {
			start := time.Now()
			resp, err := browser.Get(hs.URL + target.path)
			if err != nil {
				return nil, err
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 204 {
				// the idle poll: nothing to read
			} else if resp.StatusCode != 200 || !strings.Contains(string(body), "ell") && !strings.Contains(string(body), "marker") {
				return nil, fmt.Errorf("%s: %s", target.path, resp.Status)
			}
			if i >= 2 { // the first two warm up
				times = append(times, time.Since(start))
			}
			size = len(body)
		}
		r := summarize(times)
		r.Database, r.Scenario, r.Runs = "sqlite", fmt.Sprintf("%s (%d KiB)", target.name, size/1024), runs
		results = append(results, r)
	}
	return results, nil
}

func post(url, apiKey, body string) error {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s: %s %s", url, resp.Status, b)
	}
	return nil
}

// seedDashboard writes environments, projects, a release each and one
// finished deployment per cell straight into the store.
func seedDashboard(ctx context.Context, data string, projects, envs int) error {
	s, err := store.Open(ctx, store.Config{DataDir: data})
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Tx(ctx, func(q *store.Queries) error {
		var envIDs []model.Environment
		for i := 0; i < envs; i++ {
			e := model.Environment{Name: fmt.Sprintf("Env %02d", i+1)}
			if err := q.CreateEnvironment(ctx, &e); err != nil {
				return err
			}
			envIDs = append(envIDs, e)
		}
		lc := model.Lifecycle{Name: "Anywhere", Phases: []model.Phase{{Name: "All"}}}
		for _, e := range envIDs {
			lc.Phases[0].ManualEnvironments = append(lc.Phases[0].ManualEnvironments, e.ID)
		}
		if err := q.CreateLifecycle(ctx, &lc); err != nil {
			return err
		}
		for i := 0; i < projects; i++ {
			p := model.Project{Name: fmt.Sprintf("service-%03d", i+1), LifecycleID: lc.ID}
			if err := q.CreateProject(ctx, &p); err != nil {
				return err
			}
			proc := model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Run", Script: &model.ScriptAction{Body: "echo ok"}}}}
			if err := q.SaveProcess(ctx, &proc); err != nil {
				return err
			}
			rel := model.Release{ProjectID: p.ID, Version: "1.0.0"}
			if err := q.CreateRelease(ctx, &rel); err != nil {
				return err
			}
			for _, e := range envIDs {
				d := model.Deployment{ReleaseID: rel.ID, ProjectID: p.ID, EnvironmentID: e.ID, CreatedBy: "bench"}
				task := model.Task{Description: "seeded"}
				if err := q.CreateDeployment(ctx, &d, &task); err != nil {
					return err
				}
			}
		}
		claims, err := q.ClaimTasks(ctx, "seed", projects*envs, time.Hour)
		if err != nil {
			return err
		}
		for _, c := range claims {
			if err := q.FinishTask(ctx, c.Lease, model.TaskSuccess, ""); err != nil {
				return err
			}
		}
		return nil
	})
}

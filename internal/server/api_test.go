package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/confdoc"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/runner"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
	"github.com/pulpo-deploy/pulpo/internal/server"
	"github.com/pulpo-deploy/pulpo/internal/testutil/pgtest"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

var pg pgtest.Shared

func TestMain(m *testing.M) {
	scriptsvc.RunIfSupervisor()
	runner.RunIfRunner("test")
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

const adminKey = "API-TESTADMINKEY0123456789"

// testServer is an in-process node behind an httptest server.
type testServer struct {
	url    string
	client *client.Client
	close  func()
}

func start(t *testing.T, databaseURL string) *testServer {
	t.Helper()
	n, err := server.New(context.Background(), server.Config{DataDir: t.TempDir(), DatabaseURL: databaseURL,
		AdminAPIKey: adminKey, NodeName: "test", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, n)
}

// serve puts a node behind an httptest server; close (or the test's end)
// stops both.
func serve(t *testing.T, n *server.Node) *testServer {
	t.Helper()
	hs := httptest.NewServer(n.Handler())
	var once sync.Once
	stop := func() {
		once.Do(func() {
			hs.CloseClientConnections()
			hs.Close()
			n.Close()
		})
	}
	t.Cleanup(stop)
	c, err := client.New(hs.URL, adminKey)
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{url: hs.URL, client: c, close: stop}
}

// call sends a raw request and returns the status and decoded error body.
func (s *testServer) call(t *testing.T, method, path, body string, headers map[string]string) (int, wire.ErrorBody, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.url+path, r)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var eb wire.ErrorBody
	json.Unmarshal(raw, &eb)
	return resp.StatusCode, eb, raw
}

func eachDatabase(t *testing.T, test func(t *testing.T, s *testServer)) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			url := ""
			if dialect == "postgres" {
				url = pg.Database(t)
			}
			test(t, start(t, url))
		})
	}
}

func TestBadInputGetsAClearClientError(t *testing.T) {
	eachDatabase(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		dev, err := s.client.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
		if err != nil {
			t.Fatal(err)
		}
		empty, err := s.client.CreateProject(ctx, model.Project{Name: "empty"})
		if err != nil {
			t.Fatal(err)
		}
		withStep, _ := s.client.CreateProject(ctx, model.Project{Name: "web"})
		s.client.SaveProcess(ctx, model.DeploymentProcess{ProjectID: withStep.ID, Steps: []model.Step{{Name: "Run", Script: &model.ScriptAction{Body: "echo ok"}}}})
		rel, err := s.client.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: withStep.ID, Version: "1.0.0"})
		if err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name     string
			method   string
			path     string
			body     string
			headers  map[string]string
			status   int
			contains string // in the error or its details
		}{
			{"unknown field", "POST", "/api/v1/environments", `{"name":"Test","colour":"red"}`, nil, 400, `unknown field "colour"`},
			{"unknown field lists the allowed ones", "POST", "/api/v1/environments", `{"nom":"Test"}`, nil, 400, "allowed fields: description, id, name, sortOrder"},
			{"missing name", "POST", "/api/v1/environments", `{}`, nil, 400, "name: is required"},
			{"duplicate name ignoring case", "POST", "/api/v1/environments", `{"name":"dev"}`, nil, 409, `environment "dev" already exists`},
			{"project without a name", "POST", "/api/v1/projects", `{"description":"no name"}`, nil, 400, "name: is required"},
			{"project name taken ignoring case", "POST", "/api/v1/projects", `{"name":"WEB"}`, nil, 409, `project "WEB" already exists (` + withStep.ID + `); choose another name`},
			{"lifecycle without a name", "POST", "/api/v1/lifecycles", `{"phases":[{"name":"P","manualEnvironments":["` + dev.ID + `"]}]}`, nil, 400, "name: is required"},
			{"lifecycle name taken ignoring case", "POST", "/api/v1/lifecycles", `{"name":"default lifecycle"}`, nil, 409, `lifecycle "default lifecycle" already exists`},
			{"wrong type", "POST", "/api/v1/environments", `{"name": 5}`, nil, 400, `field "name" must be a string`},
			{"not JSON", "POST", "/api/v1/environments", `{"name":`, nil, 400, "not valid JSON"},
			{"empty body", "POST", "/api/v1/environments", ``, nil, 400, "request body is empty"},
			{"two values", "POST", "/api/v1/environments", `{"name":"a"}{"name":"b"}`, nil, 400, "more than one JSON value"},
			{"id chosen by the client", "POST", "/api/v1/environments", `{"id":"Environments-77","name":"X"}`, nil, 400, "id is assigned by the server"},
			{"release for a project without steps", "POST", "/api/v1/releases", `{"projectId":"` + empty.ID + `","version":"1.0.0"}`, nil, 400, "no enabled steps"},
			{"release for an unknown project", "POST", "/api/v1/releases", `{"projectId":"Projects-404"}`, nil, 400, `project "Projects-404" does not exist`},
			{"release with a bad version", "POST", "/api/v1/releases", `{"projectId":"` + withStep.ID + `","version":"v1"}`, nil, 400, "is not a version"},
			{"release version taken", "POST", "/api/v1/releases", `{"projectId":"` + withStep.ID + `","version":"1.0.0"}`, nil, 409, "already exists"},
			{"deployment to an unknown environment", "POST", "/api/v1/deployments", `{"releaseId":"` + rel.ID + `","environmentId":"Environments-404"}`, nil, 400, `environment "Environments-404" does not exist`},
			{"deployment without environment", "POST", "/api/v1/deployments", `{"releaseId":"` + rel.ID + `"}`, nil, 400, "environmentId: is required"},
			{"lifecycle with an unknown environment", "POST", "/api/v1/lifecycles", `{"name":"L","phases":[{"name":"P","manualEnvironments":["Environments-404"]}]}`, nil, 400, "does not exist"},
			{"project with an unknown lifecycle", "POST", "/api/v1/projects", `{"name":"p2","lifecycleId":"Lifecycles-404"}`, nil, 400, `lifecycle "Lifecycles-404" does not exist`},
			{"step with an unknown syntax", "PUT", "/api/v1/projects/" + empty.ID + "/process", `{"version":0,"steps":[{"name":"s","script":{"syntax":"cobol","body":"x"}}]}`, nil, 400, `"cobol" is not supported`},
			{"stale process version", "PUT", "/api/v1/projects/" + withStep.ID + "/process", `{"version":0,"steps":[]}`, nil, 409, "reload it"},
			{"variable scoped to an unknown environment", "PUT", "/api/v1/projects/" + withStep.ID + "/variables", `{"version":0,"variables":[{"name":"x","value":"1","scope":{"environments":["Environments-404"]}}]}`, nil, 400, "does not exist"},
			{"apply with an unknown field", "POST", "/api/v1/apply", `{"environments":[{"name":"X","colour":"red"}]}`, nil, 400, `unknown field "colour"`},
			{"apply naming an unknown environment", "POST", "/api/v1/apply", `{"lifecycles":[{"name":"L","phases":[{"name":"P","manualEnvironments":["Nowhere"]}]}]}`, nil, 400, `environment "Nowhere" is neither in the file nor on the server`},
			{"apply YAML with a typo", "POST", "/api/v1/apply", "environments:\n  - nam: X\n", map[string]string{"Content-Type": "application/yaml"}, 400, "line 2: field nam not found"},
			{"apply with a bad dryRun", "POST", "/api/v1/apply?dryRun=perhaps", `{}`, nil, 400, "dryRun must be true or false"},
			{"unclosed if in a script", "PUT", "/api/v1/projects/" + empty.ID + "/process", `{"version":0,"steps":[{"name":"s","script":{"syntax":"bash","body":"echo hi\n#{if A}x"}}]}`, nil, 400, `line 2, column 1: unclosed #{if}`},
			{"unknown filter", "PUT", "/api/v1/projects/" + empty.ID + "/variables", `{"version":0,"variables":[{"name":"A","value":"#{B | Shout}"}]}`, nil, 400, `unknown filter "Shout"`},
			{"reference cycle", "PUT", "/api/v1/projects/" + empty.ID + "/variables", `{"version":0,"variables":[{"name":"A","value":"#{B}"},{"name":"B","value":"x#{A}"}]}`, nil, 400, "A -> B -> A"},
			{"deployment with an unknown prompted variable", "POST", "/api/v1/deployments", `{"releaseId":"` + rel.ID + `","environmentId":"` + dev.ID + `","variables":{"Nope":"1"}}`, nil, 400, `"Nope" is not a prompted variable`},
			{"unknown id", "GET", "/api/v1/environments/Environments-404", "", nil, 404, `environment "Environments-404" was not found`},
			{"unknown endpoint", "GET", "/api/v1/nothing-here", "", nil, 404, "no such endpoint"},
			{"bad paging", "GET", "/api/v1/environments?take=5000", "", nil, 400, "take must be a whole number from 1 to 1000"},
			{"bad task state filter", "GET", "/api/v1/tasks?state=Sleeping", "", nil, 400, `state "Sleeping" is not a task state`},
			{"environment in use", "DELETE", "/api/v1/environments/" + dev.ID + "x", "", nil, 404, "was not found"},
			{"no API key", "GET", "/api/v1/environments", "", map[string]string{"Authorization": ""}, 401, "authentication required"},
			{"malformed API key", "GET", "/api/v1/environments", "", map[string]string{"Authorization": "Bearer not-a-key"}, 401, "malformed"},
			{"unknown API key", "GET", "/api/v1/environments", "", map[string]string{"Authorization": "Bearer API-UNKNOWNKEY1234567890"}, 401, "not valid"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, eb, raw := s.call(t, tt.method, tt.path, tt.body, tt.headers)
				if status != tt.status {
					t.Fatalf("status %d, want %d: %s", status, tt.status, raw)
				}
				text := eb.Error + " | " + strings.Join(eb.Details, " | ")
				if !strings.Contains(text, tt.contains) {
					t.Fatalf("error %q lacks %q", text, tt.contains)
				}
			})
		}
	})
}

func TestAPIKeyHeaders(t *testing.T) {
	s := start(t, "")
	for _, h := range []map[string]string{
		{"Authorization": "Bearer " + adminKey},
		{"Authorization": "", "X-Pulpo-ApiKey": adminKey},
	} {
		status, _, raw := s.call(t, "GET", "/api/v1/users/me", "", h)
		if status != 200 || !strings.Contains(string(raw), `"username": "admin"`) {
			t.Fatalf("headers %v: %d %s", h, status, raw)
		}
	}
}

func TestPagingAndFilters(t *testing.T) {
	s := start(t, "")
	ctx := context.Background()
	for _, n := range []string{"alpha", "beta", "gamma", "delta"} {
		if _, err := s.client.CreateProject(ctx, model.Project{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.client.ProjectPage(ctx, client.ListOptions{Skip: 1, Take: 2})
	if err != nil || p.Total != 4 || len(p.Items) != 2 || p.Items[0].Name != "beta" {
		t.Fatalf("page: %v %+v", err, p)
	}
	p, _ = s.client.ProjectPage(ctx, client.ListOptions{PartialName: "TA"})
	if p.Total != 2 {
		t.Fatalf("partial name: %+v", p)
	}
	p, _ = s.client.ProjectPage(ctx, client.ListOptions{Name: "GAMMA"})
	if p.Total != 1 || p.Items[0].Name != "gamma" {
		t.Fatalf("exact name: %+v", p)
	}
	status, _, raw := s.call(t, "GET", "/api/v1/projects?name=nothing", "", nil)
	if status != 200 || !bytes.Contains(raw, []byte(`"items": []`)) {
		t.Fatalf("an empty list is [], not null: %s", raw)
	}
}

func TestOpenAPIDocumentDescribesTheRoutes(t *testing.T) {
	s := start(t, "")
	status, _, raw := s.call(t, "GET", "/api/v1/openapi.json", "", map[string]string{"Authorization": ""})
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	var doc struct {
		OpenAPI    string                    `json:"openapi"`
		Paths      map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for path, method := range map[string]string{
		"/api/v1/environments": "post", "/api/v1/projects/{id}/process": "put", "/api/v1/releases": "post",
		"/api/v1/deployments": "post", "/api/v1/tasks/{id}/log/stream": "get", "/api/v1/tasks/{id}/cancel": "post",
	} {
		if doc.Paths[path][method] == nil {
			t.Errorf("%s %s is not described", method, path)
		}
	}
	for _, schema := range []string{"Environment", "Lifecycle", "Phase", "DeploymentProcess", "Step", "Release", "Deployment", "Task", "ErrorBody", "PageProject"} {
		if doc.Components.Schemas[schema] == nil {
			t.Errorf("schema %s is missing", schema)
		}
	}
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	s := start(t, "")
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "pulpo_tasks{state=\"Queued\"}"} {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %.200s", path, resp.StatusCode, b)
		}
	}
}

func TestLiveLogStreamFollowsATaskToItsEnd(t *testing.T) {
	eachDatabase(t, func(t *testing.T, s *testServer) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		env, _ := s.client.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
		p, _ := s.client.CreateProject(ctx, model.Project{Name: "web"})
		if _, err := s.client.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{
			{Name: "Count", Script: &model.ScriptAction{Body: "for i in $(seq 1 50); do echo line $i; sleep 0.01; done"}}}}); err != nil {
			t.Fatal(err)
		}
		rel, err := s.client.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		if rel.Version != "0.0.1" {
			t.Errorf("first release version %q", rel.Version)
		}
		d, err := s.client.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: rel.ID, EnvironmentID: env.ID})
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		var end model.Task
		err = s.client.FollowLog(ctx, d.TaskID, 0, func(ev client.Event) error {
			switch ev.Kind {
			case "line":
				lines = append(lines, ev.Line.Text)
			case "end":
				end = ev.Task
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(lines, "\n")
		if end.State != model.TaskSuccess || !strings.Contains(joined, "line 1\n") || !strings.Contains(joined, "line 50") {
			t.Fatalf("end %s, lines:\n%s", end.State, joined)
		}
		// The same log read afterwards from a position.
		l, err := s.client.TaskLog(ctx, d.TaskID, 3)
		if err != nil || l.Lines[0].Seq != 4 || len(l.Lines) != len(lines)-3 {
			t.Fatalf("log from position: %v %d lines", err, len(l.Lines))
		}
	})
}

func TestApplyAndExportOverHTTP(t *testing.T) {
	eachDatabase(t, func(t *testing.T, s *testServer) {
		yamlDoc := "environments:\n  - name: Dev\nprojects:\n  - name: api\n    steps:\n      - name: Run\n        script:\n          body: |\n            echo #{Who}\n    variables:\n      - {name: Who, value: dev, environments: [Dev]}\n"
		status, _, raw := s.call(t, "POST", "/api/v1/apply?dryRun=true", yamlDoc, map[string]string{"Content-Type": "application/yaml"})
		var res confdoc.Result
		if status != 200 || json.Unmarshal(raw, &res) != nil || !res.DryRun || res.Changed() != 2 {
			t.Fatalf("dry run: %d %s", status, raw)
		}
		if envs, _ := s.client.Environments(context.Background()); len(envs) != 0 {
			t.Fatalf("dry run created %+v", envs)
		}
		status, _, raw = s.call(t, "POST", "/api/v1/apply", yamlDoc, map[string]string{"Content-Type": "application/yaml"})
		res = confdoc.Result{}
		if status != 200 || json.Unmarshal(raw, &res) != nil || res.DryRun || len(res.Changes) != 2 ||
			!reflect.DeepEqual(res.Changes[1], confdoc.Change{Kind: "project", Name: "api", Action: confdoc.Created}) {
			t.Fatalf("apply: %d %s", status, raw)
		}
		status, _, raw = s.call(t, "GET", "/api/v1/export", "", map[string]string{"Accept": "application/yaml"})
		if status != 200 || !strings.Contains(string(raw), "environments: [Dev]") || !strings.Contains(string(raw), "echo #{Who}") {
			t.Fatalf("export as YAML: %d\n%s", status, raw)
		}
		doc, err := s.client.Export(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		res, err = s.client.Apply(context.Background(), doc, false)
		if err != nil || res.Changed() != 0 {
			t.Fatalf("applying the JSON export: %+v %v", res, err)
		}
	})
}

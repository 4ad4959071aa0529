package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// hostile are strings attackers put where names and ids go.
var hostile = []string{
	`' OR '1'='1`,
	`1; DROP TABLE projects;--`,
	`Robert'); DELETE FROM users;--`,
	`../../../../etc/passwd`,
	`..%2F..%2Fetc%2Fpasswd`,
	`%00`,
	`<script>alert(1)</script>`,
	strings.Repeat("A", 5000),
}

// routes lists the API's operations from its own OpenAPI document.
func routes(t *testing.T, w *world) map[string][]string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody any `json:"requestBody"`
		} `json:"paths"`
	}
	w.adminDo(t, "GET", "/api/v1/openapi.json", nil, &doc)
	out := map[string][]string{}
	for path, ops := range doc.Paths {
		for method := range ops {
			out[path] = append(out[path], strings.ToUpper(method))
		}
	}
	if len(out) < 50 {
		t.Fatalf("the OpenAPI document lists only %d paths", len(out))
	}
	return out
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

func TestHostileIdsAndNamesGetClientErrorsAndStoreNothing(t *testing.T) {
	eachDatabase(t, func(t *testing.T, s *testServer) {
		w := newWorld(t, s)
		var before map[string]any
		w.adminDo(t, "GET", "/api/v1/export", nil, &before)
		var auditBefore wire.Page[model.AuditEvent]
		w.adminDo(t, "GET", "/api/v1/audit?take=1", nil, &auditBefore)

		for path, methods := range routes(t, w) {
			if !strings.Contains(path, "{") || strings.HasSuffix(path, "/stream") {
				continue
			}
			for _, method := range methods {
				for _, bad := range hostile {
					target := pathParam.ReplaceAllString(path, url.PathEscape(bad))
					body := ""
					if method == "POST" || method == "PUT" {
						body = `{}`
					}
					status, eb, raw := s.call(t, method, target, body, nil)
					if status < 400 || status >= 500 {
						t.Errorf("%s %s: %d %s", method, target[:min(len(target), 120)], status, raw[:min(len(raw), 300)])
						continue
					}
					if eb.Error == "" {
						t.Errorf("%s %s: %d without an error message", method, target[:min(len(target), 120)], status)
					}
				}
			}
		}
		var after map[string]any
		w.adminDo(t, "GET", "/api/v1/export", nil, &after)
		b1, _ := json.Marshal(before)
		b2, _ := json.Marshal(after)
		if string(b1) != string(b2) {
			t.Error("requests with hostile ids changed the configuration")
		}
		var auditAfter wire.Page[model.AuditEvent]
		w.adminDo(t, "GET", "/api/v1/audit?take=1", nil, &auditAfter)
		if auditAfter.Total != auditBefore.Total {
			t.Errorf("refused requests left %d audit records", auditAfter.Total-auditBefore.Total)
		}

		// Hostile names are only names: stored as given, matched literally.
		for _, bad := range hostile[:4] {
			var env model.Environment
			w.adminDo(t, "POST", "/api/v1/environments", model.Environment{Name: bad}, &env)
			var found wire.Page[model.Environment]
			w.adminDo(t, "GET", "/api/v1/environments?name="+url.QueryEscape(bad), nil, &found)
			if found.Total != 1 || found.Items[0].Name != bad {
				t.Errorf("name %q: found %+v", bad, found.Items)
			}
		}
		for _, pattern := range []string{"%", "_", `\`, "' OR 1=1 --"} {
			var found wire.Page[model.Project]
			w.adminDo(t, "GET", "/api/v1/projects?partialName="+url.QueryEscape(pattern), nil, &found)
			if found.Total != 0 {
				t.Errorf("partialName %q matched %d projects; it must match literally", pattern, found.Total)
			}
		}
		var projects wire.Page[model.Project]
		w.adminDo(t, "GET", "/api/v1/projects", nil, &projects)
		if projects.Total != 2 {
			t.Errorf("%d projects; the injection attempts must not have touched them", projects.Total)
		}
	})
}

func TestMalformedAndOversizedBodiesAreRefused(t *testing.T) {
	s := start(t, "")
	w := newWorld(t, s)
	var before map[string]any
	w.adminDo(t, "GET", "/api/v1/export", nil, &before)
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody any `json:"requestBody"`
		} `json:"paths"`
	}
	w.adminDo(t, "GET", "/api/v1/openapi.json", nil, &doc)
	ids := strings.NewReplacer("{id}", w.shop.ID, "{keyId}", "APIKeys-1", "{version}", "1.0.0", "{n}", "1")
	checked := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if op.RequestBody == nil {
				continue
			}
			checked++
			target := ids.Replace(path)
			for _, body := range []string{`{"name":`, `[1,2,3]`, `"just a string"`, `{"name": {"nested": true}}`, "\x00\x01\x02"} {
				status, eb, raw := s.call(t, strings.ToUpper(method), target, body, nil)
				if status < 400 || status >= 500 || eb.Error == "" {
					t.Errorf("%s %s with %q: %d %s", method, target, body, status, raw)
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d operations take a body", checked)
	}
	huge := `{"name":"` + strings.Repeat("x", 17<<20) + `"}`
	for _, target := range []string{"/api/v1/environments", "/api/v1/projects/" + w.shop.ID + "/variables", "/api/v1/apply"} {
		method := "POST"
		if strings.HasSuffix(target, "/variables") {
			method = "PUT"
		}
		status, eb, _ := s.call(t, method, target, huge, nil)
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(eb.Error, "larger than") {
			t.Errorf("%s %s with 17 MiB: %d %q, want 413", method, target, status, eb.Error)
		}
	}
	status, eb, _ := s.call(t, "POST", "/api/v1/apply", "environments:\n  - name: "+strings.Repeat("y", 17<<20)+"\n", map[string]string{"Content-Type": "application/yaml"})
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("17 MiB of YAML: %d %q, want 413", status, eb.Error)
	}
	var after map[string]any
	w.adminDo(t, "GET", "/api/v1/export", nil, &after)
	b1, _ := json.Marshal(before)
	b2, _ := json.Marshal(after)
	if string(b1) != string(b2) {
		t.Error("refused bodies changed the configuration")
	}
}

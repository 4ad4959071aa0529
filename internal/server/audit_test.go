package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

func auditLog(t *testing.T, w *world, query string) []model.AuditEvent {
	t.Helper()
	var page wire.Page[model.AuditEvent]
	w.adminDo(t, "GET", "/api/v1/audit?take=1000"+query, nil, &page)
	return page.Items
}

func TestEveryChangeLeavesOneAuditRecordWithoutSecrets(t *testing.T) {
	eachDatabase(t, func(t *testing.T, s *testServer) {
		w := newWorld(t, s)
		const sshPassword = "ssh-password-9f8e7d"
		const sensitive = "variable-secret-4c3b2a"
		var createdKey wire.CreatedAPIKey
		var env model.Environment
		var ssh model.Machine
		steps := []struct {
			name   string
			user   string
			do     func() (int, []byte)
			action string
			object string // the record's objectType
		}{
			{"create an environment", "envmanager", func() (int, []byte) {
				st, raw := w.as(t, "envmanager", "POST", "/api/v1/environments", `{"name":"Staging"}`)
				json.Unmarshal(raw, &env)
				return st, raw
			}, model.AuditCreate, "environment"},
			{"rename it", "envmanager", func() (int, []byte) {
				return w.as(t, "envmanager", "PUT", "/api/v1/environments/"+env.ID, `{"name":"Stage","sortOrder":3}`)
			}, model.AuditUpdate, "environment"},
			{"set a sensitive variable", "contributor", func() (int, []byte) {
				return w.as(t, "contributor", "PUT", "/api/v1/projects/"+w.shop.ID+"/variables",
					`{"version":1,"variables":[{"name":"DbPassword","value":"`+sensitive+`","sensitive":true},{"name":"Colour","value":"red"}]}`)
			}, model.AuditUpdate, "variables"},
			{"create a release", "lead", func() (int, []byte) {
				return w.as(t, "lead", "POST", "/api/v1/releases", `{"projectId":"`+w.shop.ID+`","version":"3.0.0"}`)
			}, model.AuditCreate, "release"},
			{"deploy", "releasemanager", func() (int, []byte) {
				return w.as(t, "releasemanager", "POST", "/api/v1/deployments", fmt.Sprintf(`{"releaseId":%q,"environmentId":%q}`, w.shopRel.ID, w.prod.ID))
			}, model.AuditDeploy, "deployment"},
			{"add an SSH machine with a password", "envmanager", func() (int, []byte) {
				st, raw := w.as(t, "envmanager", "POST", "/api/v1/machines", fmt.Sprintf(`{"name":"db","kind":"ssh","usage":"target","address":"127.0.0.1:22",
					"ssh":{"user":"deploy","hostKeyFingerprint":"SHA256:abc"},"credentials":{"password":%q},"environmentIds":[%q],"roles":["db"]}`, sshPassword, w.dev.ID))
				json.Unmarshal(raw, &ssh)
				return st, raw
			}, model.AuditCreate, "machine"},
			{"change whom the server trusts", "envmanager", func() (int, []byte) {
				return w.as(t, "envmanager", "PUT", "/api/v1/machines/"+w.machine.ID, fmt.Sprintf(`{"name":"web-dev","kind":"listening","usage":"target",
					"address":"127.0.0.1:1","thumbprint":%q,"environmentIds":[%q],"roles":["web"]}`, strings.Repeat("12", 32), w.dev.ID))
			}, model.AuditTrustChanged, "machine"},
			{"create an API key", "admin", func() (int, []byte) {
				st, raw := w.as(t, "admin", "POST", "/api/v1/users/"+w.users["lead"].ID+"/apikeys", `{"purpose":"laptop"}`)
				json.Unmarshal(raw, &createdKey)
				return st, raw
			}, model.AuditCreate, "API key"},
			{"log in", "lead", func() (int, []byte) {
				st, _, raw := s.call(t, "POST", "/api/v1/users/login", `{"username":"lead","password":"correct horse battery lead"}`, map[string]string{"Authorization": ""})
				return st, raw
			}, model.AuditLogin, "user"},
			{"fail to log in", "lead", func() (int, []byte) {
				st, _, raw := s.call(t, "POST", "/api/v1/users/login", `{"username":"lead","password":"nope"}`, map[string]string{"Authorization": ""})
				if st == 401 {
					st = 200 // the attempt itself is what is audited
				}
				return st, raw
			}, model.AuditLoginFailed, "user"},
			{"delete the environment", "envmanager", func() (int, []byte) {
				return w.as(t, "envmanager", "DELETE", "/api/v1/environments/"+env.ID, "")
			}, model.AuditDelete, "environment"},
		}
		for _, step := range steps {
			before := auditLog(t, w, "")
			status, raw := step.do()
			if status >= 300 {
				t.Fatalf("%s: %d %s", step.name, status, raw)
			}
			after := auditLog(t, w, "")
			added := after[:len(after)-len(before)]
			if len(added) != 1 {
				t.Fatalf("%s left %d audit records, want 1: %+v", step.name, len(added), added)
			}
			ev := added[0]
			if ev.Actor != step.user || ev.Action != step.action || ev.ObjectType != step.object || ev.Summary == "" || ev.OccurredAt.IsZero() {
				t.Errorf("%s: record actor=%q action=%q type=%q summary=%q; want %s %s %s", step.name, ev.Actor, ev.Action, ev.ObjectType, ev.Summary,
					step.user, step.action, step.object)
			}
			if step.user != "admin" && step.action != model.AuditLoginFailed && ev.ActorID != w.users[step.user].ID {
				t.Errorf("%s: actor id %q, want %q", step.name, ev.ActorID, w.users[step.user].ID)
			}
		}

		// Before and after are kept, with secrets blanked.
		vars := auditLog(t, w, "&projectId="+w.shop.ID+"&action=update&actor=contributor")
		if len(vars) != 1 || !strings.Contains(string(vars[0].Before), `"blue"`) || !strings.Contains(string(vars[0].After), `"red"`) {
			t.Errorf("the variables record lacks before/after: %+v", vars)
		}
		export := exportAudit(t, s, "")
		for _, secret := range []string{sensitive, "hunter2-very-secret", sshPassword, createdKey.APIKey, "correct horse battery"} {
			if strings.Contains(export, secret) {
				t.Errorf("the audit log holds the secret %q", secret)
			}
		}
		lines := strings.Split(strings.TrimSpace(export), "\n")
		all := auditLog(t, w, "")
		if len(lines) != len(all) {
			t.Errorf("the export has %d lines, the log %d records", len(lines), len(all))
		}
		for _, l := range lines {
			var ev model.AuditEvent
			if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.ID == "" {
				t.Fatalf("export line is not a record: %q", l)
			}
		}

		// Filters: by user, project, environment, time.
		for _, ev := range auditLog(t, w, "&actor=envmanager") {
			if ev.Actor != "envmanager" {
				t.Errorf("actor filter let %q through", ev.Actor)
			}
		}
		// Production's records: its creation and the deployment to it.
		if got := auditLog(t, w, "&environmentId="+w.prod.ID); len(got) != 2 || got[0].Action != model.AuditDeploy || got[1].Action != model.AuditCreate {
			t.Errorf("environment filter: %+v", got)
		}
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if got := auditLog(t, w, "&from="+future); len(got) != 0 {
			t.Errorf("%d records from the future", len(got))
		}
		if got := auditLog(t, w, "&to="+future); len(got) != len(all) {
			t.Errorf("to filter: %d of %d", len(got), len(all))
		}
		// A project viewer sees only their project's records.
		status, raw := w.as(t, "shopviewer", "GET", "/api/v1/audit?take=1000", "")
		var seen wire.Page[model.AuditEvent]
		json.Unmarshal(raw, &seen)
		if status != 200 || seen.Total == 0 {
			t.Fatalf("shop viewer reading the audit log: %d %s", status, raw)
		}
		for _, ev := range seen.Items {
			if ev.ProjectID != w.shop.ID {
				t.Errorf("the shop viewer sees a record of %q: %s", ev.ProjectID, ev.Summary)
			}
		}
		// Nothing in the product edits or deletes a record.
		for _, method := range []string{"PUT", "DELETE", "PATCH", "POST"} {
			status, _, _ := s.call(t, method, "/api/v1/audit/"+all[0].ID, `{}`, nil)
			if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
				t.Errorf("%s on an audit record: %d", method, status)
			}
		}
	})
}

func exportAudit(t *testing.T, s *testServer, query string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+"/api/v1/audit/export"+query, nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("export content type %q", ct)
	}
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

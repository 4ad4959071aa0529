package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/archive"
	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// TestArchivesOverHTTP moves a project between two servers (each with its
// own master key) through the API: who may, what a bad archive or password
// answers, and what the audit log keeps.
func TestArchivesOverHTTP(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, start(t, "")) // shop has the sensitive DbPassword
	b := start(t, "")
	const password = "a long archive password"
	status := func(err error) int {
		var ce *client.Error
		if errors.As(err, &ce) {
			return ce.Status
		}
		return 0
	}

	st, _ := w.as(t, "lead", "POST", "/api/v1/archives/export", `{"projects":["shop"],"password":"`+password+`"}`)
	if st != http.StatusForbidden {
		t.Fatalf("a project lead exported an archive: %d", st)
	}
	if _, err := w.s.client.ExportArchive(ctx, archive.ExportRequest{Projects: []string{"shop"}, Password: "short"}); status(err) != 400 ||
		!strings.Contains(err.Error(), "at least 12") {
		t.Fatalf("a short password: %v", err)
	}
	if _, err := w.s.client.ExportArchive(ctx, archive.ExportRequest{Projects: []string{"nope"}, Password: password}); status(err) != 400 {
		t.Fatalf("an unknown project: %v", err)
	}
	data, err := w.s.client.ExportArchive(ctx, archive.ExportRequest{Projects: []string{"shop"}, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("hunter2")) {
		t.Fatal("the archive shows a sensitive value")
	}
	req, _ := http.NewRequest("POST", w.s.url+"/api/v1/archives/import?dryRun=true", bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+w.keys["lead"])
	req.Header.Set(archive.PasswordHeader, password)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a project lead's import: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	noProjects := func() {
		t.Helper()
		if ps, err := b.client.Projects(ctx, client.ListOptions{}); err != nil || len(ps) != 0 {
			t.Fatalf("server B has projects %v (%v)", ps, err)
		}
	}
	flipped := bytes.Clone(data)
	flipped[len(flipped)/2] ^= 1
	for _, tc := range []struct {
		name     string
		data     []byte
		password string
		status   int
		says     string
	}{
		{"wrong password", data, password + "!", 400, archive.ErrPassword.Error()},
		{"changed byte", flipped, password, 400, archive.ErrPassword.Error()},
		{"not an archive", []byte("hello"), password, 400, "not a Pulpo archive"},
		{"no password", data, "", 400, archive.PasswordHeader},
		{"too large", make([]byte, 64<<20+1), password, 413, "64 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.client.ImportArchive(ctx, tc.data, tc.password, client.ImportOptions{})
			if status(err) != tc.status || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("import: %v, want %d saying %q", err, tc.status, tc.says)
			}
			noProjects()
		})
	}

	dry, err := b.client.ImportArchive(ctx, data, password, client.ImportOptions{DryRun: true})
	if err != nil || !dry.DryRun || dry.Changed() == 0 || dry.Manifest.Projects[0] != "shop" || dry.Manifest.Counts["projects"] != 1 {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	noProjects()
	res, err := b.client.ImportArchive(ctx, data, password, client.ImportOptions{})
	if err != nil || res.Changed() != dry.Changed() {
		t.Fatalf("import: %+v %v", res, err)
	}
	shop, err := b.client.FindProject(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := b.client.Variables(ctx, shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range vs.Variables {
		if v.Name == "DbPassword" {
			found = v.Sensitive && v.Value == ""
		}
	}
	if !found {
		t.Fatalf("the sensitive variable arrived as %+v", vs.Variables)
	}
	again, err := b.client.ImportArchive(ctx, data, password, client.ImportOptions{})
	if err != nil || again.Changed() != 0 || again.Changes[len(again.Changes)-1].Action != "skipped" {
		t.Fatalf("second import: %+v %v", again, err)
	}

	st, _, raw := b.call(t, "GET", "/api/v1/openapi.json", "", nil)
	for _, want := range []string{`"/api/v1/archives/export"`, `"/api/v1/archives/import"`, `"X-Pulpo-Archive-Password"`, `"application/octet-stream"`} {
		if st != 200 || !bytes.Contains(raw, []byte(want)) {
			t.Errorf("the OpenAPI document does not mention %s", want)
		}
	}

	// The audit logs of both servers name the archive, never a secret.
	for name, s := range map[string]*testServer{"A": w.s, "B": b} {
		var page struct{ Items []model.AuditEvent }
		st, _, raw := s.call(t, "GET", "/api/v1/audit?take=1000", "", nil)
		if st != 200 || json.Unmarshal(raw, &page) != nil {
			t.Fatalf("audit of %s: %d", name, st)
		}
		n := 0
		for _, ev := range page.Items {
			if ev.ObjectType == "archive" {
				n++
			}
		}
		if want := map[string]int{"A": 1, "B": 2}[name]; n != want {
			t.Errorf("server %s has %d archive audit records, want %d", name, n, want)
		}
		if bytes.Contains(raw, []byte("hunter2")) || bytes.Contains(raw, []byte(password)) {
			t.Errorf("server %s's audit log holds a secret", name)
		}
	}
}

package web

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/archive"
	"github.com/pulpo-deploy/pulpo/internal/confdoc"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// The import and export page in each of its states: what each shows, and
// which form an error lands on.
func TestArchivePageRendersEachState(t *testing.T) {
	p, err := New(http.NotFoundHandler(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	projects := []model.Project{{ID: "Projects-1", Name: "shop"}, {ID: "Projects-2", Name: "misc"}}
	result := &archive.ImportResult{Manifest: archive.Manifest{PulpoVersion: "1.2.3", Server: "old.example.com", CreatedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		Projects: []string{"shop"}}, Result: confdoc.Result{DryRun: true, Changes: []confdoc.Change{
		{Kind: "environment", Name: "Dev", Action: confdoc.Created}, {Kind: "lifecycle", Name: "Default Lifecycle", Action: confdoc.Unchanged},
		{Kind: "project", Name: "shop", Action: confdoc.Updated, Fields: []string{"steps", "variables"}}}}}
	wrong := &apiError{Status: http.StatusBadRequest, Message: archive.ErrPassword.Error()}
	for _, tt := range []struct {
		name         string
		err          error
		data         archivesData
		want, banned []string
	}{
		{"fresh", nil, archivesData{Projects: projects},
			[]string{`name="project" value="shop"`, `type="file"`, `accept=".pulpoarchive"`, `name="step" value="dry"`, ">Dry run</button>"},
			[]string{`name="held"`, `role="alert"`, `id="import-result"`}},
		{"export refused", errors.New("the two passwords differ"), archivesData{Projects: projects, Failed: "export", Chosen: []string{"misc"}},
			[]string{`id="export-error"`, `value="misc" checked`, `value="shop" >`}, []string{`id="import-error"`, `name="password" value=`}},
		{"wrong password on the dry run", wrong, archivesData{Projects: projects, Failed: "import", Held: "QUJD", FileName: "a.pulpoarchive", Size: 3, Next: "dry", Update: true},
			[]string{`id="import-error"`, archive.ErrPassword.Error(), `name="held" value="QUJD"`, `name="step" value="dry"`, `name="update" value="true" checked`, ">Dry run</button>"},
			[]string{`id="export-error"`, `type="file"`, `id="import-result"`}},
		{"dry run done", nil, archivesData{Projects: projects, Held: "QUJD", FileName: "a.pulpoarchive", Size: 3, Next: "import", Result: result},
			[]string{"A dry run (nothing changed yet)", "old.example.com", "2026-12-01 10:00 UTC", "projects shop", "1 created, 1 updated, 1 unchanged, 0 skipped",
				"<td>project</td><td>shop</td><td><span class=\"badge change-updated\">updated</span></td><td>steps, variables</td>",
				`name="step" value="import"`, `name="update" value="false"`, "left as they are (skipped)", ">Import</button>", "password again"},
			[]string{`type="file"`, `role="alert"`}},
		{"imported", nil, archivesData{Projects: projects, Imported: true, FileName: "a.pulpoarchive", Result: result},
			[]string{"Imported <strong>a.pulpoarchive</strong>", "Import another archive", `id="import-changes"`},
			[]string{`name="held"`, `id="import-form"`, "A dry run"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := p.pages["archives"].Execute(&b, &view{Title: tt.name, User: &model.User{Username: "admin"}, CSRF: "token", Error: tt.err, Data: tt.data}); err != nil {
				t.Fatal(err)
			}
			html := b.String()
			for _, w := range tt.want {
				if !strings.Contains(html, w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			for _, w := range tt.banned {
				if strings.Contains(html, w) {
					t.Errorf("the page has %q", w)
				}
			}
		})
	}
}

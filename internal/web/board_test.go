package web

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// boardSample is a board with every kind of cell, and text that would be
// markup if it were not escaped.
func boardSample(now time.Time) boardPage {
	b := boardView(model.Board{GeneratedAt: now, Environments: []model.BoardEnvironment{{ID: "Environments-1", Name: "Dev"}, {ID: "Environments-2", Name: "Test"}},
		Groups: []model.BoardGroup{{ID: "ProjectGroups-1", Name: "Shop", Projects: []model.BoardProject{{ID: "Projects-1", Name: "web", Cells: []model.BoardCell{
			{EnvironmentID: "Environments-1", Live: &model.BoardRelease{Version: "1.0.0", LiveSince: now, DeployedBy: "admin", ApprovedBy: []string{"anna"},
				Notes: "<script>alert(1)</script> **bold**", WorkItems: []model.WorkItem{{ID: "WEB-1", Title: "<img src=x onerror=alert(1)>", URL: "https://issues.example/WEB-1"},
					{ID: "WEB-2", URL: "javascript:alert(1)"}}},
				Newer: &model.BoardAttempt{Version: "1.1.0", State: model.TaskFailed}},
			{EnvironmentID: "Environments-2"}}}}}}})
	b.Shares = []boardShareView{{BoardShare: model.BoardShare{ID: "BoardShares-1", Name: "Sales"}, Shows: "project web", State: "active", Expires: "never"}}
	b.CanShare = true
	b.Created = &wire.CreatedBoardShare{Share: model.BoardShare{Name: "Sales"}, Token: "tok"}
	b.Link = "/board/tok"
	return b
}

func TestTheBoardPageEscapesNotesAndWorkItems(t *testing.T) {
	p, err := New(nil, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, shared := range []bool{false, true} {
		d := boardSample(time.Date(2026, 12, 8, 9, 30, 0, 0, time.UTC))
		d.Shared = shared
		v := &view{Title: "Release board", Data: d}
		if !shared {
			v.User, v.CSRF = &model.User{Username: "admin"}, "token"
		}
		var b bytes.Buffer
		if err := p.pages["board"].Execute(&b, v); err != nil {
			t.Fatal(err)
		}
		html := b.String()
		for _, bad := range []string{"<script>alert", "<img src=x", `href="javascript:`} {
			if strings.Contains(html, bad) {
				t.Errorf("shared=%v: the page has %q", shared, bad)
			}
		}
		for _, want := range []string{"1.0.0", "8 Dec 2026, 09:30 UTC", "anna", "1.1.0 failed", `href="https://issues.example/WEB-1"`, "not deployed"} {
			if !strings.Contains(html, want) {
				t.Errorf("shared=%v: the page lacks %q", shared, want)
			}
		}
		if strings.Contains(html, "Create share link") == shared {
			t.Errorf("shared=%v: the share form shows %v", shared, !shared)
		}
		// A shared board left on a wall screen refreshes itself.
		if strings.Contains(html, `<meta http-equiv="refresh" content="60">`) != shared {
			t.Errorf("shared=%v: the page refreshes itself: %v", shared, !shared)
		}
	}
}

func TestReleaseNotesAreDrawnSafely(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"paragraphs and lines", "One\ntwo\n\nThree", "<p>One<br>two</p><p>Three</p>"},
		{"a list", "Changes:\n- **Faster** login\n- `pulpo board`", "<p>Changes:</p><ul><li><strong>Faster</strong> login</li><li><code>pulpo board</code></li></ul>"},
		{"a heading", "## What is new", `<p class="notes-heading"><strong>What is new</strong></p>`},
		{"italics", "a _quiet_ change", "<p>a <em>quiet</em> change</p>"},
		{"a link", "[WEB-1](https://issues.example/WEB-1?a=1&b=2)", `<p><a href="https://issues.example/WEB-1?a=1&amp;b=2" rel="noopener noreferrer">WEB-1</a></p>`},
		{"markup is text", "<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"},
		{"a script link is text", "[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"},
		{"a quote cannot leave the attribute", `[x](https://a.example/"onmouseover="alert(1))`, `<p><a href="https://a.example/&#34;onmouseover=&#34;alert(1" rel="noopener noreferrer">x</a>)</p>`},
	} {
		if got := string(renderNotes(tc.in)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

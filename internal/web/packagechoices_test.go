package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// A feed that never answers holds the release form no longer than the
// portal's bound: its field says so, and the other packages are listed.
func TestPackageChoicesDoNotWaitForASilentFeed(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/v1/feeds/Feeds-1/versions"):
			<-r.Context().Done() // the feed never answers
			http.Error(w, `{"error":"feed Silent: `+r.Context().Err().Error()+`"}`, http.StatusBadGateway)
		case strings.HasPrefix(r.URL.Path, "/api/v1/feeds/Feeds-2/versions"):
			json.NewEncoder(w).Encode(wire.FeedVersions{Versions: []string{"2.0.0", "1.0.0"}})
		case r.URL.Path == "/api/v1/packages":
			json.NewEncoder(w).Encode(wire.Page[model.Package]{Items: []model.Package{{PackageID: "app", Version: "3.1.0"}}})
		default:
			http.NotFound(w, r)
		}
	})
	p, err := New(api, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.feedWait = 50 * time.Millisecond
	steps := []model.Step{
		{Name: "Chart", Package: &model.PackageAction{PackageID: "web-chart", FeedID: "Feeds-2"}},
		{Name: "Pull", Package: &model.PackageAction{PackageID: "team/web", FeedID: "Feeds-1"}},
		{Name: "Site", Package: &model.PackageAction{PackageID: "app"}},
	}
	choices := p.packageChoices(httptest.NewRequest(http.MethodGet, "/projects/Projects-1", nil), steps)

	want := []packageChoice{
		{Key: "Chart", Label: "web-chart (Chart)", Versions: []string{"2.0.0", "1.0.0"}},
		{Key: "Pull", Label: "team/web (Pull)", Error: "feed Feeds-1 did not list its versions within 50ms"},
		{Key: "Site", Label: "app (Site)", Versions: []string{"3.1.0"}},
	}
	if len(choices) != len(want) {
		t.Fatalf("choices %+v", choices)
	}
	for i, w := range want {
		c := choices[i]
		if c.Key != w.Key || c.Label != w.Label || c.Error != w.Error || strings.Join(c.Versions, ",") != strings.Join(w.Versions, ",") {
			t.Errorf("choice %d = %+v, want %+v", i, c, w)
		}
	}
}

package client

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// A fake server with one staging, to check the requests the wrappers send
// and how a staging is found by name, then by id.
func TestStagingWrappers(t *testing.T) {
	st := model.Staging{ID: "Stagings-7", ProjectID: "Projects-1", Name: "feature-a", State: model.StagingRunning}
	var seen []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.RequestURI())
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/api/v1/stagings":
			out := []model.Staging{}
			if q := r.URL.Query(); q.Get("projectId") == st.ProjectID && strings.EqualFold(q.Get("name"), st.Name) {
				out = append(out, st)
			}
			json.NewEncoder(w).Encode(out)
		case r.Method == "GET" && r.URL.Path == "/api/v1/stagings/"+st.ID:
			json.NewEncoder(w).Encode(wire.StagingDetail{Staging: st})
		case r.Method == "POST" && r.URL.Path == "/api/v1/stagings/"+st.ID+"/archive":
			w.WriteHeader(http.StatusConflict)
			json.NewEncoder(w).Encode(wire.ErrorBody{Error: "staging feature-a is busy: task Tasks-3 is still running"})
		case r.Method == "POST" && r.URL.Path == "/api/v1/stagings/"+st.ID+"/keep":
			var req wire.StagingRequest
			json.NewDecoder(r.Body).Decode(&req)
			if req.KeepUntil != "72h0m0s" {
				t.Errorf("keep sent %+v", req)
			}
			json.NewEncoder(w).Encode(st)
		default:
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(wire.ErrorBody{Error: "not found"})
		}
	}))
	defer hs.Close()
	c, err := New(hs.URL, "API-KEY")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	if got, err := c.FindStaging(ctx, "Projects-1", "Feature-A"); err != nil || got.ID != st.ID {
		t.Errorf("by name: %+v %v", got, err)
	}
	if got, err := c.FindStaging(ctx, "Projects-1", "Stagings-7"); err != nil || got.ID != st.ID {
		t.Errorf("by id: %+v %v", got, err)
	}
	if _, err := c.FindStaging(ctx, "Projects-2", "Stagings-7"); !IsNotFound(err) || !strings.Contains(err.Error(), `no staging "Stagings-7"`) {
		t.Errorf("another project's staging by id: %v", err)
	}
	if _, err := c.Stagings(ctx, StagingListOptions{ProjectID: "Projects-1", WithoutArchived: true}); err != nil {
		t.Error(err)
	}
	if want := "GET /api/v1/stagings?archived=false&projectId=Projects-1"; seen[len(seen)-1] != want {
		t.Errorf("list asked %s, want %s", seen[len(seen)-1], want)
	}
	_, err = c.StagingAction(ctx, st.ID, model.StagingArchive)
	var apiErr *Error
	if !(errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict && strings.Contains(apiErr.Message, "is busy")) {
		t.Errorf("a busy staging: %v", err)
	}
	if _, err := c.StagingAction(ctx, st.ID, model.StagingUpdate); err == nil {
		t.Error("StagingAction took update")
	}
	if _, err := c.KeepStaging(ctx, st.ID, "72h0m0s"); err != nil {
		t.Error(err)
	}
}

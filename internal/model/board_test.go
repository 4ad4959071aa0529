package model

import (
	"strings"
	"testing"
	"time"
)

func TestBoardRules(t *testing.T) {
	now := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	past, soon := now.Add(-time.Minute), now.Add(time.Hour)
	revoked := now
	for _, tc := range []struct {
		name string
		err  error
		want string // part of the error; "" for none
	}{
		{"build information", (&BuildInformation{PackageID: "web", Version: "1.0.0", BuildURL: "https://ci/1",
			WorkItems: []WorkItem{{ID: "A-1", URL: "http://issues/A-1"}}}).Validate(), ""},
		{"no package", (&BuildInformation{Version: "1.0.0"}).Validate(), "packageId"},
		{"a script link", (&BuildInformation{PackageID: "web", Version: "1.0.0", WorkItems: []WorkItem{{ID: "A", URL: "javascript:x"}}}).Validate(), "workItems[0].url"},
		{"a commit without id", (&BuildInformation{PackageID: "web", Version: "1.0.0", Commits: []Commit{{Comment: "x"}}}).Validate(), "commits[0].id"},
		{"a long title", ValidateWorkItems([]WorkItem{{ID: "A", Title: strings.Repeat("x", 501)}}), "workItems[0].title"},
		{"a share", (&BoardShare{Name: "Sales", ExpiresAt: &soon}).Validate(now), ""},
		{"a share that has expired", (&BoardShare{Name: "Sales", ExpiresAt: &past}).Validate(now), "in the past"},
		{"a share of a project and a group", (&BoardShare{Name: "S", ProjectID: "Projects-1", ProjectGroupID: "ProjectGroups-1"}).Validate(now), "not both"},
		{"a share without a name", (&BoardShare{}).Validate(now), "name"},
	} {
		switch {
		case tc.want == "" && tc.err != nil:
			t.Errorf("%s: %v", tc.name, tc.err)
		case tc.want != "" && (tc.err == nil || !strings.Contains(tc.err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	for _, tc := range []struct {
		s    BoardShare
		want bool
	}{{BoardShare{}, true}, {BoardShare{ExpiresAt: &soon}, true}, {BoardShare{ExpiresAt: &now}, false}, {BoardShare{RevokedAt: &revoked}, false}} {
		if got := tc.s.Active(now); got != tc.want {
			t.Errorf("%+v active: %v", tc.s, got)
		}
	}
	for state, want := range map[TaskState]string{TaskQueued: "deploying", TaskExecuting: "deploying", TaskWaiting: "waiting for approval",
		TaskFailed: "failed", TaskCanceled: "canceled"} {
		if got := (&BoardAttempt{State: state}).Label(); got != want {
			t.Errorf("%s: %q", state, got)
		}
	}
	if got := MergeWorkItems([]WorkItem{{ID: "A-1"}}, WorkItem{ID: "a-1"}, WorkItem{ID: "B-2"}); len(got) != 2 || got[1].ID != "B-2" {
		t.Errorf("merge: %+v", got)
	}
}

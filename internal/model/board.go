package model

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// WorkItem is an issue or ticket a release delivers: taken from the build
// information of its package versions, or given when it was created.
type WorkItem struct {
	ID    string `json:"id"`
	Title string `json:"title,omitempty"`
	// URL links to the item in its tracker (http or https only, as it is
	// shown as a link to people outside engineering).
	URL string `json:"url,omitempty"`
	// Source is where it came from: "build-information" or "release".
	Source string `json:"source,omitempty"`
}

// Work item sources.
const (
	WorkItemFromBuild   = "build-information"
	WorkItemFromRelease = "release"
)

// Commit is one version-control commit of a build.
type Commit struct {
	ID      string `json:"id"`
	Comment string `json:"comment,omitempty"`
	URL     string `json:"url,omitempty"`
}

// BuildInformation is what a CI build tells of one package version it
// made (Octopus's "build information"): where it was built, the commits in
// it and the work items they close. A release takes the work items of its
// package versions when it is created.
type BuildInformation struct {
	ID          string     `json:"id"`
	PackageID   string     `json:"packageId"`
	Version     string     `json:"version"`
	BuildURL    string     `json:"buildUrl,omitempty"`
	BuildNumber string     `json:"buildNumber,omitempty"`
	Branch      string     `json:"branch,omitempty"`
	VcsType     string     `json:"vcsType,omitempty"`
	VcsRoot     string     `json:"vcsRoot,omitempty"`
	Commits     []Commit   `json:"commits,omitempty"`
	WorkItems   []WorkItem `json:"workItems,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	CreatedBy   string     `json:"createdBy,omitempty"`
}

// Limits on what people outside engineering are shown.
const (
	maxWorkItems     = 200
	maxWorkItemTitle = 500
	maxCommits       = 1000
)

// Validate checks build information on its own.
func (b *BuildInformation) Validate() error {
	p := problems{subject: "build information"}
	if err := ValidatePackage(b.PackageID, b.Version); err != nil {
		if ve, ok := err.(*ValidationError); ok {
			p.list = append(p.list, ve.Problems...)
		}
	}
	checkLink(&p, "buildUrl", b.BuildURL)
	checkLink(&p, "vcsRoot", b.VcsRoot)
	if len(b.Commits) > maxCommits {
		p.add("commits", "at most %d", maxCommits)
	}
	for i, c := range b.Commits {
		if strings.TrimSpace(c.ID) == "" {
			p.add(fmt.Sprintf("commits[%d].id", i), "is required")
		}
		checkLink(&p, fmt.Sprintf("commits[%d].url", i), c.URL)
	}
	checkWorkItems(&p, b.WorkItems)
	return p.err()
}

// ValidateWorkItems checks work items given at release creation.
func ValidateWorkItems(items []WorkItem) error {
	p := problems{subject: "release"}
	checkWorkItems(&p, items)
	return p.err()
}

func checkWorkItems(p *problems, items []WorkItem) {
	if len(items) > maxWorkItems {
		p.add("workItems", "at most %d", maxWorkItems)
	}
	for i, w := range items {
		field := fmt.Sprintf("workItems[%d]", i)
		if strings.TrimSpace(w.ID) == "" {
			p.add(field+".id", "is required")
		}
		if len(w.ID) > 100 {
			p.add(field+".id", "must be at most 100 characters")
		}
		if len(w.Title) > maxWorkItemTitle {
			p.add(field+".title", "must be at most %d characters", maxWorkItemTitle)
		}
		checkLink(p, field+".url", w.URL)
	}
}

// checkLink accepts an empty value or an absolute http(s) URL: others
// (javascript:, data:) must never become links on the board.
func checkLink(p *problems, field, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(field, "%q is not an http(s) URL", s)
	}
}

// MergeWorkItems appends items not already in list (by id, ignoring case).
func MergeWorkItems(list []WorkItem, items ...WorkItem) []WorkItem {
	for _, w := range items {
		dup := false
		for _, have := range list {
			if strings.EqualFold(have.ID, w.ID) {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, w)
		}
	}
	return list
}

// Board is the release board: per project (grouped by project group) and
// environment (in their order), the release live there. It holds only
// versions, times, names, notes and work items: never a variable.
type Board struct {
	GeneratedAt  time.Time          `json:"generatedAt"`
	Environments []BoardEnvironment `json:"environments"`
	Groups       []BoardGroup       `json:"groups"`
}

// BoardEnvironment is a column of the board.
type BoardEnvironment struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// BoardGroup is a project group's projects.
type BoardGroup struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	Projects []BoardProject `json:"projects"`
}

// BoardProject is a row: one cell per environment of the board, in order.
type BoardProject struct {
	ID    string      `json:"id"`
	Name  string      `json:"name"`
	Cells []BoardCell `json:"cells"`
}

// BoardCell is what one environment has of one project: the release live
// there (the newest successful deployment), and a newer deployment that
// is under way or did not succeed, if any.
type BoardCell struct {
	EnvironmentID string        `json:"environmentId"`
	Live          *BoardRelease `json:"live,omitempty"`
	Newer         *BoardAttempt `json:"newer,omitempty"`
}

// BoardRelease is a release as the board shows it.
type BoardRelease struct {
	ReleaseID string    `json:"releaseId"`
	Version   string    `json:"version"`
	LiveSince time.Time `json:"liveSince"`
	// DeployedBy asked for the deployment ("lifecycle" when automatic).
	DeployedBy string `json:"deployedBy,omitempty"`
	// ApprovedBy answered its manual interventions with Proceed; empty
	// when it had none.
	ApprovedBy []string   `json:"approvedBy,omitempty"`
	Notes      string     `json:"notes,omitempty"`
	WorkItems  []WorkItem `json:"workItems,omitempty"`
}

// BoardAttempt is a deployment newer than the live release that is under
// way, waiting, failed or canceled.
type BoardAttempt struct {
	Version    string    `json:"version"`
	State      TaskState `json:"state"`
	StartedAt  time.Time `json:"startedAt"`
	DeployedBy string    `json:"deployedBy,omitempty"`
}

// Label says in a word what the attempt is doing, for people outside
// engineering: "deploying", "waiting for approval", "failed", "canceled".
func (a *BoardAttempt) Label() string {
	switch a.State {
	case TaskQueued, TaskExecuting:
		return "deploying"
	case TaskWaiting:
		return "waiting for approval"
	case TaskFailed:
		return "failed"
	case TaskCanceled, TaskCanceling:
		return "canceled"
	}
	return strings.ToLower(string(a.State))
}

// BoardShare is a link that shows the board without logging in, limited
// to a project group or a project, until it expires or is revoked. The
// token is shown once, when the link is made; only its hash is kept.
type BoardShare struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	ProjectGroupID string     `json:"projectGroupId,omitempty"`
	ProjectID      string     `json:"projectId,omitempty"`
	ExpiresAt      *time.Time `json:"expiresAt,omitempty"`
	RevokedAt      *time.Time `json:"revokedAt,omitempty"`
	RevokedBy      string     `json:"revokedBy,omitempty"`
	CreatedAt      time.Time  `json:"createdAt"`
	CreatedBy      string     `json:"createdBy,omitempty"`
}

// Validate checks a new share link.
func (s *BoardShare) Validate(now time.Time) error {
	p := problems{subject: "share link"}
	checkName(&p, "name", s.Name)
	if s.ProjectGroupID != "" && s.ProjectID != "" {
		p.add("projectId", "give a project or a project group, not both")
	}
	if s.ExpiresAt != nil && !s.ExpiresAt.After(now) {
		p.add("expiresAt", "%s is in the past", s.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return p.err()
}

// Active reports whether the link still shows the board at now.
func (s *BoardShare) Active(now time.Time) bool {
	return s.RevokedAt == nil && (s.ExpiresAt == nil || now.Before(*s.ExpiresAt))
}

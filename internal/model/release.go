package model

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Release is an immutable snapshot of a project's process and variables
// under a version number. Editing the project later does not change it.
type Release struct {
	ID        string `json:"id"`
	ProjectID string `json:"projectId"`
	Version   string `json:"version"`
	// RunbookID marks a runbook's published snapshot: not a release of
	// the project, and deployed without a lifecycle.
	RunbookID string `json:"runbookId,omitempty"`
	// ChannelID is the channel the release follows; empty for projects
	// without channels.
	ChannelID string    `json:"channelId,omitempty"`
	Notes     string    `json:"notes,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy,omitempty"`
	// ProcessSnapshot and VariableSnapshot are what every deployment of this
	// release runs with.
	ProcessSnapshot  DeploymentProcess `json:"processSnapshot"`
	VariableSnapshot VariableSet       `json:"variableSnapshot"`
	// Packages are the package versions its package steps deploy, chosen
	// when it was created.
	Packages []ReleasePackage `json:"packages,omitempty"`
	// Children are the releases of other projects its deploy-a-release
	// steps deploy, chosen when it was created.
	Children []ReleaseChild `json:"children,omitempty"`
	// WorkItems are the issues it delivers: given at creation, and those
	// of its package versions' build information then (kept with it).
	WorkItems []WorkItem `json:"workItems,omitempty"`
}

// ReleaseChild is the release of another project a deploy-a-release step
// of a parent release deploys.
type ReleaseChild struct {
	StepID    string `json:"stepId"`
	StepName  string `json:"stepName"`
	ProjectID string `json:"projectId"`
	ReleaseID string `json:"releaseId"`
	Version   string `json:"version"`
}

// ReleasePackage is the package version a release deploys in one step.
type ReleasePackage struct {
	StepID   string `json:"stepId"`
	StepName string `json:"stepName"`
	// Reference names a package the step's script refers to; empty for
	// the step's own package.
	Reference string `json:"reference,omitempty"`
	PackageID string `json:"packageId"`
	// FeedID is the external feed the version came from; empty: built-in.
	FeedID  string `json:"feedId,omitempty"`
	Version string `json:"version"`
}

// versionPattern accepts SemVer 2 and the looser forms Octopus users have
// (1.2, 1.2.3.4, 2024.01.15-rc.1+build.5).
var versionPattern = regexp.MustCompile(`^[0-9]+(\.[0-9]+){0,3}(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)

// MaxVersionLength bounds a version string.
const MaxVersionLength = 100

// ValidateVersion checks a release version.
func ValidateVersion(v string) error {
	p := problems{subject: "release"}
	switch {
	case v == "":
		p.add("version", "is required")
	case len(v) > MaxVersionLength:
		p.add("version", "must be at most %d characters", MaxVersionLength)
	case !versionPattern.MatchString(v):
		p.add("version", "%q is not a version: use numbers separated by dots, like 1.4.0 or 1.4.0-beta.2", v)
	}
	return p.err()
}

// Validate checks the fields a user controls and that the snapshot can run.
func (r *Release) Validate() error {
	if err := ValidateVersion(r.Version); err != nil {
		return err
	}
	p := problems{subject: "release"}
	if len(r.ProcessSnapshot.EnabledSteps()) == 0 {
		p.add("", "the project's deployment process has no enabled steps; add a step before creating a release")
	}
	return p.err()
}

// Version is a parsed release version, enough to order and increment them.
type Version struct {
	Numbers    []int
	PreRelease string
}

// ParseVersion parses a version accepted by ValidateVersion.
func ParseVersion(s string) (Version, bool) {
	if !versionPattern.MatchString(s) {
		return Version{}, false
	}
	core, _, _ := strings.Cut(s, "+")
	core, pre, _ := strings.Cut(core, "-")
	var v Version
	for _, part := range strings.Split(core, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return Version{}, false
		}
		v.Numbers = append(v.Numbers, n)
	}
	v.PreRelease = pre
	return v, true
}

// Compare orders versions as SemVer does: numbers first, then a release
// ranks above its pre-releases.
func (v Version) Compare(o Version) int {
	for i := 0; i < max(len(v.Numbers), len(o.Numbers)); i++ {
		a, b := at(v.Numbers, i), at(o.Numbers, i)
		if a != b {
			if a < b {
				return -1
			}
			return 1
		}
	}
	switch {
	case v.PreRelease == o.PreRelease:
		return 0
	case v.PreRelease == "":
		return 1
	case o.PreRelease == "":
		return -1
	}
	return comparePreRelease(v.PreRelease, o.PreRelease)
}

func at(n []int, i int) int {
	if i < len(n) {
		return n[i]
	}
	return 0
}

func comparePreRelease(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < min(len(as), len(bs)); i++ {
		x, xerr := strconv.Atoi(as[i])
		y, yerr := strconv.Atoi(bs[i])
		switch {
		case xerr == nil && yerr == nil:
			if x != y {
				return cmpInt(x, y)
			}
		case xerr == nil:
			return -1 // numeric identifiers rank below alphanumeric ones
		case yerr == nil:
			return 1
		default:
			if c := strings.Compare(as[i], bs[i]); c != 0 {
				return c
			}
		}
	}
	return cmpInt(len(as), len(bs))
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// NextVersion proposes the version for a new release when none is given:
// the highest existing version with its patch number increased, or 0.0.1.
func NextVersion(existing []string) string {
	var best Version
	found := false
	for _, s := range existing {
		v, ok := ParseVersion(s)
		if ok && (!found || v.Compare(best) > 0) {
			best, found = v, true
		}
	}
	if !found {
		return "0.0.1"
	}
	n := append([]int(nil), best.Numbers...)
	for len(n) < 3 {
		n = append(n, 0)
	}
	if best.PreRelease == "" {
		n[2]++ // 1.2.3-beta becomes 1.2.3, which is newer; 1.2.3 becomes 1.2.4
	}
	return fmt.Sprintf("%d.%d.%d", n[0], n[1], n[2])
}

package model

import (
	"fmt"
	"regexp"
	"strings"
)

// Channel is a path releases of a project take: its own lifecycle, and
// rules on the package versions its releases may carry (a "hotfix" channel
// straight to Production for 2.1.x, a "beta" channel for pre-releases).
type Channel struct {
	ID          string `json:"id"`
	ProjectID   string `json:"projectId"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// LifecycleID overrides the project's lifecycle; empty keeps it.
	LifecycleID string `json:"lifecycleId,omitempty"`
	// IsDefault is the channel of releases that name none and whose
	// packages no other channel claims first. A project's first channel is
	// its default.
	IsDefault bool          `json:"isDefault,omitempty"`
	Rules     []ChannelRule `json:"rules,omitempty"`
}

// ChannelRule limits the versions of some packages in a channel's releases.
type ChannelRule struct {
	// Packages are the package ids (or step names) it applies to.
	Packages []string `json:"packages" yaml:"packages,flow"`
	// VersionRange is a NuGet-style range: "[1.0,2.0)" (1.0 ≤ v < 2.0),
	// "(,2.0]", "[2.1.3]" (exactly), or "1.0" (1.0 or later). Empty: any.
	VersionRange string `json:"versionRange,omitempty" yaml:"versionRange,omitempty"`
	// Tag is a regular expression the pre-release tag must match: "^$" for
	// none, "^beta" for betas. Empty: any.
	Tag string `json:"tag,omitempty" yaml:"tag,omitempty"`
}

// Validate checks the channel on its own.
func (c *Channel) Validate() error {
	p := problems{subject: "channel"}
	checkName(&p, "name", c.Name)
	for i, r := range c.Rules {
		field := fmt.Sprintf("rules[%d]", i)
		if len(r.Packages) == 0 {
			p.add(field+".packages", "is required: the package ids (or step names) the rule applies to")
		}
		if _, err := ParseVersionRange(r.VersionRange); err != nil {
			p.add(field+".versionRange", "%v", err)
		}
		if _, err := regexp.Compile(r.Tag); err != nil {
			p.add(field+".tag", "%q is not a regular expression: %v", r.Tag, err)
		}
	}
	return p.err()
}

// Accepts reports whether a version of a package (taken by a step) fits
// the channel's rules, and if not, which rule refuses it.
func (c *Channel) Accepts(packageID, stepName, version string) (bool, string) {
	for _, r := range c.Rules {
		applies := false
		for _, p := range r.Packages {
			applies = applies || strings.EqualFold(p, packageID) || SameName(p, stepName)
		}
		if !applies {
			continue
		}
		v, ok := ParseVersion(version)
		if !ok {
			return false, fmt.Sprintf("%s is not a version", version)
		}
		if rng, _ := ParseVersionRange(r.VersionRange); !rng.Contains(v) {
			return false, fmt.Sprintf("%s %s is outside %s", packageID, version, r.VersionRange)
		}
		if re := regexp.MustCompile(r.Tag); r.Tag != "" && !re.MatchString(v.PreRelease) {
			return false, fmt.Sprintf("%s %s has the pre-release tag %q, which does not match %s", packageID, version, v.PreRelease, r.Tag)
		}
	}
	return true, ""
}

// VersionRange is a NuGet-style version interval.
type VersionRange struct {
	Min, Max                   *Version
	MinInclusive, MaxInclusive bool
	text                       string
}

// ParseVersionRange reads "[1.0,2.0)", "(,2.0]", "[1.2.3]", "1.0" or "".
func ParseVersionRange(s string) (VersionRange, error) {
	s = strings.TrimSpace(s)
	r := VersionRange{text: s}
	if s == "" {
		return r, nil
	}
	bad := func() (VersionRange, error) {
		return VersionRange{}, fmt.Errorf("%q is not a version range: use [1.0,2.0) for 1.0 up to but not 2.0, (,2.0] for up to 2.0, [1.2.3] for exactly 1.2.3, or 1.0 for 1.0 or later", s)
	}
	version := func(t string) (*Version, bool) {
		t = strings.TrimSpace(t)
		if t == "" {
			return nil, true
		}
		v, ok := ParseVersion(t)
		return &v, ok
	}
	if s[0] != '[' && s[0] != '(' {
		v, ok := version(s)
		if !ok || v == nil {
			return bad()
		}
		r.Min, r.MinInclusive = v, true
		return r, nil
	}
	last := s[len(s)-1]
	if len(s) < 3 || (last != ']' && last != ')') {
		return bad()
	}
	inner := s[1 : len(s)-1]
	lo, hi, two := strings.Cut(inner, ",")
	if !two { // [1.2.3]: exactly
		v, ok := version(inner)
		if !ok || v == nil || s[0] != '[' || last != ']' {
			return bad()
		}
		r.Min, r.Max, r.MinInclusive, r.MaxInclusive = v, v, true, true
		return r, nil
	}
	var ok1, ok2 bool
	r.Min, ok1 = version(lo)
	r.Max, ok2 = version(hi)
	if !ok1 || !ok2 || (r.Min == nil && r.Max == nil) {
		return bad()
	}
	r.MinInclusive, r.MaxInclusive = s[0] == '[', last == ']'
	if r.Min != nil && r.Max != nil && (r.Min.Compare(*r.Max) > 0 || (r.Min.Compare(*r.Max) == 0 && !(r.MinInclusive && r.MaxInclusive))) {
		return VersionRange{}, fmt.Errorf("%q holds no version", s)
	}
	return r, nil
}

// Contains reports whether v is in the range.
func (r VersionRange) Contains(v Version) bool {
	if r.Min != nil {
		c := v.Compare(*r.Min)
		if c < 0 || (c == 0 && !r.MinInclusive) {
			return false
		}
	}
	if r.Max != nil {
		c := v.Compare(*r.Max)
		if c > 0 || (c == 0 && !r.MaxInclusive) {
			return false
		}
	}
	return true
}

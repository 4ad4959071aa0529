package model

import (
	"fmt"
	"regexp"
	"strings"
)

// PackageAcquisition says who fetches a step's package from its feed.
type PackageAcquisition string

// Where a package is acquired, as Octopus's "package acquisition location".
const (
	// AcquireOnServer: the server downloads the package once (it keeps a
	// copy) and sends it to each target, which caches it. The default.
	AcquireOnServer PackageAcquisition = "server"
	// AcquireOnTarget: each target downloads the package from the feed
	// itself; the feed's credentials travel to the target, masked.
	AcquireOnTarget PackageAcquisition = "target"
	// AcquireNone: nobody downloads it; the step gets the package's
	// coordinates (a container image's reference) and its tools fetch it.
	AcquireNone PackageAcquisition = "none"
)

// PackageReference is a package a script step refers to by name: its id,
// version, feed and (for a container image) image reference reach the
// script as Octopus.Action.Package[Name].* variables.
type PackageReference struct {
	// Name is how the script names it: Octopus.Action.Package[Name].Image.
	Name      string `json:"name" yaml:"name"`
	PackageID string `json:"packageId" yaml:"packageId"`
	// FeedID is the feed the version is chosen from; empty: the built-in feed.
	FeedID      string             `json:"feedId,omitempty" yaml:"feedId,omitempty"`
	Acquisition PackageAcquisition `json:"acquisition,omitempty" yaml:"acquisition,omitempty"`
	// Extract unpacks an acquired package into a folder of the script's
	// workspace (Octopus.Action.Package[Name].ExtractedPath); otherwise the
	// script gets the file (…OriginalPath).
	Extract bool `json:"extract,omitempty" yaml:"extract,omitempty"`
}

// StepPackage is one package a step takes: its own (Reference empty) or
// one its script refers to.
type StepPackage struct {
	Reference   string
	PackageID   string
	FeedID      string
	Acquisition PackageAcquisition
	Extract     bool
}

// External reports whether the package comes from an external feed.
func (p StepPackage) External() bool { return IsExternalFeed(p.FeedID) }

// IsExternalFeed reports whether a step's feed id names an external feed.
func IsExternalFeed(feedID string) bool {
	return feedID != "" && !strings.EqualFold(feedID, BuiltInFeedID)
}

// Packages lists every package the step takes: its own first, then those
// its script refers to, in order.
func (s *Step) Packages() []StepPackage {
	var out []StepPackage
	switch {
	case s.Package != nil:
		out = append(out, StepPackage{PackageID: s.Package.PackageID, FeedID: s.Package.FeedID, Acquisition: s.Package.Acquisition.orDefault(), Extract: true})
	case s.Script != nil && s.Script.FromPackage != nil:
		fp := s.Script.FromPackage
		out = append(out, StepPackage{PackageID: fp.PackageID, FeedID: fp.FeedID, Acquisition: fp.Acquisition.orDefault(), Extract: true})
	}
	if s.Script != nil {
		for _, r := range s.Script.Packages {
			out = append(out, StepPackage{Reference: r.Name, PackageID: r.PackageID, FeedID: r.FeedID, Acquisition: r.Acquisition.orDefault(), Extract: r.Extract})
		}
	}
	return out
}

func (a PackageAcquisition) orDefault() PackageAcquisition {
	if a == "" {
		return AcquireOnServer
	}
	return a
}

// externalPackageIDPattern admits the ids external feeds use: Docker's
// library/nginx, Maven's group:artifact, GitHub's owner/repo.
var externalPackageIDPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:/@+-]{0,254}$`)

// packageNamePattern is a referenced package's name: it goes into a
// variable name between brackets.
var packageNamePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$`)

func validatePackageID(p *problems, field, id, feedID string) {
	if IsExternalFeed(feedID) {
		if !externalPackageIDPattern.MatchString(id) {
			p.add(field, "%q is not a package id: letters, digits and . _ - : / @ +, at most 255", id)
		}
		return
	}
	if !packageIDPattern.MatchString(id) {
		p.add(field, "%q is not a package id", id)
	}
}

func validateAcquisition(p *problems, field string, a PackageAcquisition, feedID string) {
	switch a {
	case "", AcquireOnServer, AcquireOnTarget:
		if a == AcquireOnTarget && !IsExternalFeed(feedID) {
			p.add(field, "a target downloads from an external feed only: the built-in feed's packages are sent by the server")
		}
	case AcquireNone:
	default:
		p.add(field, "%q is not an acquisition: use server, target or none", a)
	}
}

func validatePackageReferences(p *problems, field string, refs []PackageReference) {
	names := map[string]bool{}
	for i, r := range refs {
		f := fmt.Sprintf("%s.packages[%d]", field, i)
		if !packageNamePattern.MatchString(r.Name) {
			p.add(f+".name", "%q is not a reference name: letters, digits, '.', '_' and '-' (the script reads Octopus.Action.Package[NAME].…)", r.Name)
		}
		if names[strings.ToLower(r.Name)] {
			p.add(f+".name", "another package of this step is called %q", r.Name)
		}
		names[strings.ToLower(r.Name)] = true
		validatePackageID(p, f+".packageId", r.PackageID, r.FeedID)
		validateAcquisition(p, f+".acquisition", r.Acquisition, r.FeedID)
		if r.Extract && r.Acquisition == AcquireNone {
			p.add(f+".extract", "a package nobody downloads cannot be extracted: set acquisition server or target")
		}
	}
}

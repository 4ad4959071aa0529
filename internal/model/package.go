package model

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Package is one version of a package in the built-in feed.
type Package struct {
	// ID is "packages-<packageId>.<version>", as Octopus names them.
	ID          string    `json:"id"`
	PackageID   string    `json:"packageId"`
	Version     string    `json:"version"`
	Extension   string    `json:"extension"`
	SizeBytes   int64     `json:"sizeBytes"`
	SHA256      string    `json:"sha256"`
	PublishedAt time.Time `json:"publishedAt"`
	PublishedBy string    `json:"publishedBy,omitempty"`
}

// FileName is the package's file name in the feed: <packageId>.<version><ext>.
func (p *Package) FileName() string { return p.PackageID + "." + p.Version + p.Extension }

// PackageExtensions are the archive kinds the feed takes, longest first so
// ".tar.gz" wins over ".gz".
var PackageExtensions = []string{".tar.gz", ".tgz", ".tar", ".zip", ".nupkg"}

var packageIDPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$`)

// PackageKey is the feed's id of a package version.
func PackageKey(packageID, version string) string { return "packages-" + packageID + "." + version }

// ParsePackageFileName reads the id, version and extension from a name
// such as "My.App.1.4.0-beta.1.tar.gz": the id is what comes before the
// first ".<digit>" after which the rest is a version.
func ParsePackageFileName(name string) (id, version, ext string, err error) {
	lower := strings.ToLower(name)
	for _, e := range PackageExtensions {
		if strings.HasSuffix(lower, e) {
			ext = e
			break
		}
	}
	if ext == "" {
		return "", "", "", fmt.Errorf("%q is not a package the feed takes: use .tar.gz, .tgz, .tar, .zip or .nupkg", name)
	}
	stem := name[:len(name)-len(ext)]
	for i := 0; i+1 < len(stem); i++ {
		if stem[i] == '.' && stem[i+1] >= '0' && stem[i+1] <= '9' && ValidateVersion(stem[i+1:]) == nil && i > 0 {
			return stem[:i], stem[i+1:], ext, nil
		}
	}
	return "", "", ext, fmt.Errorf("cannot read a package id and version from %q: name it like myapp.1.4.0%s, or give --package-id and --version", name, ext)
}

// ValidatePackage checks a package's id and version.
func ValidatePackage(id, version string) error {
	p := problems{subject: "package"}
	if !packageIDPattern.MatchString(id) {
		p.add("packageId", "%q is not a package id: letters, digits, '.', '_' and '-', at most 100", id)
	}
	if err := ValidateVersion(version); err != nil {
		p.add("version", "%q is not a version: use SemVer, like 1.4.0 or 1.4.0-beta.2", version)
	}
	return p.err()
}

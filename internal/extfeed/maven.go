package extfeed

import (
	"context"
	"encoding/xml"
	"errors"
	"slices"
	"strings"
)

// maven reads a Maven repository: a package id is groupId:artifactId,
// optionally :packaging; versions come from maven-metadata.xml.
type maven struct{ *base }

// mavenPackagings are the files Pulpo deploys, in the order it looks for
// them when the package id does not name one.
var mavenPackagings = []string{"jar", "war", "ear", "zip", "tar.gz"}

type mavenID struct{ group, artifact, packaging string }

func (m *maven) parseID(packageID string) (mavenID, error) {
	parts := strings.Split(packageID, ":")
	bad := len(parts) < 2 || len(parts) > 3
	for _, p := range parts {
		bad = bad || p == "" || strings.ContainsAny(p, "/\\?#") || strings.Contains(p, "..")
	}
	if bad {
		return mavenID{}, m.errorf("%q is not a Maven package id: use groupId:artifactId, such as org.example:web (optionally :war to name the packaging)", packageID)
	}
	id := mavenID{group: parts[0], artifact: parts[1]}
	if len(parts) == 3 {
		id.packaging = parts[2]
		if !slices.Contains(mavenPackagings, id.packaging) {
			return id, m.errorf("packaging %q is not one Pulpo deploys: use %s", id.packaging, strings.Join(mavenPackagings, ", "))
		}
	}
	return id, nil
}

func (m *maven) artifactURL(id mavenID, parts ...string) string {
	return join(m.feed.URL, append([]string{strings.ReplaceAll(id.group, ".", "/"), id.artifact}, parts...)...)
}

// Test checks the repository answers and takes the credentials: plain
// repositories often answer 404 at their root, which is fine.
func (m *maven) Test(ctx context.Context) error {
	_, err := m.exists(ctx, strings.TrimSuffix(m.feed.URL, "/")+"/", m.authHeader())
	return err
}

// Search takes an exact groupId:artifactId: plain Maven repositories have
// no search API.
func (m *maven) Search(ctx context.Context, term string, limit int) ([]string, error) {
	id, err := m.parseID(term)
	if err != nil {
		return nil, m.errorf("a Maven repository cannot be searched: give the exact package id as groupId:artifactId")
	}
	if _, err := m.Versions(ctx, id.group+":"+id.artifact); err != nil {
		return nil, err
	}
	return []string{term}, nil
}

type mavenMetadata struct {
	Versioning struct {
		Latest   string   `xml:"latest"`
		Release  string   `xml:"release"`
		Versions []string `xml:"versions>version"`
	} `xml:"versioning"`
}

func (m *maven) Versions(ctx context.Context, packageID string) ([]string, error) {
	id, err := m.parseID(packageID)
	if err != nil {
		return nil, err
	}
	u := m.artifactURL(id, "maven-metadata.xml")
	body, err := m.get(ctx, u, m.authHeader(), maxDocument, "package "+packageID+" is not in the repository (no "+id.group+"/"+id.artifact+" metadata)")
	if err != nil {
		return nil, err
	}
	var md mavenMetadata
	if err := xml.Unmarshal(body, &md); err != nil {
		return nil, m.errorf("the metadata of %s: %v", packageID, err)
	}
	return limitTo(SortVersions(md.Versioning.Versions), maxVersions), nil
}

// Locate finds the artifact file: of the packaging the id names, or the
// first of jar, war, ear, zip and tar.gz that exists.
func (m *maven) Locate(ctx context.Context, packageID, version string) (Location, error) {
	id, err := m.parseID(packageID)
	if err != nil {
		return Location{}, err
	}
	if version == "" || strings.ContainsAny(version, "/\\?#") || strings.Contains(version, "..") {
		return Location{}, m.errorf("%q is not a version", version)
	}
	file := id.artifact + "-" + version
	if strings.HasSuffix(version, "-SNAPSHOT") {
		if file, err = m.snapshotFile(ctx, id, version); err != nil {
			return Location{}, err
		}
	}
	packagings := mavenPackagings
	if id.packaging != "" {
		packagings = []string{id.packaging}
	}
	h := m.authHeader()
	for _, p := range packagings {
		u := m.artifactURL(id, version, file+"."+p)
		ok, err := m.exists(ctx, u, h)
		if err != nil {
			return Location{}, err
		}
		if ok {
			return Location{URL: u, Header: h, Extension: "." + p}, nil
		}
	}
	return Location{}, m.notFound("version %s of %s has no %s file", version, packageID, strings.Join(packagings, ", "))
}

// snapshotFile is the file name of a snapshot's newest build, which
// repositories store under a timestamp.
func (m *maven) snapshotFile(ctx context.Context, id mavenID, version string) (string, error) {
	u := m.artifactURL(id, version, "maven-metadata.xml")
	body, err := m.get(ctx, u, m.authHeader(), maxDocument, "no snapshot metadata")
	var fe *Error
	if err != nil {
		if errors.As(err, &fe) && fe.NotFound {
			return id.artifact + "-" + version, nil // a local-style repository without timestamps
		}
		return "", err
	}
	var md struct {
		Versioning struct {
			Snapshot struct {
				Timestamp   string `xml:"timestamp"`
				BuildNumber string `xml:"buildNumber"`
			} `xml:"snapshot"`
		} `xml:"versioning"`
	}
	if err := xml.Unmarshal(body, &md); err != nil || md.Versioning.Snapshot.Timestamp == "" {
		return id.artifact + "-" + version, nil
	}
	s := md.Versioning.Snapshot
	return id.artifact + "-" + strings.TrimSuffix(version, "-SNAPSHOT") + "-" + s.Timestamp + "-" + s.BuildNumber, nil
}

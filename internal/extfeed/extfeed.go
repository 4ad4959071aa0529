// Package extfeed reads external package feeds: Docker/OCI registries,
// NuGet v3, Maven repositories, Helm chart repositories, GitHub releases and
// plain HTTP folders. It lists and searches versions and says where a
// package version can be fetched, so the server (or a target itself) can
// download it.
package extfeed

import (
	"context"
	"net/http"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// Client reads one external feed.
type Client interface {
	// Test checks that the feed answers and takes the credentials.
	Test(ctx context.Context) error
	// Search returns package ids matching term (all when empty), at most limit.
	Search(ctx context.Context, term string, limit int) ([]string, error)
	// Versions returns a package's versions, newest first.
	Versions(ctx context.Context, packageID string) ([]string, error)
	// Locate says where a package version is: a file to download, or, for
	// a container registry, the image reference a step hands to its tools.
	Locate(ctx context.Context, packageID, version string) (Location, error)
}

// Location is where a package version can be fetched.
type Location struct {
	// URL is the file to download; empty for container images.
	URL string
	// Header carries the credentials the download needs. It is secret:
	// never logged, and masked when it travels to a target.
	Header http.Header
	// Extension is the file's archive kind (".tar.gz", ".zip", ".nupkg",
	// ".jar", ".tgz"…), as model.PackageExtensions names them where it can.
	Extension string
	// Image is the full image reference (host[:port]/name:tag) of a
	// container image; empty for files.
	Image string
}

// Resolver finds the client of a stored feed by id: the server's
// implementation reads the feed and unseals its credentials.
type Resolver interface {
	Client(ctx context.Context, feedID string) (Client, model.Feed, error)
}

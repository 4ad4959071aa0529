package wire

// FeedTest is how a feed answered a test.
type FeedTest struct {
	FeedID  string `json:"feedId"`
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// FeedPackages are the package ids of a feed matching a search.
type FeedPackages struct {
	FeedID   string   `json:"feedId"`
	Search   string   `json:"search,omitempty"`
	Packages []string `json:"packages"`
}

// FeedVersions are a package's versions in a feed, newest first.
type FeedVersions struct {
	FeedID    string   `json:"feedId"`
	PackageID string   `json:"packageId"`
	Versions  []string `json:"versions"`
	// Total counts every version, when take cut the list.
	Total int `json:"total"`
}

// FeedLocation is where a package version of a feed is fetched from: a
// file (URL, Extension) or a container image (Image). The credentials a
// download needs are never part of it.
type FeedLocation struct {
	FeedID    string `json:"feedId"`
	PackageID string `json:"packageId"`
	Version   string `json:"version"`
	URL       string `json:"url,omitempty"`
	Extension string `json:"extension,omitempty"`
	Image     string `json:"image,omitempty"`
}

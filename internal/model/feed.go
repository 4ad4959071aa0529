package model

// FeedType says what kind of repository a feed is and how it is read.
type FeedType string

// The feed types. The built-in feed is the server's own; the others are
// external repositories the server (or a target) reads over HTTP.
const (
	FeedBuiltIn FeedType = "builtin"
	// FeedDocker is a Docker/OCI registry: versions are tags, and a step
	// receives the image reference instead of a file.
	FeedDocker FeedType = "docker"
	FeedNuGet  FeedType = "nuget"
	FeedMaven  FeedType = "maven"
	FeedHelm   FeedType = "helm"
	// FeedGitHub reads a repository's releases: the package id is
	// owner/repo, versions are release tags, the file is a release asset.
	FeedGitHub FeedType = "github"
	// FeedHTTP is a plain folder of files named <id>.<version><ext>.
	FeedHTTP FeedType = "http"
)

// BuiltInFeedID is the id of the server's own feed, as Octopus names it;
// a step whose feed is empty uses it.
const BuiltInFeedID = "feeds-builtin"

// Feed is an external package repository.
type Feed struct {
	ID   string   `json:"id"`
	Name string   `json:"name"`
	Type FeedType `json:"type"`
	URL  string   `json:"url"`
	// Username and Password are the credentials the feed asks for (a
	// token goes in Password). Password is write-only: reads say only
	// whether one is set.
	Username    string `json:"username,omitempty"`
	Password    string `json:"password,omitempty"`
	HasPassword bool   `json:"hasPassword"`
}

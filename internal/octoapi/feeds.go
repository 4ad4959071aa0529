package octoapi

import (
	"net/url"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// feed is Octopus's feed resource. The password is never sent, as in
// Octopus: only whether one is set.
type feed struct {
	ID                                string            `json:"Id"`
	Name                              string            `json:"Name"`
	Slug                              string            `json:"Slug"`
	FeedType                          string            `json:"FeedType"`
	FeedURI                           string            `json:"FeedUri,omitempty"`
	Username                          string            `json:"Username,omitempty"`
	Password                          sensitiveValue    `json:"Password"`
	PackageAcquisitionLocationOptions []string          `json:"PackageAcquisitionLocationOptions"`
	SpaceID                           string            `json:"SpaceId"`
	Links                             map[string]string `json:"Links"`
}

// sensitiveValue is Octopus's write-only value.
type sensitiveValue struct {
	HasValue bool `json:"HasValue"`
}

// octopusFeedTypes are Octopus's names of the feed types it shares with
// Pulpo; a plain HTTP folder has none, so such feeds are not listed here.
var octopusFeedTypes = map[model.FeedType]string{
	model.FeedBuiltIn: "BuiltIn", model.FeedDocker: "Docker", model.FeedNuGet: "NuGet",
	model.FeedMaven: "Maven", model.FeedHelm: "Helm", model.FeedGitHub: "GitHub",
}

var feeds = &collection[model.Feed, feed]{
	inner: "/feeds", itemType: "Feed",
	manage: "create and change feeds with `pulpo feed` or /api/v1/feeds",
	convert: func(_ *call, f model.Feed) feed {
		where := []string{"Server", "ExecutionTarget"}
		if f.Type == model.FeedDocker {
			where = []string{"NotAcquired"}
		}
		return feed{ID: f.ID, Name: f.Name, Slug: slug(f.Name), FeedType: octopusFeedTypes[f.Type], FeedURI: f.URL, Username: f.Username,
			Password: sensitiveValue{HasValue: f.HasPassword}, PackageAcquisitionLocationOptions: where, SpaceID: SpaceID, Links: selfLink("feeds", f.ID)}
	},
	accept: func(f model.Feed) bool { return octopusFeedTypes[f.Type] != "" },
	id:     func(o feed) string { return o.ID },
	name:   func(o feed) string { return o.Name },
	keep: func(q url.Values, o feed) bool {
		t := q.Get("feedType")
		return o.FeedType != "" && (t == "" || strings.EqualFold(t, o.FeedType))
	},
}

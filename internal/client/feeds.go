package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// CreateFeed adds an external feed.
func (c *Client) CreateFeed(ctx context.Context, f model.Feed) (model.Feed, error) {
	var out model.Feed
	return out, c.do(ctx, "POST", "/feeds", f, &out)
}

// UpdateFeed replaces a feed; an empty password keeps the stored one.
func (c *Client) UpdateFeed(ctx context.Context, f model.Feed) (model.Feed, error) {
	var out model.Feed
	return out, c.do(ctx, "PUT", "/feeds/"+url.PathEscape(f.ID), f, &out)
}

// Feeds lists the feeds, the built-in one first.
func (c *Client) Feeds(ctx context.Context) ([]model.Feed, error) {
	return all[model.Feed](ctx, c, "/feeds", ListOptions{})
}

// FindFeed reads a feed by id or name.
func (c *Client) FindFeed(ctx context.Context, idOrName string) (model.Feed, error) {
	return find[model.Feed](ctx, c, "/feeds", "feed", idOrName)
}

// DeleteFeed removes an external feed.
func (c *Client) DeleteFeed(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/feeds/"+url.PathEscape(id), nil, nil)
}

// TestFeed checks that a feed answers and takes its credentials.
func (c *Client) TestFeed(ctx context.Context, id string) (wire.FeedTest, error) {
	var out wire.FeedTest
	return out, c.do(ctx, "POST", "/feeds/"+url.PathEscape(id)+"/test", nil, &out)
}

// SearchFeed lists a feed's package ids containing term, at most take (0:
// the server's default).
func (c *Client) SearchFeed(ctx context.Context, id, term string, take int) (wire.FeedPackages, error) {
	var out wire.FeedPackages
	q := url.Values{"search": {term}}
	if take > 0 {
		q.Set("take", strconv.Itoa(take))
	}
	return out, c.do(ctx, "GET", "/feeds/"+url.PathEscape(id)+"/packages?"+q.Encode(), nil, &out)
}

// FeedVersions lists a package's versions in a feed, newest first.
func (c *Client) FeedVersions(ctx context.Context, id, packageID string, take int) (wire.FeedVersions, error) {
	var out wire.FeedVersions
	q := url.Values{"packageId": {packageID}}
	if take > 0 {
		q.Set("take", strconv.Itoa(take))
	}
	return out, c.do(ctx, "GET", "/feeds/"+url.PathEscape(id)+"/versions?"+q.Encode(), nil, &out)
}

// LocateFeedPackage says where a package version of a feed is fetched from.
func (c *Client) LocateFeedPackage(ctx context.Context, id, packageID, version string) (wire.FeedLocation, error) {
	var out wire.FeedLocation
	q := url.Values{"packageId": {packageID}, "version": {version}}
	return out, c.do(ctx, "GET", "/feeds/"+url.PathEscape(id)+"/locate?"+q.Encode(), nil, &out)
}

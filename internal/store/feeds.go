package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

const feedColumns = `id, name, type, url, username, password`

// scanFeed reads a feed; its password stays sealed.
func scanFeed(s scanner) (model.Feed, string, error) {
	var f model.Feed
	var sealed string
	if err := s.Scan(&f.ID, &f.Name, &f.Type, &f.URL, &f.Username, &sealed); err != nil {
		return f, "", err
	}
	f.HasPassword = sealed != ""
	return f, sealed, nil
}

// isBuiltInFeed says whether id names the server's own feed, which is no
// row and cannot be changed.
func isBuiltInFeed(id string) bool { return strings.EqualFold(id, model.BuiltInFeedID) }

func refuseBuiltInFeed(what string) error {
	return &model.RefusedError{Reason: fmt.Sprintf("the built-in feed (%s) is the server's own: it cannot be %s", model.BuiltInFeedID, what)}
}

// CreateFeed stores an external feed, its password sealed.
func (q *Queries) CreateFeed(ctx context.Context, f *model.Feed) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "feeds", "feed", f.Name, ""); err != nil {
		return err
	}
	sealed := ""
	if f.Password != "" {
		var err error
		if sealed, err = q.Seal(f.Password); err != nil {
			return err
		}
	}
	var err error
	if f.ID, _, err = q.nextID(ctx, "Feeds"); err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO feeds (id, name, name_key, type, url, username, password) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.Name, model.NameKey(f.Name), f.Type, f.URL, f.Username, sealed)
	if err != nil {
		return fmt.Errorf("create feed: %w", err)
	}
	f.Password, f.HasPassword = "", sealed != ""
	return nil
}

// GetFeed reads an external feed (by id or name) without its password.
func (q *Queries) GetFeed(ctx context.Context, id string) (model.Feed, error) {
	f, _, err := q.getFeed(ctx, id)
	return f, err
}

func (q *Queries) getFeed(ctx context.Context, id string) (model.Feed, string, error) {
	f, sealed, err := scanFeed(q.queryRow(ctx, `SELECT `+feedColumns+` FROM feeds WHERE id = ? OR name_key = ?`, id, model.NameKey(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return f, "", notFound("feed", id)
	}
	if err != nil {
		return f, "", fmt.Errorf("read feed %s: %w", id, err)
	}
	return f, sealed, nil
}

// FeedWithPassword reads an external feed (by id or name) and its
// password, unsealed: what a client of the feed needs. The password never
// goes further than that client.
func (q *Queries) FeedWithPassword(ctx context.Context, id string) (model.Feed, string, error) {
	f, sealed, err := q.getFeed(ctx, id)
	if err != nil || sealed == "" {
		return f, "", err
	}
	plain, err := q.OpenSealed(sealed)
	if err != nil {
		return f, "", fmt.Errorf("open the password of feed %s: %w", f.Name, err)
	}
	return f, plain, nil
}

// ListFeeds returns the external feeds by name, without passwords.
func (q *Queries) ListFeeds(ctx context.Context, opts ListOptions) ([]model.Feed, int, error) {
	where, args := opts.nameFilter(nil, nil, "name_key")
	total, err := q.count(ctx, `SELECT COUNT(*) FROM feeds`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list feeds: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+feedColumns+` FROM feeds`+whereClause(where)+` ORDER BY name_key`+opts.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list feeds: %w", err)
	}
	out, err := collect(rows, func(s scanner) (model.Feed, error) {
		f, _, err := scanFeed(s)
		return f, err
	})
	return out, total, err
}

// UpdateFeed replaces an external feed; an empty password keeps the one
// it has.
func (q *Queries) UpdateFeed(ctx context.Context, f *model.Feed) error {
	if isBuiltInFeed(f.ID) {
		return refuseBuiltInFeed("changed")
	}
	if err := f.Validate(); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "feeds", "feed", f.Name, f.ID); err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE feeds SET name = ?, name_key = ?, type = ?, url = ?, username = ? WHERE id = ?`,
		f.Name, model.NameKey(f.Name), f.Type, f.URL, f.Username, f.ID)
	if err != nil {
		return fmt.Errorf("update feed: %w", err)
	}
	if err := mustAffect(res, "feed", f.ID); err != nil {
		return err
	}
	if f.Password != "" {
		sealed, err := q.Seal(f.Password)
		if err != nil {
			return err
		}
		if _, err := q.exec(ctx, `UPDATE feeds SET password = ? WHERE id = ?`, sealed, f.ID); err != nil {
			return fmt.Errorf("update feed: %w", err)
		}
	}
	got, err := q.GetFeed(ctx, f.ID)
	*f = got
	return err
}

// DeleteFeed removes an external feed, unless something uses it.
func (q *Queries) DeleteFeed(ctx context.Context, id string) error {
	if isBuiltInFeed(id) {
		return refuseBuiltInFeed("deleted")
	}
	users, err := q.FeedUsers(ctx, id)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return conflict("feed %s is used by %s; change them first", id, strings.Join(users, ", "))
	}
	res, err := q.exec(ctx, `DELETE FROM feeds WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete feed: %w", err)
	}
	return mustAffect(res, "feed", id)
}

// FeedUsers names what refers to a feed (as "project X"), so that it is
// not deleted from under them. Feeds are referred to only by the steps of
// processes and the package references of releases, which add their
// checks here.
func (q *Queries) FeedUsers(ctx context.Context, id string) ([]string, error) {
	return nil, nil
}

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

// DeleteFeed removes an external feed (by id or name), unless a process,
// a runbook or a release takes packages from it.
func (q *Queries) DeleteFeed(ctx context.Context, id string) error {
	if isBuiltInFeed(id) {
		return refuseBuiltInFeed("deleted")
	}
	f, err := q.GetFeed(ctx, id)
	if err != nil {
		return err
	}
	users, err := q.FeedUsers(ctx, f.ID)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		more := ""
		if len(users) > 5 {
			users, more = users[:5], fmt.Sprintf(" and %d more", len(users)-5)
		}
		return conflict("feed %s is used by %s%s: have them take their packages elsewhere first", f.Name, strings.Join(users, ", "), more)
	}
	res, err := q.exec(ctx, `DELETE FROM feeds WHERE id = ?`, f.ID)
	if err != nil {
		return fmt.Errorf("delete feed: %w", err)
	}
	return mustAffect(res, "feed", f.ID)
}

// FeedUsers names what takes packages from a feed: the steps of projects'
// processes and of runbooks, and releases (which deploy from it later).
func (q *Queries) FeedUsers(ctx context.Context, feedID string) ([]string, error) {
	uses := func(steps []model.Step) string {
		for _, st := range steps {
			for _, sp := range st.Packages() {
				if strings.EqualFold(sp.FeedID, feedID) {
					return st.Name
				}
			}
		}
		return ""
	}
	// The id in the JSON narrows the rows; decoding decides.
	like := "%" + escapeLike(feedID) + "%"
	type row struct{ project, name, doc string }
	read := func(query string) ([]row, error) {
		rows, err := q.query(ctx, query, like)
		if err != nil {
			return nil, fmt.Errorf("find the users of feed %s: %w", feedID, err)
		}
		return collect(rows, func(s scanner) (row, error) {
			var r row
			return r, s.Scan(&r.project, &r.name, &r.doc)
		})
	}
	var out []string
	projects, err := read(`SELECT name, name, process FROM projects WHERE process LIKE ? ESCAPE '\'`)
	if err != nil {
		return nil, err
	}
	for _, r := range projects {
		var steps []model.Step
		if err := unmarshal(r.doc, &steps); err != nil {
			return nil, fmt.Errorf("read the process of %s: %w", r.project, err)
		}
		if step := uses(steps); step != "" {
			out = append(out, fmt.Sprintf("project %s (step %s)", r.project, step))
		}
	}
	runbooks, err := read(`SELECT p.name, r.name, r.doc FROM runbooks r JOIN projects p ON p.id = r.project_id WHERE r.doc LIKE ? ESCAPE '\'`)
	if err != nil {
		return nil, err
	}
	for _, r := range runbooks {
		var d runbookDoc
		if err := unmarshal(r.doc, &d); err != nil {
			return nil, fmt.Errorf("read runbook %s: %w", r.name, err)
		}
		if step := uses(d.Steps); step != "" {
			out = append(out, fmt.Sprintf("runbook %s of %s (step %s)", r.name, r.project, step))
		}
	}
	releases, err := read(`SELECT p.name, r.version, r.packages FROM releases r JOIN projects p ON p.id = r.project_id WHERE r.packages LIKE ? ESCAPE '\'`)
	if err != nil {
		return nil, err
	}
	for _, r := range releases {
		var pkgs []model.ReleasePackage
		if err := unmarshal(r.doc, &pkgs); err != nil {
			return nil, fmt.Errorf("read release %s of %s: %w", r.name, r.project, err)
		}
		for _, p := range pkgs {
			if strings.EqualFold(p.FeedID, feedID) {
				out = append(out, fmt.Sprintf("release %s of %s", r.name, r.project))
				break
			}
		}
	}
	return out, nil
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

const userColumns = `id, username, display_name, password_hash, is_admin, created_at`

func scanUser(s scanner) (model.User, error) {
	var u model.User
	var created int64
	err := s.Scan(&u.ID, &u.Username, &u.DisplayName, &u.PasswordHash, &u.IsAdmin, &created)
	u.CreatedAt = fromMicros(created)
	return u, err
}

// CreateUser stores a new user.
func (q *Queries) CreateUser(ctx context.Context, u *model.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	var existing string
	err := q.queryRow(ctx, `SELECT id FROM users WHERE username_key = ?`, model.NameKey(u.Username)).Scan(&existing)
	switch {
	case err == nil:
		return conflict("user %q already exists", u.Username)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("create user: %w", err)
	}
	id, _, err := q.nextID(ctx, "Users")
	if err != nil {
		return err
	}
	u.ID = id
	u.CreatedAt = fromMicros(toMicros(q.now()))
	_, err = q.exec(ctx, `INSERT INTO users (`+userColumns+`, username_key) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Username, u.DisplayName, u.PasswordHash, u.IsAdmin, toMicros(u.CreatedAt), model.NameKey(u.Username))
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// GetUser reads one user by id.
func (q *Queries) GetUser(ctx context.Context, id string) (model.User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("user", id)
	}
	return u, err
}

// CountUsers tells whether the server has been set up.
func (q *Queries) CountUsers(ctx context.Context) (int, error) {
	return q.count(ctx, `SELECT COUNT(*) FROM users`)
}

// CreateAPIKey stores a key's hash for a user.
func (q *Queries) CreateAPIKey(ctx context.Context, k *model.APIKey) error {
	id, _, err := q.nextID(ctx, "APIKeys")
	if err != nil {
		return err
	}
	k.ID = id
	k.CreatedAt = fromMicros(toMicros(q.now()))
	_, err = q.exec(ctx, `INSERT INTO api_keys (id, user_id, purpose, key_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.UserID, k.Purpose, k.Hash, toMicros(k.CreatedAt), nullMicros(k.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create API key: %w", err)
	}
	return nil
}

// FindAPIKey returns the key with the given hash and its user.
func (q *Queries) FindAPIKey(ctx context.Context, hash string) (model.APIKey, model.User, error) {
	var k model.APIKey
	var created int64
	var expires, used sql.NullInt64
	err := q.queryRow(ctx, `SELECT id, user_id, purpose, key_hash, created_at, expires_at, last_used_at FROM api_keys WHERE key_hash = ?`, hash).
		Scan(&k.ID, &k.UserID, &k.Purpose, &k.Hash, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return k, model.User{}, notFound("API key", "")
	}
	if err != nil {
		return k, model.User{}, fmt.Errorf("find API key: %w", err)
	}
	k.CreatedAt, k.ExpiresAt, k.LastUsedAt = fromMicros(created), fromNullMicros(expires), fromNullMicros(used)
	u, err := q.GetUser(ctx, k.UserID)
	return k, u, err
}

// TouchAPIKey records that a key was used.
func (q *Queries) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	_, err := q.exec(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, toMicros(at), id)
	return err
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

const userColumns = `id, username, display_name, password_hash, is_admin, created_at, email, is_service, disabled, external_id`

func scanUser(s scanner) (model.User, error) {
	var u model.User
	var created int64
	err := s.Scan(&u.ID, &u.Username, &u.DisplayName, &u.PasswordHash, &u.IsAdmin, &created,
		&u.EmailAddress, &u.IsService, &u.Disabled, &u.ExternalID)
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
	if err := q.checkExternalIDFree(ctx, u); err != nil {
		return err
	}
	id, _, err := q.nextID(ctx, "Users")
	if err != nil {
		return err
	}
	u.ID = id
	u.CreatedAt = fromMicros(toMicros(q.now()))
	_, err = q.exec(ctx, `INSERT INTO users (`+userColumns+`, username_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Username, u.DisplayName, u.PasswordHash, u.IsAdmin, toMicros(u.CreatedAt),
		u.EmailAddress, u.IsService, u.Disabled, u.ExternalID, model.NameKey(u.Username))
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// UpdateUser replaces a user's fields (the username and kind stay). A user
// being disabled loses every session and API key in the same transaction.
func (q *Queries) UpdateUser(ctx context.Context, u *model.User) error {
	old, err := q.GetUser(ctx, u.ID)
	if err != nil {
		return err
	}
	u.Username, u.IsService, u.CreatedAt = old.Username, old.IsService, old.CreatedAt
	if u.PasswordHash == "" {
		u.PasswordHash = old.PasswordHash
	}
	if u.ExternalID == "" {
		u.ExternalID = old.ExternalID
	}
	if err := u.Validate(); err != nil {
		return err
	}
	if err := q.checkExternalIDFree(ctx, u); err != nil {
		return err
	}
	if old.IsAdmin && (!u.IsAdmin || u.Disabled) {
		n, err := q.count(ctx, `SELECT COUNT(*) FROM users WHERE is_admin = ? AND disabled = ? AND id <> ?`, true, false, u.ID)
		if err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		if n == 0 {
			return conflict("%s is the last enabled administrator; make another user an administrator first", u.Username)
		}
	}
	_, err = q.exec(ctx, `UPDATE users SET display_name = ?, password_hash = ?, is_admin = ?, email = ?, disabled = ?, external_id = ? WHERE id = ?`,
		u.DisplayName, u.PasswordHash, u.IsAdmin, u.EmailAddress, u.Disabled, u.ExternalID, u.ID)
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	if u.Disabled && !old.Disabled {
		return q.RevokeUserAccess(ctx, u.ID)
	}
	return nil
}

// RevokeUserAccess ends a user's sessions and deletes their API keys.
func (q *Queries) RevokeUserAccess(ctx context.Context, userID string) error {
	if _, err := q.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("end sessions of %s: %w", userID, err)
	}
	if _, err := q.exec(ctx, `DELETE FROM api_keys WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("revoke API keys of %s: %w", userID, err)
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

// FindUser reads one user by id or username.
func (q *Queries) FindUser(ctx context.Context, idOrName string) (model.User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ? OR username_key = ?`, idOrName, model.NameKey(idOrName)))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("user", idOrName)
	}
	return u, err
}

// FindUserByExternalID reads the user linked to an OpenID Connect subject.
func (q *Queries) FindUserByExternalID(ctx context.Context, externalID string) (model.User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE external_id = ? AND external_id <> ''`, externalID))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("user", externalID)
	}
	return u, err
}

// ListUsers returns a page of users by username and the total.
func (q *Queries) ListUsers(ctx context.Context, opts ListOptions) ([]model.User, int, error) {
	where, args := opts.nameFilter(nil, nil, "username_key")
	total, err := q.count(ctx, `SELECT COUNT(*) FROM users`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+userColumns+` FROM users`+whereClause(where)+` ORDER BY username_key`+opts.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	out, err := collect(rows, scanUser)
	return out, total, err
}

// CountUsers tells whether the server has been set up.
func (q *Queries) CountUsers(ctx context.Context) (int, error) {
	return q.count(ctx, `SELECT COUNT(*) FROM users`)
}

const apiKeyColumns = `id, user_id, purpose, key_hash, created_at, expires_at, last_used_at`

func scanAPIKey(s scanner) (model.APIKey, error) {
	var k model.APIKey
	var created int64
	var expires, used sql.NullInt64
	err := s.Scan(&k.ID, &k.UserID, &k.Purpose, &k.Hash, &created, &expires, &used)
	k.CreatedAt, k.ExpiresAt, k.LastUsedAt = fromMicros(created), fromNullMicros(expires), fromNullMicros(used)
	return k, err
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

// ListAPIKeys returns a user's keys (hashes included; callers drop them).
func (q *Queries) ListAPIKeys(ctx context.Context, userID string) ([]model.APIKey, error) {
	rows, err := q.query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return collect(rows, scanAPIKey)
}

// DeleteAPIKey revokes one of a user's keys.
func (q *Queries) DeleteAPIKey(ctx context.Context, userID, keyID string) error {
	res, err := q.exec(ctx, `DELETE FROM api_keys WHERE id = ? AND user_id = ?`, keyID, userID)
	if err != nil {
		return fmt.Errorf("revoke API key: %w", err)
	}
	return mustAffect(res, "API key", keyID)
}

// FindAPIKey returns the key with the given hash and its user.
func (q *Queries) FindAPIKey(ctx context.Context, hash string) (model.APIKey, model.User, error) {
	k, err := scanAPIKey(q.queryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE key_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return k, model.User{}, notFound("API key", "")
	}
	if err != nil {
		return k, model.User{}, fmt.Errorf("find API key: %w", err)
	}
	u, err := q.GetUser(ctx, k.UserID)
	return k, u, err
}

// TouchAPIKey records that a key was used.
func (q *Queries) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	_, err := q.exec(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, toMicros(at), id)
	return err
}

const sessionColumns = `id, user_id, csrf_token, address, created_at, expires_at, last_seen_at`

func scanSession(s scanner) (model.Session, error) {
	var x model.Session
	var created, expires, seen int64
	err := s.Scan(&x.ID, &x.UserID, &x.CSRFToken, &x.Address, &created, &expires, &seen)
	x.CreatedAt, x.ExpiresAt, x.LastSeenAt = fromMicros(created), fromMicros(expires), fromMicros(seen)
	return x, err
}

// CreateSession stores a new login under the hash of its token.
func (q *Queries) CreateSession(ctx context.Context, s *model.Session, tokenHash string) error {
	id, _, err := q.nextID(ctx, "Sessions")
	if err != nil {
		return err
	}
	s.ID = id
	s.CreatedAt = fromMicros(toMicros(q.now()))
	s.LastSeenAt = s.CreatedAt
	_, err = q.exec(ctx, `INSERT INTO sessions (`+sessionColumns+`, token_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.UserID, s.CSRFToken, s.Address, toMicros(s.CreatedAt), toMicros(s.ExpiresAt), toMicros(s.LastSeenAt), tokenHash)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// FindSession returns the session with the given token hash and its user.
func (q *Queries) FindSession(ctx context.Context, tokenHash string) (model.Session, model.User, error) {
	s, err := scanSession(q.queryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE token_hash = ?`, tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return s, model.User{}, notFound("session", "")
	}
	if err != nil {
		return s, model.User{}, fmt.Errorf("find session: %w", err)
	}
	u, err := q.GetUser(ctx, s.UserID)
	return s, u, err
}

// TouchSession records a session's use and moves its idle expiry.
func (q *Queries) TouchSession(ctx context.Context, id string, at, expires time.Time) error {
	_, err := q.exec(ctx, `UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id = ?`, toMicros(at), toMicros(expires), id)
	return err
}

// DeleteSession ends one session.
func (q *Queries) DeleteSession(ctx context.Context, id string) error {
	_, err := q.exec(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return err
}

// DeleteExpiredSessions removes sessions past their expiry.
func (q *Queries) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := q.exec(ctx, `DELETE FROM sessions WHERE expires_at < ?`, toMicros(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}

// EndSessionsExcept ends a user's sessions but one (the caller's own).
func (q *Queries) EndSessionsExcept(ctx context.Context, userID, keepID string) error {
	if _, err := q.exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, keepID); err != nil {
		return fmt.Errorf("end sessions of %s: %w", userID, err)
	}
	return nil
}

// checkExternalIDFree refuses to link one OpenID Connect identity to two users.
func (q *Queries) checkExternalIDFree(ctx context.Context, u *model.User) error {
	if u.ExternalID == "" {
		return nil
	}
	var other string
	err := q.queryRow(ctx, `SELECT username FROM users WHERE external_id = ? AND id <> ?`, u.ExternalID, u.ID).Scan(&other)
	switch {
	case err == nil:
		return conflict("the identity %s is already linked to user %s", u.ExternalID, other)
	case errors.Is(err, sql.ErrNoRows):
		return nil
	}
	return fmt.Errorf("check external id: %w", err)
}

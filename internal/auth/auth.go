// Package auth decides who is calling: API keys for scripts and CI, and the
// first administrator a new server creates. It is the one place credentials
// are checked.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// keyPattern is the shape of every API key: "API-" and upper-case letters
// and digits, as Octopus's are, so tools that check the shape accept ours.
var keyPattern = regexp.MustCompile(`^API-[A-Z0-9]+$`)

// NewAPIKey makes a random key with 130 bits of entropy.
func NewAPIKey() string { return "API-" + rand.Text() }

// ValidKeyFormat checks a key's shape.
func ValidKeyFormat(key string) error {
	if !keyPattern.MatchString(key) {
		return errors.New("API keys look like API- followed by upper-case letters and digits, e.g. API-ABCD1234EFGH5678")
	}
	return nil
}

// HashKey is what the store keeps of a key. Keys are long and random, so a
// plain SHA-256 is enough and keeps every request's check cheap.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// HashPassword hashes a password for storage.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches a stored hash.
func CheckPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// Bootstrap is what a first start created, to be shown once.
type Bootstrap struct {
	Username string
	Password string
	APIKey   string
}

// EnsureAdmin creates the first administrator and an API key for it when the
// server has no users yet. The key is apiKey when given, else random. It
// returns nil when the server was already set up.
func EnsureAdmin(ctx context.Context, s *store.Store, apiKey string) (*Bootstrap, error) {
	if apiKey != "" {
		if err := ValidKeyFormat(apiKey); err != nil {
			return nil, fmt.Errorf("admin API key: %w", err)
		}
	}
	var b *Bootstrap
	err := s.Tx(ctx, func(q *store.Queries) error {
		n, err := q.CountUsers(ctx)
		if err != nil || n > 0 {
			return err
		}
		b = &Bootstrap{Username: "admin", Password: rand.Text(), APIKey: apiKey}
		if b.APIKey == "" {
			b.APIKey = NewAPIKey()
		}
		hash, err := HashPassword(b.Password)
		if err != nil {
			return err
		}
		u := model.User{Username: b.Username, DisplayName: "Administrator", IsAdmin: true, PasswordHash: hash}
		if err := q.CreateUser(ctx, &u); err != nil {
			return err
		}
		return q.CreateAPIKey(ctx, &model.APIKey{UserID: u.ID, Purpose: "created at first start", Hash: HashKey(b.APIKey)})
	})
	if err != nil {
		return nil, fmt.Errorf("create the first administrator: %w", err)
	}
	return b, nil
}

// Error is a refused authentication, with what the caller should do.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// Principal is who a request acts as.
type Principal struct {
	User  model.User
	KeyID string
}

// Authenticator checks API keys on requests.
type Authenticator struct {
	store *store.Store
	clock func() time.Time

	mu      sync.Mutex
	touched map[string]time.Time // key id -> when last_used_at was last written
}

// NewAuthenticator returns an authenticator over the store's keys.
func NewAuthenticator(s *store.Store) *Authenticator {
	return &Authenticator{store: s, clock: s.Now, touched: map[string]time.Time{}}
}

// KeyFromRequest finds the API key a request carries, in
// "Authorization: Bearer KEY" or "X-Pulpo-ApiKey: KEY" (or Octopus's header).
func KeyFromRequest(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if key, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(key)
		}
		return h // malformed; reported as such
	}
	for _, name := range []string{"X-Pulpo-ApiKey", "X-Octopus-ApiKey"} {
		if key := r.Header.Get(name); key != "" {
			return strings.TrimSpace(key)
		}
	}
	return ""
}

// Authenticate returns who the request acts as, or an *Error.
func (a *Authenticator) Authenticate(ctx context.Context, r *http.Request) (Principal, error) {
	key := KeyFromRequest(r)
	if key == "" {
		return Principal{}, &Error{Msg: "authentication required: send an API key as 'Authorization: Bearer API-…' or 'X-Pulpo-ApiKey: API-…'"}
	}
	if err := ValidKeyFormat(key); err != nil {
		return Principal{}, &Error{Msg: "the API key is malformed: " + err.Error()}
	}
	k, u, err := a.store.Read().FindAPIKey(ctx, HashKey(key))
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, &Error{Msg: "the API key is not valid: it is unknown or was revoked"}
	}
	if err != nil {
		return Principal{}, fmt.Errorf("check API key: %w", err)
	}
	now := a.clock()
	if k.ExpiresAt != nil && now.After(*k.ExpiresAt) {
		return Principal{}, &Error{Msg: fmt.Sprintf("the API key expired at %s; create a new one", k.ExpiresAt.Format(time.RFC3339))}
	}
	a.touch(ctx, k.ID, now)
	return Principal{User: u, KeyID: k.ID}, nil
}

// touch records a key's use at most once a minute, so reads stay reads.
func (a *Authenticator) touch(ctx context.Context, keyID string, now time.Time) {
	a.mu.Lock()
	last := a.touched[keyID]
	if now.Sub(last) < time.Minute {
		a.mu.Unlock()
		return
	}
	a.touched[keyID] = now
	a.mu.Unlock()
	a.store.Tx(ctx, func(q *store.Queries) error { return q.TouchAPIKey(ctx, keyID, now) })
}

type principalKey struct{}

// WithPrincipal stores who the request acts as in its context.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns who the request acts as.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

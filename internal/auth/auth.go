// Package auth decides who is calling: API keys for scripts and CI, login
// sessions for browsers (with their CSRF tokens), throttling of password
// guesses, and the first administrator a new server creates. It is the one
// place credentials are checked.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"

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

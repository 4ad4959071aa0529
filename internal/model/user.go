package model

import (
	"strings"
	"time"
	"unicode"
)

// User is a person or a service account that acts on the server.
type User struct {
	ID           string `json:"id"`
	Username     string `json:"username"`
	DisplayName  string `json:"displayName,omitempty"`
	EmailAddress string `json:"emailAddress,omitempty"`
	// IsAdmin users hold every permission everywhere, whatever their teams.
	IsAdmin bool `json:"isAdmin"`
	// IsService accounts are for CI and scripts: API keys only, no password.
	IsService bool `json:"isService"`
	// Disabled users cannot log in; their sessions and keys stop working.
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"createdAt"`
	// ExternalID links the user to an OpenID Connect subject ("issuer|sub").
	ExternalID string `json:"externalId,omitempty"`
	// PasswordHash is never sent anywhere.
	PasswordHash string `json:"-"`
}

// Validate checks the fields a user controls.
func (u *User) Validate() error {
	p := problems{subject: "user"}
	checkName(&p, "username", u.Username)
	if strings.IndexFunc(u.Username, unicode.IsSpace) >= 0 {
		p.add("username", "must not contain spaces")
	}
	if u.EmailAddress != "" && !strings.Contains(u.EmailAddress, "@") {
		p.add("emailAddress", "%q is not an email address", u.EmailAddress)
	}
	if u.IsService && u.PasswordHash != "" {
		p.add("password", "service accounts have no password: they use API keys")
	}
	return p.err()
}

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// CheckPassword says what is wrong with a new password, or nil.
func CheckPassword(password string) error {
	p := problems{subject: "password"}
	if len([]rune(password)) < MinPasswordLength {
		p.add("password", "must be at least %d characters", MinPasswordLength)
	}
	// bcrypt reads 72 bytes at most; refusing longer ones beats ignoring the rest.
	if len(password) > 72 {
		p.add("password", "must be at most 72 bytes")
	}
	return p.err()
}

// APIKey lets a script or CI job act as a user. Only a hash of the key is kept.
type APIKey struct {
	ID         string     `json:"id"`
	UserID     string     `json:"userId"`
	Purpose    string     `json:"purpose,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	Hash       string     `json:"-"`
}

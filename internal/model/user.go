package model

import "time"

// User is a person or a service account that acts on the server.
type User struct {
	ID          string    `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"displayName,omitempty"`
	IsAdmin     bool      `json:"isAdmin"`
	CreatedAt   time.Time `json:"createdAt"`
	// PasswordHash is never sent anywhere.
	PasswordHash string `json:"-"`
}

// Validate checks the fields a user controls.
func (u *User) Validate() error {
	p := problems{subject: "user"}
	checkName(&p, "username", u.Username)
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

package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// OIDCConfig turns on OpenID Connect login.
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is this server's callback, as registered at the issuer.
	RedirectURL string
	// AutoCreate makes a user (with no teams) on a first login; without
	// it, an administrator links users first (their externalId).
	AutoCreate bool
}

// OIDC logs people in through an OpenID Connect issuer (authorization code
// flow with PKCE, nonce and state).
type OIDC struct {
	cfg OIDCConfig

	mu       sync.Mutex
	provider *oidc.Provider // discovered on first use, so the server starts while the issuer is down
}

// NewOIDC returns the login flow for an issuer.
func NewOIDC(cfg OIDCConfig) *OIDC { return &OIDC{cfg: cfg} }

// oidcCookie keeps the flow's state between the redirect and the callback.
const oidcCookie = "pulpo_oidc"

type oidcState struct {
	State, Nonce, Verifier, Redirect string
}

// IssuerError says the issuer could not be reached or refused.
type IssuerError struct{ Msg string }

func (e *IssuerError) Error() string { return e.Msg }

func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, oauth2.Config, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider == nil {
		p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
		if err != nil {
			return nil, oauth2.Config{}, &IssuerError{Msg: fmt.Sprintf("the OpenID Connect issuer %s cannot be reached: %v", o.cfg.Issuer, err)}
		}
		o.provider = p
	}
	return o.provider, oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: o.cfg.RedirectURL,
		Endpoint: o.provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}, nil
}

// Start sends the browser to the issuer. redirect is where to go after
// login: a path on this server only.
func (o *OIDC) Start(w http.ResponseWriter, r *http.Request, redirect string, secure bool) error {
	_, conf, err := o.discover(r.Context())
	if err != nil {
		return err
	}
	if !strings.HasPrefix(redirect, "/") || strings.HasPrefix(redirect, "//") || strings.Contains(redirect, `\`) {
		redirect = "/"
	}
	st := oidcState{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier(), Redirect: redirect}
	raw, _ := json.Marshal(st)
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: base64.RawURLEncoding.EncodeToString(raw), Path: "/", MaxAge: 600,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, conf.AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)), http.StatusFound)
	return nil
}

// Identity is who the issuer says logged in.
type Identity struct {
	ExternalID string // issuer|subject
	Username   string
	Name       string
	Email      string
}

// Finish checks the issuer's answer (state, code, ID token, nonce) and
// returns who logged in and where to go next.
func (o *OIDC) Finish(w http.ResponseWriter, r *http.Request) (Identity, string, error) {
	c, err := r.Cookie(oidcCookie)
	if err != nil {
		return Identity{}, "", &Error{Msg: "the login took too long or cookies are blocked; start again"}
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	var st oidcState
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || json.Unmarshal(raw, &st) != nil || st.State == "" {
		return Identity{}, "", &Error{Msg: "the login state is damaged; start again"}
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return Identity{}, "", &Error{Msg: fmt.Sprintf("the issuer refused the login: %s %s", e, q.Get("error_description"))}
	}
	if q.Get("state") != st.State {
		return Identity{}, "", &Error{Msg: "the login answer does not belong to this browser's login (state mismatch); start again"}
	}
	provider, conf, err := o.discover(r.Context())
	if err != nil {
		return Identity{}, "", err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return Identity{}, "", &Error{Msg: "the issuer did not accept the login code: " + err.Error()}
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return Identity{}, "", &Error{Msg: "the issuer sent no ID token"}
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: o.cfg.ClientID}).Verify(ctx, rawID)
	if err != nil {
		return Identity{}, "", &Error{Msg: "the ID token is not valid: " + err.Error()}
	}
	if idt.Nonce != st.Nonce {
		return Identity{}, "", &Error{Msg: "the ID token was not made for this login (nonce mismatch)"}
	}
	var claims struct {
		Email             string `json:"email"`
		Name              string `json:"name"`
		PreferredUsername string `json:"preferred_username"`
	}
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, "", &Error{Msg: "the ID token's claims cannot be read: " + err.Error()}
	}
	id := Identity{ExternalID: idt.Issuer + "|" + idt.Subject, Name: claims.Name, Email: claims.Email, Username: claims.PreferredUsername}
	if id.Username == "" {
		id.Username = claims.Email
	}
	if id.Username == "" {
		id.Username = idt.Subject
	}
	return id, st.Redirect, nil
}

// LoginExternal opens a session for someone an issuer vouched for: the
// user linked to that identity, or a new one (with no teams) when the
// server creates users on first login.
func (a *Authenticator) LoginExternal(ctx context.Context, id Identity, autoCreate bool, address string) (model.Session, string, model.User, error) {
	var u model.User
	var s model.Session
	token := rand.Text() + rand.Text()
	err := a.store.Tx(ctx, func(q *store.Queries) error {
		var err error
		u, err = q.FindUserByExternalID(ctx, id.ExternalID)
		switch {
		case errors.Is(err, store.ErrNotFound) && autoCreate:
			if u, err = createExternalUser(ctx, q, id); err != nil {
				return err
			}
		case errors.Is(err, store.ErrNotFound):
			return &Error{Msg: fmt.Sprintf("no user is linked to %s; ask an administrator to add you", id.Username)}
		case err != nil:
			return err
		}
		if u.Disabled {
			return &Error{Msg: fmt.Sprintf("user %s is disabled", u.Username)}
		}
		now := a.clock()
		s = model.Session{UserID: u.ID, CSRFToken: rand.Text(), Address: address, ExpiresAt: min64(now.Add(a.SessionIdle), now.Add(a.SessionMax))}
		if err := q.CreateSession(ctx, &s, HashKey(token)); err != nil {
			return err
		}
		return q.AppendAudit(ctx, &model.AuditEvent{ActorID: u.ID, Actor: u.Username, Address: address, Action: model.AuditLogin,
			ObjectType: "user", ObjectID: u.ID, ObjectName: u.Username, Summary: u.Username + " logged in with OpenID Connect"})
	})
	if err != nil {
		return model.Session{}, "", model.User{}, err
	}
	return s, token, u, nil
}

// createExternalUser makes a user for an identity, under a free username.
func createExternalUser(ctx context.Context, q *store.Queries, id Identity) (model.User, error) {
	base := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return '-'
		}
		return r
	}, id.Username)
	if len(base) > 100 {
		base = base[:100]
	}
	for i := 1; i < 100; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		if _, err := q.FindUser(ctx, name); errors.Is(err, store.ErrNotFound) {
			u := model.User{Username: name, DisplayName: id.Name, EmailAddress: id.Email, ExternalID: id.ExternalID}
			if !strings.Contains(u.EmailAddress, "@") {
				u.EmailAddress = ""
			}
			return u, q.CreateUser(ctx, &u)
		} else if err != nil {
			return model.User{}, err
		}
	}
	return model.User{}, fmt.Errorf("no free username for %s", id.Username)
}

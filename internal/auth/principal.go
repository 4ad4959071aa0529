package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// SessionCookie is the cookie that carries a browser's session token.
const SessionCookie = "pulpo_session"

// CSRFHeader carries a session's CSRF token on every request that changes
// something; API-key requests need none, since browsers never send keys
// on their own.
const CSRFHeader = "X-CSRF-Token"

// Error is a refused authentication, with what the caller should do.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// ThrottledError says too many logins failed; try again after Wait.
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins; try again in %s", e.Wait.Round(time.Second))
}

// Principal is who a request acts as.
type Principal struct {
	User      model.User
	KeyID     string
	SessionID string
	// CSRFToken is the session's; empty for API keys.
	CSRFToken string
	Rights    access.Rights
	Address   string
}

// Actor is the principal as the audit log names it.
func (p Principal) Actor() store.Actor {
	return store.Actor{ID: p.User.ID, Name: p.User.Username, Address: p.Address}
}

// Authenticator checks API keys and sessions on requests, and logins.
type Authenticator struct {
	store *store.Store
	clock func() time.Time
	// SessionIdle ends a session unused this long; SessionMax any session
	// this old.
	SessionIdle, SessionMax time.Duration
	Throttle                *Throttle

	// dummyHash is checked against when a user does not exist; made on
	// the first such login, not at every server start.
	dummyOnce sync.Once
	dummyHash string

	mu      sync.Mutex
	touched map[string]time.Time // key or session id -> when last written
}

// NewAuthenticator returns an authenticator over the store's users.
func NewAuthenticator(s *store.Store) *Authenticator {
	return &Authenticator{store: s, clock: s.Now, touched: map[string]time.Time{},
		SessionIdle: 12 * time.Hour, SessionMax: 7 * 24 * time.Hour, Throttle: NewThrottle(s.Now)}
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

// Address is the client's IP address (the connection's; proxies are not
// trusted to say otherwise).
func Address(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Authenticate returns who the request acts as, or an *Error.
func (a *Authenticator) Authenticate(ctx context.Context, r *http.Request) (Principal, error) {
	var p Principal
	var err error
	if key := KeyFromRequest(r); key != "" {
		p, err = a.byKey(ctx, key)
	} else if c, cerr := r.Cookie(SessionCookie); cerr == nil && c.Value != "" {
		p, err = a.bySession(ctx, c.Value)
	} else {
		return Principal{}, &Error{Msg: "authentication required: send an API key as 'Authorization: Bearer API-…' or 'X-Pulpo-ApiKey: API-…', or log in"}
	}
	if err != nil {
		return Principal{}, err
	}
	if p.User.Disabled {
		return Principal{}, &Error{Msg: fmt.Sprintf("user %s is disabled", p.User.Username)}
	}
	p.Address = Address(r)
	if p.Rights, err = a.RightsOf(ctx, p.User); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// RightsOf works out what a user may do now.
func (a *Authenticator) RightsOf(ctx context.Context, u model.User) (access.Rights, error) {
	if u.IsAdmin {
		return access.Rights{Admin: true}, nil
	}
	q := a.store.Read()
	teams, err := q.TeamsOf(ctx, u.ID)
	if err != nil {
		return access.Rights{}, fmt.Errorf("load teams of %s: %w", u.Username, err)
	}
	roles, err := q.RolesByID(ctx)
	if err != nil {
		return access.Rights{}, fmt.Errorf("load roles: %w", err)
	}
	return access.For(u, teams, roles), nil
}

func (a *Authenticator) byKey(ctx context.Context, key string) (Principal, error) {
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
	if a.due("key:"+k.ID, now) {
		a.store.Tx(ctx, func(q *store.Queries) error { return q.TouchAPIKey(ctx, k.ID, now) })
	}
	return Principal{User: u, KeyID: k.ID}, nil
}

func (a *Authenticator) bySession(ctx context.Context, token string) (Principal, error) {
	s, u, err := a.store.Read().FindSession(ctx, HashKey(token))
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, &Error{Msg: "your session has ended; log in again"}
	}
	if err != nil {
		return Principal{}, fmt.Errorf("check session: %w", err)
	}
	now := a.clock()
	if now.After(s.ExpiresAt) {
		return Principal{}, &Error{Msg: "your session has expired; log in again"}
	}
	if a.due("session:"+s.ID, now) {
		expires := min64(now.Add(a.SessionIdle), s.CreatedAt.Add(a.SessionMax))
		a.store.Tx(ctx, func(q *store.Queries) error { return q.TouchSession(ctx, s.ID, now, expires) })
	}
	return Principal{User: u, SessionID: s.ID, CSRFToken: s.CSRFToken}, nil
}

func min64(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// due says whether a key's or session's last use should be written now: at
// most once a minute, so reads stay reads.
func (a *Authenticator) due(id string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Sub(a.touched[id]) < time.Minute {
		return false
	}
	a.touched[id] = now
	return true
}

// CheckCSRF refuses a session request that changes something without the
// session's CSRF token. Requests with API keys, and safe methods, pass.
func CheckCSRF(r *http.Request, p Principal) error {
	if p.SessionID == "" {
		return nil
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.CSRFToken)) != 1 {
		return &CSRFError{}
	}
	return nil
}

// CSRFError is a session request without its CSRF token.
type CSRFError struct{}

func (*CSRFError) Error() string {
	return "the request lacks this session's CSRF token: send it in the " + CSRFHeader + " header (login returns it)"
}

// Login checks a username and password and opens a session. Failed
// attempts are throttled per username and per address.
func (a *Authenticator) Login(ctx context.Context, username, password, address string) (model.Session, string, model.User, error) {
	if wait := a.Throttle.Wait(username, address); wait > 0 {
		return model.Session{}, "", model.User{}, &ThrottledError{Wait: wait}
	}
	fail := func() (model.Session, string, model.User, error) {
		a.Throttle.Failed(username, address)
		return model.Session{}, "", model.User{}, &Error{Msg: "the username or password is wrong"}
	}
	u, err := a.store.Read().FindUser(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		// Spend the time a real check takes, so timing does not tell
		// which usernames exist.
		a.dummyOnce.Do(func() { a.dummyHash, _ = HashPassword("not a real password, only here to spend time") })
		CheckPassword(a.dummyHash, password)
		return fail()
	}
	if err != nil {
		return model.Session{}, "", model.User{}, fmt.Errorf("log in: %w", err)
	}
	if u.PasswordHash == "" || !CheckPassword(u.PasswordHash, password) {
		return fail()
	}
	if u.Disabled {
		return model.Session{}, "", u, &Error{Msg: fmt.Sprintf("user %s is disabled", u.Username)}
	}
	a.Throttle.Succeeded(username)
	token := rand.Text() + rand.Text()
	now := a.clock()
	s := model.Session{UserID: u.ID, CSRFToken: rand.Text(), Address: address, ExpiresAt: min64(now.Add(a.SessionIdle), now.Add(a.SessionMax))}
	err = a.store.Tx(ctx, func(q *store.Queries) error {
		if err := q.CreateSession(ctx, &s, HashKey(token)); err != nil {
			return err
		}
		return q.AppendAudit(ctx, &model.AuditEvent{ActorID: u.ID, Actor: u.Username, Address: address, Action: model.AuditLogin,
			ObjectType: "user", ObjectID: u.ID, ObjectName: u.Username, Summary: u.Username + " logged in"})
	})
	if err != nil {
		return model.Session{}, "", u, fmt.Errorf("log in: %w", err)
	}
	return s, token, u, nil
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

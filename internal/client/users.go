package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// sessionCookie and csrfHeader are the server's names for a login session
// (see internal/auth).
const (
	sessionCookie = "pulpo_session"
	csrfHeader    = "X-CSRF-Token"
)

// Login logs in with a password (the endpoint is public, so the client may
// have no API key). From then on the client's requests carry the session
// cookie and its CSRF token, which the login answer also returns.
// Too many failed logins are refused with status 429.
func (c *Client) Login(ctx context.Context, username, password string) (wire.LoginResponse, error) {
	var out wire.LoginResponse
	req, err := c.request(ctx, "POST", "/users/login", wire.LoginRequest{Username: username, Password: password})
	if err != nil {
		return out, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		req = req.WithContext(ctx)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return out, fmt.Errorf("cannot reach the Pulpo server at %s: %w", strings.TrimSuffix(c.base, "/api/v1"), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return out, readError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return out, fmt.Errorf("read answer of login: %w", err)
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie && ck.Value != "" {
			cookie = ck
		}
	}
	if cookie == nil {
		return out, errors.New("the server's login answer set no session cookie")
	}
	// The cookie is added by hand rather than by a cookie jar: a server
	// behind a TLS proxy marks it Secure even when reached over plain HTTP.
	base := c.http.Transport
	if st, ok := base.(*sessionTransport); ok {
		base = st.base // a new login replaces the old session
	}
	c.http.Transport = &sessionTransport{base: base,
		cookie: &http.Cookie{Name: cookie.Name, Value: cookie.Value}, csrf: out.CSRFToken}
	return out, nil
}

// sessionTransport adds a login session to every request.
type sessionTransport struct {
	base   http.RoundTripper
	cookie *http.Cookie
	csrf   string
}

func (t *sessionTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.AddCookie(t.cookie)
	if t.csrf != "" {
		r.Header.Set(csrfHeader, t.csrf)
	}
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// Logout ends the client's login session.
func (c *Client) Logout(ctx context.Context) error {
	return c.do(ctx, "POST", "/users/logout", nil, nil)
}

// LoginAndCreateKey logs in with a password, creates an API key for the
// user itself (expiresAt nil: it never expires) and ends the session again.
// The client itself is left as it was. The key is in the answer only.
func (c *Client) LoginAndCreateKey(ctx context.Context, username, password, purpose string, expiresAt *time.Time) (model.User, wire.CreatedAPIKey, error) {
	s := &Client{base: c.base, http: &http.Client{Transport: c.http.Transport, Timeout: c.http.Timeout}}
	login, err := s.Login(ctx, username, password)
	if err != nil {
		return model.User{}, wire.CreatedAPIKey{}, err
	}
	key, err := s.CreateAPIKey(ctx, login.User.ID, wire.CreateAPIKeyRequest{Purpose: purpose, ExpiresAt: expiresAt})
	// The session was only a means to the key: end it either way.
	s.Logout(context.WithoutCancel(ctx))
	return login.User, key, err
}

// MyPermissions says what the caller may do: their teams and each role
// they hold, with its scope.
func (c *Client) MyPermissions(ctx context.Context) (wire.MyPermissions, error) {
	var p wire.MyPermissions
	return p, c.do(ctx, "GET", "/users/me/permissions", nil, &p)
}

// Users reads one page of users and service accounts.
func (c *Client) Users(ctx context.Context, o ListOptions) (wire.Page[model.User], error) {
	return list[model.User](ctx, c, "/users", o)
}

// AllUsers lists every user and service account (filters: name, partialName).
func (c *Client) AllUsers(ctx context.Context, o ListOptions) ([]model.User, error) {
	return all[model.User](ctx, c, "/users", o)
}

// FindUser reads a user by id or username.
func (c *Client) FindUser(ctx context.Context, idOrUsername string) (model.User, error) {
	var u model.User
	if idOrUsername == "" {
		return u, errors.New("no user given")
	}
	return u, c.do(ctx, "GET", "/users/"+url.PathEscape(idOrUsername), nil, &u)
}

// CreateUser creates a person (with a password) or a service account.
func (c *Client) CreateUser(ctx context.Context, req wire.CreateUserRequest) (model.User, error) {
	var u model.User
	return u, c.do(ctx, "POST", "/users", req, &u)
}

// UpdateUser changes a user; disabling one ends their sessions and revokes
// their API keys.
func (c *Client) UpdateUser(ctx context.Context, id string, req wire.UpdateUserRequest) (model.User, error) {
	var u model.User
	return u, c.do(ctx, "PUT", "/users/"+url.PathEscape(id), req, &u)
}

// SetPassword sets a user's password. Changing one's own needs the
// current one; others' need UserEdit and no current password.
func (c *Client) SetPassword(ctx context.Context, id, password, currentPassword string) error {
	return c.do(ctx, "POST", "/users/"+url.PathEscape(id)+"/password",
		wire.PasswordRequest{Password: password, CurrentPassword: currentPassword}, nil)
}

// APIKeys lists a user's API keys (never the keys themselves).
func (c *Client) APIKeys(ctx context.Context, userID string) ([]model.APIKey, error) {
	var out []model.APIKey
	return out, c.do(ctx, "GET", "/users/"+url.PathEscape(userID)+"/apikeys", nil, &out)
}

// CreateAPIKey creates an API key for a user; the key is in this answer only.
func (c *Client) CreateAPIKey(ctx context.Context, userID string, req wire.CreateAPIKeyRequest) (wire.CreatedAPIKey, error) {
	var out wire.CreatedAPIKey
	return out, c.do(ctx, "POST", "/users/"+url.PathEscape(userID)+"/apikeys", req, &out)
}

// RevokeAPIKey revokes a user's API key at once.
func (c *Client) RevokeAPIKey(ctx context.Context, userID, keyID string) error {
	return c.do(ctx, "DELETE", "/users/"+url.PathEscape(userID)+"/apikeys/"+url.PathEscape(keyID), nil, nil)
}

// Permissions lists every permission and the scopes that limit it.
func (c *Client) Permissions(ctx context.Context) ([]model.PermissionInfo, error) {
	var out []model.PermissionInfo
	return out, c.do(ctx, "GET", "/permissions", nil, &out)
}

// Roles lists every role, built-in and custom.
func (c *Client) Roles(ctx context.Context) ([]model.Role, error) {
	return all[model.Role](ctx, c, "/roles", ListOptions{})
}

// FindRole reads a role by id or name. (The roles list takes no name
// filter, but reading one takes either.)
func (c *Client) FindRole(ctx context.Context, idOrName string) (model.Role, error) {
	var r model.Role
	if idOrName == "" {
		return r, errors.New("no role given")
	}
	err := c.do(ctx, "GET", "/roles/"+url.PathEscape(idOrName), nil, &r)
	if IsNotFound(err) {
		return r, &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("role %q was not found", idOrName)}
	}
	return r, err
}

// CreateRole creates a custom role.
func (c *Client) CreateRole(ctx context.Context, r model.Role) (model.Role, error) {
	var out model.Role
	return out, c.do(ctx, "POST", "/roles", r, &out)
}

// UpdateRole replaces a custom role; built-in roles cannot be changed.
func (c *Client) UpdateRole(ctx context.Context, r model.Role) (model.Role, error) {
	var out model.Role
	return out, c.do(ctx, "PUT", "/roles/"+url.PathEscape(r.ID), r, &out)
}

// DeleteRole deletes a custom role.
func (c *Client) DeleteRole(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/roles/"+url.PathEscape(id), nil, nil)
}

// Teams lists every team.
func (c *Client) Teams(ctx context.Context) ([]model.Team, error) {
	return all[model.Team](ctx, c, "/teams", ListOptions{})
}

// FindTeam reads a team by id or name.
func (c *Client) FindTeam(ctx context.Context, idOrName string) (model.Team, error) {
	return find[model.Team](ctx, c, "/teams", "team", idOrName)
}

// CreateTeam creates a team.
func (c *Client) CreateTeam(ctx context.Context, t model.Team) (model.Team, error) {
	var out model.Team
	return out, c.do(ctx, "POST", "/teams", t, &out)
}

// UpdateTeam replaces a team: its members and role grants as a whole.
func (c *Client) UpdateTeam(ctx context.Context, t model.Team) (model.Team, error) {
	var out model.Team
	return out, c.do(ctx, "PUT", "/teams/"+url.PathEscape(t.ID), t, &out)
}

// DeleteTeam deletes a team.
func (c *Client) DeleteTeam(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/teams/"+url.PathEscape(id), nil, nil)
}

// AuditQuery filters the audit log; empty fields do not filter.
type AuditQuery struct {
	// Actor is a user id or username.
	Actor         string
	ProjectID     string
	EnvironmentID string
	ObjectID      string
	// Action is create, update, delete, deploy, login, login-failed,
	// logout, action or trust-changed.
	Action string
	// From is inclusive, To exclusive.
	From, To *time.Time
	// Skip and Take page the list; the export ignores them.
	Skip, Take int
}

func (q AuditQuery) values(paged bool) url.Values {
	v := url.Values{}
	for k, val := range map[string]string{"actor": q.Actor, "projectId": q.ProjectID, "environmentId": q.EnvironmentID,
		"objectId": q.ObjectID, "action": q.Action} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if q.From != nil {
		v.Set("from", q.From.UTC().Format(time.RFC3339))
	}
	if q.To != nil {
		v.Set("to", q.To.UTC().Format(time.RFC3339))
	}
	if paged && q.Skip > 0 {
		v.Set("skip", strconv.Itoa(q.Skip))
	}
	if paged && q.Take > 0 {
		v.Set("take", strconv.Itoa(q.Take))
	}
	return v
}

func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// Audit reads one page of the audit log, newest first.
func (c *Client) Audit(ctx context.Context, q AuditQuery) (wire.Page[model.AuditEvent], error) {
	var p wire.Page[model.AuditEvent]
	return p, c.do(ctx, "GET", withQuery("/audit", q.values(true)), nil, &p)
}

// ExportAudit streams every matching audit record, newest first, to w as
// JSON lines. It is not bounded in time: cancel ctx to stop it.
func (c *Client) ExportAudit(ctx context.Context, q AuditQuery, w io.Writer) error {
	req, err := c.request(ctx, "GET", withQuery("/audit/export", q.values(false)), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the Pulpo server at %s: %w", strings.TrimSuffix(c.base, "/api/v1"), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return readError(resp)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("export audit log: %w", err)
	}
	return nil
}

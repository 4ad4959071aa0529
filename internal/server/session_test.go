package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/auth"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/server"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// tlsServer serves a node over HTTPS, as a browser would reach it.
func tlsServer(t *testing.T) (*httptest.Server, *testServer) {
	t.Helper()
	n, err := server.New(context.Background(), server.Config{DataDir: t.TempDir(), AdminAPIKey: adminKey, NodeName: "test", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewTLSServer(n.Handler())
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { hs.CloseClientConnections(); hs.Close(); n.Close() }) })
	ts := &testServer{url: hs.URL}
	return hs, ts
}

// browser is a cookie-keeping HTTPS client.
type browser struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

func newBrowser(t *testing.T, hs *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	c := hs.Client()
	c.Jar = jar
	return &browser{t: t, base: hs.URL, http: c}
}

func (b *browser) do(method, path, body string, headers map[string]string) (*http.Response, []byte) {
	b.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, b.base+path, r)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

func (b *browser) login(user, password string) (*http.Response, []byte) {
	b.t.Helper()
	resp, raw := b.do("POST", "/api/v1/users/login", fmt.Sprintf(`{"username":%q,"password":%q}`, user, password), nil)
	if resp.StatusCode == 200 {
		var lr wire.LoginResponse
		json.Unmarshal(raw, &lr)
		b.csrf = lr.CSRFToken
	}
	return resp, raw
}

// admin calls the API with the administrator's key.
func admin(t *testing.T, hs *httptest.Server, method, path string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, hs.URL+path, body)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		json.Unmarshal(raw, out)
	}
	return resp.StatusCode
}

func withKey(t *testing.T, hs *httptest.Server, key, method, path string) int {
	t.Helper()
	req, _ := http.NewRequest(method, hs.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

const alicePassword = "alice's long passphrase"

func createAlice(t *testing.T, hs *httptest.Server) model.User {
	t.Helper()
	var u model.User
	if st := admin(t, hs, "POST", "/api/v1/users", wire.CreateUserRequest{Username: "alice", Password: alicePassword}, &u); st != 201 {
		t.Fatalf("create alice: %d", st)
	}
	if st := admin(t, hs, "POST", "/api/v1/teams", model.Team{Name: "Ops", MemberIDs: []string{u.ID},
		Roles: []model.RoleGrant{{RoleID: model.RoleEnvironmentManager}}}, nil); st != 201 {
		t.Fatalf("create team: %d", st)
	}
	return u
}

func TestSessionCookiesAndCSRF(t *testing.T) {
	hs, _ := tlsServer(t)
	createAlice(t, hs)
	b := newBrowser(t, hs)

	if resp, raw := b.login("alice", "wrong password"); resp.StatusCode != 401 || !strings.Contains(string(raw), "username or password is wrong") {
		t.Fatalf("wrong password: %d %s", resp.StatusCode, raw)
	}
	resp, raw := b.login("alice", alicePassword)
	if resp.StatusCode != 200 || b.csrf == "" {
		t.Fatalf("login: %d %s", resp.StatusCode, raw)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == auth.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("login set no session cookie")
	}
	if !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" {
		t.Errorf("cookie flags: HttpOnly=%v Secure=%v SameSite=%v Path=%q; want HttpOnly, Secure, Lax, /", cookie.HttpOnly, cookie.Secure, cookie.SameSite, cookie.Path)
	}
	if strings.Contains(string(raw), cookie.Value) {
		t.Error("the session token is in the response body; it belongs in the HttpOnly cookie only")
	}

	resp, raw = b.do("GET", "/api/v1/users/me", "", nil)
	if resp.StatusCode != 200 || resp.Header.Get(auth.CSRFHeader) != b.csrf {
		t.Fatalf("me with the session: %d %s (csrf header %q)", resp.StatusCode, raw, resp.Header.Get(auth.CSRFHeader))
	}
	tests := []struct {
		name   string
		token  string
		status int
	}{
		{"missing CSRF token", "", 403},
		{"wrong CSRF token", "not-the-token", 403},
		{"right CSRF token", b.csrf, 201},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.token != "" {
				h[auth.CSRFHeader] = tt.token
			}
			resp, raw := b.do("POST", "/api/v1/environments", fmt.Sprintf(`{"name":"Env %d"}`, i), h)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, raw)
			}
			if tt.status == 403 && !strings.Contains(string(raw), "CSRF") {
				t.Errorf("the refusal does not name the CSRF token: %s", raw)
			}
		})
	}
	var envs wire.Page[model.Environment]
	admin(t, hs, "GET", "/api/v1/environments", nil, &envs)
	if envs.Total != 1 {
		t.Errorf("%d environments exist; the refused requests must store nothing", envs.Total)
	}

	if resp, raw := b.do("POST", "/api/v1/users/logout", "", map[string]string{auth.CSRFHeader: b.csrf}); resp.StatusCode != 204 {
		t.Fatalf("logout: %d %s", resp.StatusCode, raw)
	}
	// The browser dropped the cookie; replay the old one as an attacker would.
	b.http.Jar.SetCookies(mustURL(t, hs.URL), []*http.Cookie{{Name: auth.SessionCookie, Value: cookie.Value, Path: "/"}})
	if resp, raw := b.do("GET", "/api/v1/users/me", "", nil); resp.StatusCode != 401 {
		t.Fatalf("the session still works after logout: %d %s", resp.StatusCode, raw)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestDisablingAUserEndsTheirSessionsAndKeysAtOnce(t *testing.T) {
	hs, _ := tlsServer(t)
	alice := createAlice(t, hs)
	b := newBrowser(t, hs)
	if resp, raw := b.login("alice", alicePassword); resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, raw)
	}
	var key wire.CreatedAPIKey
	if st := admin(t, hs, "POST", "/api/v1/users/"+alice.ID+"/apikeys", wire.CreateAPIKeyRequest{Purpose: "CI"}, &key); st != 201 {
		t.Fatalf("create key: %d", st)
	}
	if st := withKey(t, hs, key.APIKey, "GET", "/api/v1/environments"); st != 200 {
		t.Fatalf("the key does not work: %d", st)
	}
	if st := admin(t, hs, "PUT", "/api/v1/users/"+alice.ID, wire.UpdateUserRequest{Disabled: true}, nil); st != 200 {
		t.Fatalf("disable: %d", st)
	}
	if resp, raw := b.do("GET", "/api/v1/environments", "", nil); resp.StatusCode != 401 {
		t.Errorf("the session of a disabled user still works: %d %s", resp.StatusCode, raw)
	}
	if st := withKey(t, hs, key.APIKey, "GET", "/api/v1/environments"); st != 401 {
		t.Errorf("the key of a disabled user still works: %d", st)
	}
	if resp, raw := b.login("alice", alicePassword); resp.StatusCode != 401 || !strings.Contains(string(raw), "disabled") {
		t.Errorf("a disabled user logged in: %d %s", resp.StatusCode, raw)
	}
	// Enabling again does not bring the revoked key back.
	admin(t, hs, "PUT", "/api/v1/users/"+alice.ID, wire.UpdateUserRequest{Disabled: false}, nil)
	if st := withKey(t, hs, key.APIKey, "GET", "/api/v1/environments"); st != 401 {
		t.Errorf("a revoked key came back with the user: %d", st)
	}
}

func TestAPIKeysAreShownOnceAndRevocable(t *testing.T) {
	hs, _ := tlsServer(t)
	alice := createAlice(t, hs)
	var key wire.CreatedAPIKey
	admin(t, hs, "POST", "/api/v1/users/"+alice.ID+"/apikeys", wire.CreateAPIKeyRequest{Purpose: "deploy from CI"}, &key)
	if err := auth.ValidKeyFormat(key.APIKey); err != nil {
		t.Fatal(err)
	}
	if st := withKey(t, hs, key.APIKey, "GET", "/api/v1/users/me"); st != 200 {
		t.Fatalf("key refused: %d", st)
	}
	var keys []model.APIKey
	admin(t, hs, "GET", "/api/v1/users/"+alice.ID+"/apikeys", nil, &keys)
	raw, _ := json.Marshal(keys)
	if len(keys) != 1 || keys[0].LastUsedAt == nil || strings.Contains(string(raw), key.APIKey) || strings.Contains(string(raw), auth.HashKey(key.APIKey)) {
		t.Fatalf("key list: %s", raw)
	}
	past := time.Now().Add(-time.Hour)
	if st := admin(t, hs, "POST", "/api/v1/users/"+alice.ID+"/apikeys", wire.CreateAPIKeyRequest{Purpose: "old", ExpiresAt: &past}, nil); st != 400 {
		t.Errorf("a key expiring in the past: %d, want 400", st)
	}
	if st := admin(t, hs, "DELETE", "/api/v1/users/"+alice.ID+"/apikeys/"+key.Key.ID, nil, nil); st != 204 {
		t.Fatalf("revoke: %d", st)
	}
	if st := withKey(t, hs, key.APIKey, "GET", "/api/v1/users/me"); st != 401 {
		t.Errorf("a revoked key works: %d", st)
	}
}

func TestServiceAccountsUseKeysOnly(t *testing.T) {
	hs, _ := tlsServer(t)
	if st := admin(t, hs, "POST", "/api/v1/users", wire.CreateUserRequest{Username: "ci", IsService: true, Password: "a password for a robot"}, nil); st != 400 {
		t.Errorf("a service account with a password: %d, want 400", st)
	}
	var ci model.User
	if st := admin(t, hs, "POST", "/api/v1/users", wire.CreateUserRequest{Username: "ci", IsService: true}, &ci); st != 201 {
		t.Fatalf("create service account: %d", st)
	}
	b := newBrowser(t, hs)
	if resp, _ := b.login("ci", ""); resp.StatusCode != 401 {
		t.Errorf("a service account logged in with a password: %d", resp.StatusCode)
	}
	var key wire.CreatedAPIKey
	admin(t, hs, "POST", "/api/v1/users/"+ci.ID+"/apikeys", wire.CreateAPIKeyRequest{Purpose: "pipeline"}, &key)
	if st := withKey(t, hs, key.APIKey, "GET", "/api/v1/users/me"); st != 200 {
		t.Errorf("the service account's key: %d", st)
	}
	if st := withKey(t, hs, key.APIKey, "GET", "/api/v1/environments"); st != 403 {
		t.Errorf("a service account without a team listed environments: %d, want 403", st)
	}
}

func TestFailedLoginsAreThrottled(t *testing.T) {
	hs, _ := tlsServer(t)
	createAlice(t, hs)
	b := newBrowser(t, hs)
	for i := 0; i < 5; i++ {
		if resp, _ := b.login("alice", "guess"+fmt.Sprint(i)); resp.StatusCode != 401 {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	resp, raw := b.login("alice", alicePassword)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures the right password got %d (Retry-After %q): %s", resp.StatusCode, resp.Header.Get("Retry-After"), raw)
	}
	var failed wire.Page[model.AuditEvent]
	admin(t, hs, "GET", "/api/v1/audit?action=login-failed", nil, &failed)
	if failed.Total != 6 {
		t.Errorf("%d failed logins in the audit log, want 6", failed.Total)
	}
}

func TestChangingOnesOwnPasswordNeedsTheCurrentOne(t *testing.T) {
	hs, _ := tlsServer(t)
	alice := createAlice(t, hs)
	b := newBrowser(t, hs)
	b.login("alice", alicePassword)
	h := map[string]string{auth.CSRFHeader: b.csrf}
	if resp, raw := b.do("POST", "/api/v1/users/"+alice.ID+"/password", `{"password":"a brand new passphrase","currentPassword":"wrong"}`, h); resp.StatusCode != 400 {
		t.Fatalf("wrong current password: %d %s", resp.StatusCode, raw)
	}
	if resp, raw := b.do("POST", "/api/v1/users/"+alice.ID+"/password", `{"password":"short","currentPassword":"`+alicePassword+`"}`, h); resp.StatusCode != 400 || !strings.Contains(string(raw), "at least 12") {
		t.Fatalf("short password: %d %s", resp.StatusCode, raw)
	}
	if resp, raw := b.do("POST", "/api/v1/users/"+alice.ID+"/password", `{"password":"a brand new passphrase","currentPassword":"`+alicePassword+`"}`, h); resp.StatusCode != 204 {
		t.Fatalf("change: %d %s", resp.StatusCode, raw)
	}
	if resp, _ := newBrowser(t, hs).login("alice", "a brand new passphrase"); resp.StatusCode != 200 {
		t.Errorf("the new password does not work: %d", resp.StatusCode)
	}
	// Alice may not set Bob's password, nor make herself an administrator.
	var bob model.User
	admin(t, hs, "POST", "/api/v1/users", wire.CreateUserRequest{Username: "bob", Password: "bob's long passphrase"}, &bob)
	if resp, _ := b.do("POST", "/api/v1/users/"+bob.ID+"/password", `{"password":"taken over by alice"}`, h); resp.StatusCode != 403 {
		t.Errorf("alice set bob's password: %d", resp.StatusCode)
	}
	if resp, _ := b.do("PUT", "/api/v1/users/"+alice.ID, `{"isAdmin":true}`, h); resp.StatusCode != 403 {
		t.Errorf("alice made herself an administrator: %d", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/api/v1/teams", `{"name":"Mine","memberIds":["`+alice.ID+`"],"roles":[{"roleId":"`+model.RoleSystemAdministrator+`"}]}`, h); resp.StatusCode != 403 {
		t.Errorf("alice gave herself the administrator role: %d", resp.StatusCode)
	}
}

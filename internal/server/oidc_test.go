package server_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
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

// issuer is a small OpenID Connect provider speaking the standard protocol
// (discovery, JWKS, authorization code with PKCE, RS256 ID tokens): no
// provider can be installed on the test machines, and the flow under test
// is Pulpo's side of it.
type issuer struct {
	t      *testing.T
	srv    *httptest.Server
	key    *rsa.PrivateKey
	client string
	secret string

	mu      sync.Mutex
	codes   map[string]grant
	subject string
	// badNonce makes the next token carry a nonce of another login.
	badNonce bool
}

type grant struct{ nonce, challenge, redirect string }

func newIssuer(t *testing.T) *issuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{t: t, key: key, client: "pulpo", secret: "client-secret", codes: map[string]grant{}, subject: "u-123"}
	mux := http.NewServeMux()
	b64 := base64.RawURLEncoding.EncodeToString
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": is.srv.URL, "authorization_endpoint": is.srv.URL + "/authorize",
			"token_endpoint": is.srv.URL + "/token", "jwks_uri": is.srv.URL + "/jwks", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != is.client || q.Get("code_challenge_method") != "S256" || q.Get("response_type") != "code" {
			http.Error(w, "bad authorization request", 400)
			return
		}
		code := rand.Text()
		is.mu.Lock()
		is.codes[code] = grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
		is.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
		}
		is.mu.Lock()
		g, found := is.codes[r.Form.Get("code")]
		delete(is.codes, r.Form.Get("code"))
		sub, badNonce := is.subject, is.badNonce
		is.mu.Unlock()
		sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
		if !found || id != is.client || secret != is.secret || b64(sum[:]) != g.challenge || r.Form.Get("redirect_uri") != g.redirect {
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		nonce := g.nonce
		if badNonce {
			nonce = "another-login"
		}
		now := time.Now()
		header, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
		claims, _ := json.Marshal(map[string]any{"iss": is.srv.URL, "sub": sub, "aud": is.client, "nonce": nonce,
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "email": "carol@example.com", "name": "Carol Danvers",
			"preferred_username": "carol"})
		signing := b64(header) + "." + b64(claims)
		digest := sha256.Sum256([]byte(signing))
		sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": signing + "." + b64(sig)})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// oidcServer is a node that logs people in through is.
func oidcServer(t *testing.T, is *issuer, autoCreate bool) *httptest.Server {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	publicURL := "http://" + hs.Listener.Addr().String()
	n, err := server.New(context.Background(), server.Config{DataDir: t.TempDir(), AdminAPIKey: adminKey, NodeName: "test", Version: "test",
		PublicURL: publicURL, OIDC: auth.OIDCConfig{Issuer: is.srv.URL, ClientID: is.client, ClientSecret: is.secret, AutoCreate: autoCreate}})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = n.Handler()
	hs.Start()
	t.Cleanup(func() { hs.CloseClientConnections(); hs.Close(); n.Close() })
	return hs
}

// oidcLogin runs the browser side of a login and returns the browser and
// the last response.
func oidcLogin(t *testing.T, hs *httptest.Server) (*http.Client, int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(hs.URL + "/api/v1/users/oidc/login?redirect=/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return c, resp.StatusCode, string(raw)
}

func me(t *testing.T, c *http.Client, hs *httptest.Server) (int, model.User) {
	t.Helper()
	resp, err := c.Get(hs.URL + "/api/v1/users/me")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var u model.User
	json.NewDecoder(resp.Body).Decode(&u)
	return resp.StatusCode, u
}

func TestOpenIDConnectLogin(t *testing.T) {
	is := newIssuer(t)
	hs := oidcServer(t, is, true)

	var root wire.Root
	admin(t, hs, "GET", "/api/v1", nil, &root)
	if root.OIDCLogin != "/api/v1/users/oidc/login" {
		t.Errorf("the root does not say where to log in: %+v", root)
	}
	c, status, body := oidcLogin(t, hs)
	if status != 200 || !strings.Contains(body, "Pulpo") {
		t.Fatalf("the login did not end on the portal: %d %s", status, body)
	}
	st, u := me(t, c, hs)
	if st != 200 || u.Username != "carol" || u.DisplayName != "Carol Danvers" || u.EmailAddress != "carol@example.com" || u.ExternalID != is.srv.URL+"|u-123" {
		t.Fatalf("after login: %d %+v", st, u)
	}
	// A second login is the same user.
	c2, _, _ := oidcLogin(t, hs)
	if _, again := me(t, c2, hs); again.ID != u.ID {
		t.Errorf("the second login made user %s, the first %s", again.ID, u.ID)
	}
	// A new user has no teams, so sees nothing.
	if resp, _ := c.Get(hs.URL + "/api/v1/projects"); resp.StatusCode != 403 {
		t.Errorf("a fresh OpenID Connect user listed projects: %d", resp.StatusCode)
	}
	var logins wire.Page[model.AuditEvent]
	admin(t, hs, "GET", "/api/v1/audit?action=login&actor=carol", nil, &logins)
	if logins.Total != 2 || !strings.Contains(logins.Items[0].Summary, "OpenID Connect") {
		t.Errorf("audit of the logins: %+v", logins.Items)
	}

	// A disabled user cannot come back through the issuer.
	admin(t, hs, "PUT", "/api/v1/users/"+u.ID, wire.UpdateUserRequest{DisplayName: u.DisplayName, Disabled: true}, nil)
	if _, status, body := oidcLogin(t, hs); status != 401 || !strings.Contains(body, "disabled") {
		t.Errorf("a disabled user logged in: %d %s", status, body)
	}
}

func TestOpenIDConnectRefusesForgedAnswers(t *testing.T) {
	is := newIssuer(t)
	hs := oidcServer(t, is, false)

	// Without automatic creation, an unknown person is refused.
	_, status, body := oidcLogin(t, hs)
	if status != 401 || !strings.Contains(body, "no user is linked") {
		t.Fatalf("an unlinked person: %d %s", status, body)
	}

	// A token made for another login (nonce) is refused.
	is.mu.Lock()
	is.badNonce = true
	is.mu.Unlock()
	if _, status, body := oidcLogin(t, hs); status != 401 || !strings.Contains(body, "nonce") {
		t.Errorf("a token with another login's nonce: %d %s", status, body)
	}

	// A callback that did not start in this browser is refused.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(hs.URL + "/api/v1/users/oidc/callback?code=x&state=y")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("a callback without a login in progress: %d %s", resp.StatusCode, raw)
	}
	// An open redirect is not possible: only paths on this server.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = c.Get(hs.URL + "/api/v1/users/oidc/login?redirect=" + url.QueryEscape("//evil.example.com/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, is.srv.URL) {
		t.Fatalf("login redirected to %q", loc)
	}
	var state string
	for _, ck := range resp.Cookies() {
		if ck.Name == "pulpo_oidc" {
			raw, _ := base64.RawURLEncoding.DecodeString(ck.Value)
			state = string(raw)
		}
	}
	if !strings.Contains(state, `"Redirect":"/"`) {
		t.Errorf("the redirect after login was kept as %s", state)
	}
}

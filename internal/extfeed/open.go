package extfeed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// Limits on what a feed may send: a hostile or broken feed must not
// exhaust memory or hold a request for ever.
const (
	// callTimeout bounds each call to a feed (a page, an index), when the
	// caller's context allows longer.
	callTimeout = 60 * time.Second
	// maxDocument bounds a JSON/XML document or folder listing.
	maxDocument = 8 << 20
	// maxHelmIndex bounds a Helm repository's index.yaml, which for large
	// public repositories runs to tens of megabytes.
	maxHelmIndex = 64 << 20
	// maxVersions bounds how many versions of one package are listed.
	maxVersions = 10000
)

// Error is a feed that failed to answer as it should: unreachable, refusing
// the credentials, or answering nonsense. NotFound says the package or
// version asked for is not there.
type Error struct {
	Feed     string
	Msg      string
	NotFound bool
}

func (e *Error) Error() string { return "feed " + e.Feed + ": " + e.Msg }

// Open makes the client of a stored feed; password is its unsealed
// password or token. hc carries the transport (proxies, test servers); nil
// means a client with a timeout.
func Open(f model.Feed, password string, hc *http.Client) (Client, error) {
	if hc == nil {
		hc = &http.Client{Timeout: callTimeout}
	}
	b := &base{feed: f, password: password, hc: hc}
	switch f.Type {
	case model.FeedDocker:
		return newDocker(b)
	case model.FeedNuGet:
		return &nuget{base: b}, nil
	case model.FeedMaven:
		return &maven{base: b}, nil
	case model.FeedHelm:
		return &helm{base: b}, nil
	case model.FeedGitHub:
		return &github{base: b}, nil
	case model.FeedHTTP:
		return &folder{base: b}, nil
	case model.FeedBuiltIn:
		return nil, fmt.Errorf("feed %s: the built-in feed is read from the server's own store, not opened as an external feed", f.Name)
	}
	return nil, fmt.Errorf("feed %s: %q is not a feed type", f.Name, f.Type)
}

// Lookup reads a stored feed and its unsealed password by id.
type Lookup func(ctx context.Context, feedID string) (model.Feed, string, error)

// StoreResolver is the server's Resolver: it reads feeds through Lookup
// and opens them. BuiltIn, when set, answers for the built-in feed.
type StoreResolver struct {
	lookup  Lookup
	hc      *http.Client
	BuiltIn Client
}

// NewResolver makes a resolver reading feeds through lookup; hc as Open's.
func NewResolver(lookup Lookup, hc *http.Client) *StoreResolver {
	return &StoreResolver{lookup: lookup, hc: hc}
}

// Client opens the feed with the id (or name). An empty id, or
// feeds-builtin, is the built-in feed.
func (r *StoreResolver) Client(ctx context.Context, feedID string) (Client, model.Feed, error) {
	if feedID == "" || strings.EqualFold(feedID, model.BuiltInFeedID) {
		if r.BuiltIn == nil {
			return nil, model.BuiltInFeed(), errors.New("the built-in feed has no client here: read it from the server's store")
		}
		return r.BuiltIn, model.BuiltInFeed(), nil
	}
	f, password, err := r.lookup(ctx, feedID)
	if err != nil {
		return nil, f, err
	}
	c, err := Open(f, password, r.hc)
	return c, f, err
}

// base is what every feed type shares: the feed, its credentials, and
// bounded HTTP calls whose failures say which feed and what to fix.
type base struct {
	feed     model.Feed
	password string
	hc       *http.Client
}

func (b *base) errorf(format string, args ...any) error {
	return &Error{Feed: b.feed.Name, Msg: fmt.Sprintf(format, args...)}
}

func (b *base) notFound(format string, args ...any) error {
	return &Error{Feed: b.feed.Name, Msg: fmt.Sprintf(format, args...), NotFound: true}
}

// authHeader is the header the feed's credentials make, for calls to the
// feed's own host; empty without credentials.
func (b *base) authHeader() http.Header {
	h := http.Header{}
	if b.feed.Username != "" || b.password != "" {
		r := &http.Request{Header: h}
		r.SetBasicAuth(b.feed.Username, b.password)
	}
	return h
}

// sameHost says whether u is on the feed's own host, the only place its
// credentials are sent.
func (b *base) sameHost(u string) bool {
	fu, err1 := url.Parse(b.feed.URL)
	pu, err2 := url.Parse(u)
	return err1 == nil && err2 == nil && strings.EqualFold(fu.Host, pu.Host) && fu.Scheme == pu.Scheme
}

// headerFor is the header a call to u carries: the credentials on the
// feed's host, nothing elsewhere.
func (b *base) headerFor(u string, auth http.Header) http.Header {
	if b.sameHost(u) {
		return auth.Clone()
	}
	return http.Header{}
}

// call makes one request. A status outside 2xx is an *Error that says
// what to fix; notFoundMsg, when not empty, is the message for a 404.
func (b *base) call(ctx context.Context, method, u string, h http.Header, notFoundMsg string) (*http.Response, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		cancel()
		return nil, nil, b.errorf("%s %s: %v", method, u, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "Pulpo")
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		cancel()
		return nil, nil, b.errorf("%s %s: %v", method, redact(u), unwrapURLError(err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Drain a little so the connection can be reused, never all.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		cancel()
		return nil, nil, b.statusError(method, u, resp.StatusCode, notFoundMsg)
	}
	return resp, cancel, nil
}

// statusError explains an HTTP status from the feed.
func (b *base) statusError(method, u string, status int, notFoundMsg string) error {
	what := fmt.Sprintf("%d %s", status, http.StatusText(status))
	switch status {
	case http.StatusUnauthorized:
		if b.feed.Username == "" && b.password == "" {
			return b.errorf("%s: the feed asks for credentials: give the feed a username and password (or token)", what)
		}
		return b.errorf("%s: check the feed's username and password", what)
	case http.StatusForbidden:
		return b.errorf("%s: the feed's credentials are not allowed to read %s", what, redact(u))
	case http.StatusNotFound:
		if notFoundMsg != "" {
			return b.notFound("%s", notFoundMsg)
		}
		return b.errorf("%s from %s %s: check the feed's URL", what, method, redact(u))
	case http.StatusTooManyRequests:
		return b.errorf("%s: the feed limits how often it is asked; try again later (credentials often raise the limit)", what)
	}
	return b.errorf("%s from %s %s", what, method, redact(u))
}

// get reads a document of at most limit bytes.
func (b *base) get(ctx context.Context, u string, h http.Header, limit int64, notFoundMsg string) ([]byte, error) {
	resp, cancel, err := b.call(ctx, http.MethodGet, u, h, notFoundMsg)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, b.errorf("read %s: %v", redact(u), err)
	}
	if int64(len(body)) > limit {
		return nil, b.errorf("%s is larger than the %d MB Pulpo reads", redact(u), limit>>20)
	}
	return body, nil
}

// exists says whether u answers a HEAD with 2xx (false on 404).
func (b *base) exists(ctx context.Context, u string, h http.Header) (bool, error) {
	resp, cancel, err := b.call(ctx, http.MethodHead, u, h, "not found")
	var fe *Error
	if errors.As(err, &fe) && fe.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	cancel()
	return true, nil
}

// redact drops a URL's user info and query, which may hold secrets.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(an unreadable URL)"
	}
	p.User, p.RawQuery = nil, ""
	return p.String()
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// join appends path segments to a base URL.
func join(baseURL string, parts ...string) string {
	return strings.TrimSuffix(baseURL, "/") + "/" + strings.Join(parts, "/")
}

// SortVersions orders versions newest first: those that read as versions
// (a leading "v" aside) by SemVer's rules, then the others as they came.
func SortVersions(vs []string) []string {
	type parsed struct {
		s string
		v model.Version
	}
	var versions []parsed
	var others []string
	for _, s := range vs {
		if v, ok := model.ParseVersion(strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")); ok {
			versions = append(versions, parsed{s, v})
		} else {
			others = append(others, s)
		}
	}
	slices.SortStableFunc(versions, func(a, b parsed) int { return b.v.Compare(a.v) })
	out := make([]string, 0, len(vs))
	for _, p := range versions {
		out = append(out, p.s)
	}
	return append(out, others...)
}

// matches says whether a package id contains the search term, case aside.
func matches(id, term string) bool {
	return term == "" || strings.Contains(strings.ToLower(id), strings.ToLower(term))
}

func limitTo[T any](s []T, limit int) []T {
	if limit > 0 && len(s) > limit {
		return s[:limit]
	}
	return s
}

// Package octoapi speaks Octopus Deploy's REST API, so the pipelines and
// tools built on Octopus's official client (the `octopus` CLI, its GitHub
// Actions, the Go client library) work against Pulpo by changing one URL.
//
// It is an adapter, not a second model: every request is translated into
// calls of Pulpo's own API (/api/v1), made in-process with the caller's
// credentials, and the answers are translated back into Octopus's shapes.
// Authentication, permissions, validation, auditing and the engine are
// therefore exactly those of the native API. There is one space,
// "Spaces-1" (named "Default").
package octoapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// SpaceID is the one space Pulpo has, as Octopus names it.
const SpaceID = "Spaces-1"

// spaceName is the space's name; clients pick a space by id or name.
const spaceName = "Default"

// innerPrefix is where Pulpo's own API lives.
const innerPrefix = "/api/v1"

// Handler serves Octopus's API under /api (but not /api/v1).
type Handler struct {
	inner   http.Handler
	version string
	logger  *slog.Logger
}

// New returns the adapter over inner, Pulpo's own API handler.
func New(inner http.Handler, version string, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{inner: inner, version: version, logger: logger}
}

// ServeHTTP routes by path segment. A mux would do, but Octopus's paths
// overlap in ways Go's pattern rules refuse (/api/{space}/tasks/{id} and
// /api/tasks/{id}/details), so the dispatch is written out.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/api")
	rest = strings.Trim(rest, "/")
	var segs []string
	if rest != "" {
		for _, s := range strings.Split(rest, "/") {
			// Clients path-escape names: lifecycles/Default%20Lifecycle.
			u, err := url.PathUnescape(s)
			if err != nil {
				u = s
			}
			segs = append(segs, u)
		}
	}
	c := &call{h: h, w: w, r: r}
	if err := h.route(c, segs); err != nil {
		c.fail(err)
	}
}

// call is one request being served.
type call struct {
	h *Handler
	w http.ResponseWriter
	r *http.Request
}

func (h *Handler) route(c *call, segs []string) error {
	if len(segs) == 0 {
		return c.get(h.root)
	}
	switch strings.ToLower(segs[0]) {
	case "spaces":
		return h.spaces(c, segs[1:])
	case "users":
		return h.users(c, segs[1:])
	case "tasks":
		return h.tasks(c, segs[1:])
	case "certificates":
		return h.certificates(c, segs[1:])
	case "actiontemplates":
		return h.actionTemplates(c, segs[1:])
	}
	if !isSpace(segs[0]) {
		return notFound("Pulpo has one space, %s (%q); there is no %q", SpaceID, spaceName, segs[0])
	}
	return h.inSpace(c, segs[1:])
}

// isSpace reports whether s names the one space, by id or name.
func isSpace(s string) bool {
	return strings.EqualFold(s, SpaceID) || strings.EqualFold(s, spaceName)
}

// inSpace serves /api/Spaces-1/…
func (h *Handler) inSpace(c *call, segs []string) error {
	if len(segs) == 0 {
		return c.get(h.spaceRoot)
	}
	rest := segs[1:]
	switch strings.ToLower(segs[0]) {
	case "environments":
		return environments.serve(c, rest)
	case "projects":
		return h.projects(c, rest)
	case "lifecycles":
		return lifecycles.serve(c, rest)
	case "projectgroups":
		return projectGroups.serve(c, rest)
	case "channels":
		return h.channels(c, rest)
	case "machines":
		return targets.serve(c, rest)
	case "workers":
		return workers.serve(c, rest)
	case "workerpools":
		return workerPools.serve(c, rest)
	case "feeds":
		return feeds.serve(c, rest)
	case "certificates":
		return h.certificates(c, rest)
	case "actiontemplates":
		return h.actionTemplates(c, rest)
	case "tenants", "tagsets", "accounts", "proxies":
		return h.empty(c, rest, segs[0])
	case "packages":
		return h.packages(c, rest)
	case "releases":
		return h.releases(c, rest)
	case "deployments":
		return h.deployments(c, rest)
	case "tasks":
		return h.tasks(c, rest)
	case "build-information":
		return h.buildInformation(c, rest)
	}
	return c.unserved("see /api/v1/openapi.json for Pulpo's own API")
}

// get runs fn for GET requests only.
func (c *call) get(fn func(*call) error) error {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		return methodNotAllowed(c.r)
	}
	return fn(c)
}

// Errors, in Octopus's shape: {"ErrorMessage": …, "Errors": […]}. The
// client turns a 404 into "not found, try by name", and drops the message
// of a 400 that has no Errors, so 400s always carry them and 404s never do.

// apiError is an answer that is not a success.
type apiError struct {
	status  int
	msg     string
	details []string
}

func (e *apiError) Error() string { return e.msg }

func notFound(format string, args ...any) error {
	return &apiError{status: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

// unserved refuses an Octopus endpoint Pulpo does not serve, with a hint.
func (c *call) unserved(hint string) error {
	msg := fmt.Sprintf("Pulpo does not serve the Octopus endpoint %s %s", c.r.Method, c.r.URL.Path)
	if hint != "" {
		msg += "; " + hint
	}
	return &apiError{status: http.StatusNotFound, msg: msg}
}

// getOne reads one thing from Pulpo's API and answers it in Octopus's shape.
func getOne[T, O any](c *call, path string, convert func(T) O) error {
	var v T
	if err := c.getJSON(path, nil, &v); err != nil {
		return err
	}
	return c.ok(convert(v))
}

func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func methodNotAllowed(r *http.Request) error {
	return &apiError{status: http.StatusMethodNotAllowed, msg: fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)}
}

// errorBody is Octopus's error document.
type errorBody struct {
	ErrorMessage string   `json:"ErrorMessage"`
	Errors       []string `json:"Errors,omitempty"`
}

func (c *call) fail(err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		c.h.logger.Error("octopus API request failed", "method", c.r.Method, "path", c.r.URL.Path, "error", err)
		ae = &apiError{status: http.StatusInternalServerError, msg: "internal error; the server log has the details"}
	}
	body := errorBody{ErrorMessage: ae.msg}
	if ae.status == http.StatusBadRequest {
		body.Errors = ae.details
		if len(body.Errors) == 0 {
			body.Errors = []string{ae.msg}
		}
	}
	if ae.status == http.StatusUnauthorized {
		c.w.Header().Set("WWW-Authenticate", `Bearer realm="pulpo"`)
	}
	writeJSON(c.w, ae.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"ErrorMessage":"could not encode the answer"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

func (c *call) ok(v any) error {
	writeJSON(c.w, http.StatusOK, v)
	return nil
}

func (c *call) created(v any) error {
	writeJSON(c.w, http.StatusCreated, v)
	return nil
}

// decodeBody reads an Octopus request body. Unknown fields are allowed:
// Octopus's clients send many that Pulpo has no use for.
func (c *call) decodeBody(v any) error {
	dec := json.NewDecoder(io.LimitReader(c.r.Body, 16<<20))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return badRequest("the request has no body; send the command as JSON")
		}
		return badRequest("the request body is not valid JSON: %v", err)
	}
	return nil
}

// Calls of Pulpo's own API.

// innerCall asks Pulpo's API, in-process, with the caller's credentials.
// A failure comes back as an *apiError with the native API's status and
// message; out receives a success's JSON (a *[]byte: its bytes as they are).
func (c *call) innerCall(method, path string, query url.Values, body io.Reader, contentType string, out any) (int, error) {
	target := innerPrefix + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(c.r.Context(), method, target, body)
	if err != nil {
		return 0, fmt.Errorf("build request %s %s: %w", method, target, err)
	}
	for _, name := range []string{"X-Octopus-ApiKey", "X-Pulpo-ApiKey", "Authorization", "User-Agent", "X-Forwarded-For"} {
		if v := c.r.Header.Get(name); v != "" {
			req.Header.Set(name, v)
		}
	}
	if body != nil && req.ContentLength == 0 {
		req.ContentLength = -1 // a stream: its length is unknown
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.RemoteAddr = c.r.RemoteAddr
	req.Host = c.r.Host
	req.TLS = c.r.TLS
	rec := &recorder{header: http.Header{}}
	c.h.inner.ServeHTTP(rec, req)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	if status >= 400 {
		var eb struct {
			Error   string   `json:"error"`
			Details []string `json:"details"`
		}
		if err := json.Unmarshal(rec.body.Bytes(), &eb); err != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(rec.body.String())
		}
		return status, &apiError{status: status, msg: eb.Error, details: eb.Details}
	}
	if raw, ok := out.(*[]byte); ok {
		// A document that is not JSON (a PEM file), taken as it is.
		*raw = bytes.Clone(rec.body.Bytes())
		return status, nil
	}
	if out != nil && rec.body.Len() > 0 {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return status, fmt.Errorf("read the answer of %s %s: %w", method, path, err)
		}
	}
	return status, nil
}

// getJSON reads one thing from Pulpo's API.
func (c *call) getJSON(path string, query url.Values, out any) error {
	_, err := c.innerCall(http.MethodGet, path, query, nil, "", out)
	return err
}

// sendJSON posts or puts a JSON body to Pulpo's API.
func (c *call) sendJSON(method, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s %s: %w", method, path, err)
	}
	_, err = c.innerCall(method, path, nil, bytes.NewReader(b), "application/json", out)
	return err
}

// recorder keeps an in-process answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// isNotFound reports whether err is the native API's 404.
func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.status == http.StatusNotFound
}

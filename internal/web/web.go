// Package web is the portal: server-rendered pages (html/template, embedded
// in the binary) for people. Every page reads and writes through the REST
// API, called in-process with the visitor's session, so what a page shows
// and allows is exactly what the API does for that person: permissions are
// checked in one place, and forms carry the session's CSRF token to it.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// Pages are templates/*.html; templates/parts/*.html are pieces several
// pages share (such as the step list and the add-a-step form).
//
//go:embed templates/*.html templates/parts/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Portal serves the web pages.
type Portal struct {
	api     http.Handler
	pages   map[string]*template.Template
	static  http.Handler
	version string
	logger  *slog.Logger
	mux     *http.ServeMux
	// feedWait bounds the wait for external feeds' versions on a page.
	feedWait time.Duration
}

// New returns the portal over the API handler (mounted at /api/v1).
func New(api http.Handler, version string, logger *slog.Logger) (*Portal, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Portal{api: api, version: version, logger: logger, pages: map[string]*template.Template{}, mux: http.NewServeMux(), feedWait: externalFeedWait}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts/*.html", name)
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", base, err)
		}
		p.pages[base] = t
	}
	sub, _ := fs.Sub(staticFS, "static")
	p.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	p.routes()
	return p, nil
}

// ServeHTTP serves the portal.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	p.mux.ServeHTTP(w, r)
}

var funcs = template.FuncMap{
	"stagingLabel": stagingLabel,
	"stagingClass": func(s model.StagingState) string { return "staging-" + strings.ToLower(string(s)) },
	"statusOf":     statusOf,
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		d := time.Since(t)
		switch {
		case d < time.Minute:
			return "just now"
		case d < time.Hour:
			return fmt.Sprintf("%d min ago", int(d.Minutes()))
		case d < 48*time.Hour:
			return fmt.Sprintf("%d h ago", int(d.Hours()))
		}
		return t.Local().Format("2 Jan 2006")
	},
	"when": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"lower":    strings.ToLower,
	"list":     func(items ...string) []string { return items },
	"inc":      func(n int) int { return n + 1 },
	"has":      func(list []string, s string) bool { return slices.Contains(list, s) },
	"contains": strings.Contains,
	// hasString reports whether a list holds a string.
	"hasString": func(list []string, s string) bool { return slices.Contains(list, s) },
	"errorDetails": func(err error) []string {
		var ae *apiError
		if errors.As(err, &ae) {
			return ae.Details
		}
		return nil
	},
	"join": strings.Join,
	"feedFields": func(prefix string, feeds []model.Feed, feedID, acquisition string) feedFieldsData {
		return feedFieldsData{Prefix: prefix, Feeds: feeds, FeedID: feedID, Acquisition: acquisition}
	},
	"field":       fieldError,
	"errorsUnder": errorsUnder,
	"stateClass": func(s any) string {
		return "state-" + strings.ToLower(fmt.Sprint(s))
	},
	"duration": func(start, end *time.Time) string {
		if start == nil {
			return ""
		}
		stop := time.Now()
		if end != nil {
			stop = *end
		}
		return stop.Sub(*start).Round(100 * time.Millisecond).String()
	},
	"deref": func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	},
}

// decodeJSON reads an API answer, ignoring what does not fit.
func decodeJSON(b []byte, v any) { json.Unmarshal(b, v) }

// apiError is an error answer from the API.
type apiError struct {
	Status  int
	Message string
	Details []string
}

func (e *apiError) Error() string {
	if len(e.Details) > 0 {
		return e.Message + ": " + strings.Join(e.Details, "; ")
	}
	return e.Message
}

// fieldError returns the API's complaint about one field ("name: is
// required" for "name"), for the message next to it.
func fieldError(err error, field string) string {
	var ae *apiError
	if !errors.As(err, &ae) {
		return ""
	}
	for _, d := range ae.Details {
		if f, msg, ok := strings.Cut(d, ": "); ok && strings.EqualFold(f, field) {
			return msg
		}
	}
	return ""
}

// errorsUnder returns the API's complaints about a field and the fields
// inside it ("step.script" takes "step.script.body").
func errorsUnder(err error, field string) []string {
	var ae *apiError
	if !errors.As(err, &ae) {
		return nil
	}
	var out []string
	for _, d := range ae.Details {
		f, msg, ok := strings.Cut(d, ": ")
		if !ok {
			continue
		}
		f, field = strings.ToLower(f), strings.ToLower(field)
		if f == field || strings.HasPrefix(f, field+".") || strings.HasPrefix(f, field+"[") {
			out = append(out, msg)
		}
	}
	return out
}

// recorder keeps an in-process API answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// call sends a request to the API as the visitor (their session cookie,
// and on changes the CSRF token their form carried) and decodes the
// answer into out. It returns the answer's headers.
func (p *Portal) call(r *http.Request, method, path string, in, out any) (http.Header, error) {
	var body io.Reader
	header := http.Header{}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
		header.Set("Content-Type", "application/json")
	}
	rec, err := p.send(r, method, path, body, header)
	if err != nil {
		return nil, err
	}
	if rec.status >= 400 {
		return rec.header, rec.err()
	}
	if out != nil && rec.body.Len() > 0 {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return rec.header, fmt.Errorf("read %s %s: %w", method, path, err)
		}
	}
	return rec.header, nil
}

// send sends a request to the API as the visitor, with the given headers,
// and returns the answer whatever its status (rec.err turns a refusal into
// an error): call for JSON, and for files (archives) as they are.
func (p *Portal) send(r *http.Request, method, path string, body io.Reader, header http.Header) (*recorder, error) {
	req, err := http.NewRequestWithContext(r.Context(), method, "/api/v1"+path, body)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = r.RemoteAddr
	req.TLS = r.TLS
	req.Host = r.Host // what the API records as this server's address (an archive's manifest)
	for k, v := range header {
		req.Header[k] = v
	}
	if c := r.Header.Get("Cookie"); c != "" {
		req.Header.Set("Cookie", c)
	}
	if method != http.MethodGet {
		req.Header.Set("X-CSRF-Token", r.PostFormValue("csrf_token"))
	}
	rec := &recorder{header: http.Header{}}
	p.api.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec, nil
}

// err is the API's refusal as an error.
func (r *recorder) err() error {
	var eb wire.ErrorBody
	json.Unmarshal(r.body.Bytes(), &eb)
	if eb.Error == "" {
		eb.Error = http.StatusText(r.status)
	}
	return &apiError{Status: r.status, Message: eb.Error, Details: eb.Details}
}

// view is what every page's template gets.
type view struct {
	Title string
	User  *model.User
	CSRF  string
	Nav   string
	Error error
	Flash string
	Data  any
	// Version of the server, in the footer.
	Version string
}

// session reads who the visitor is, or sends them to the login page.
func (p *Portal) session(w http.ResponseWriter, r *http.Request) (*view, bool) {
	var u model.User
	h, err := p.call(r, http.MethodGet, "/users/me", nil, &u)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return nil, false
		}
		p.fail(w, r, err)
		return nil, false
	}
	return &view{User: &u, CSRF: h.Get("X-CSRF-Token"), Version: p.version, Flash: r.URL.Query().Get("done")}, true
}

// render writes a page.
func (p *Portal) render(w http.ResponseWriter, status int, page string, v *view) {
	t, ok := p.pages[page]
	if !ok {
		http.Error(w, "no such page: "+page, http.StatusInternalServerError)
		return
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		p.logger.Error("render page", "page", page, "error", err)
		http.Error(w, "the page could not be drawn; the server log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// renderPart writes one named part of a page (a fragment that scripts
// swap in, such as the dashboard's grid).
// The part carries an ETag, so a poll that finds nothing new costs the
// browser no download (a 304).
func (p *Portal) renderPart(w http.ResponseWriter, r *http.Request, page, part string, v *view) {
	var b bytes.Buffer
	if err := p.pages[page].ExecuteTemplate(&b, part, v); err != nil {
		p.logger.Error("render part", "page", page, "part", part, "error", err)
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(b.Bytes())
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "private, no-cache")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

// fail shows an error page for an API refusal (or worse).
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	var ae *apiError
	if errors.As(err, &ae) {
		status = ae.Status
	} else {
		p.logger.Error("portal page failed", "path", r.URL.Path, "error", err)
	}
	p.render(w, status, "error", &view{Title: http.StatusText(status), Error: err, Version: p.version})
}

// environmentList lists the environments the visitor may see, in order, and
// their names by id (for labels); empty when they may see none.
func (p *Portal) environmentList(r *http.Request) ([]model.Environment, map[string]string) {
	var page wire.Page[model.Environment]
	p.call(r, http.MethodGet, "/environments?take=1000", nil, &page)
	names := make(map[string]string, len(page.Items))
	for _, e := range page.Items {
		names[e.ID] = e.Name
	}
	return page.Items, names
}

// sortedByName sorts anything with a Name.
func sortedByName[T any](items []T, name func(T) string) []T {
	sort.SliceStable(items, func(i, j int) bool { return strings.ToLower(name(items[i])) < strings.ToLower(name(items[j])) })
	return items
}

package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

func (p *Portal) libraryRoutes() {
	p.mux.HandleFunc("GET /packages", p.packages)
	p.mux.HandleFunc("POST /packages", p.uploadPackage)
	p.mux.HandleFunc("GET /variablesets", p.variableSets)
	p.mux.HandleFunc("GET /lifecycles", p.lifecycles)
	p.mux.HandleFunc("POST /lifecycles", p.createLifecycle)
}

type packagesData struct {
	Latest   []model.Package
	Versions []model.Package
	Selected string
}

func (p *Portal) packages(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showPackages(w, r, v, http.StatusOK)
}

func (p *Portal) showPackages(w http.ResponseWriter, r *http.Request, v *view, status int) {
	var d packagesData
	var latest wire.Page[model.Package]
	if _, err := p.call(r, http.MethodGet, "/packages?take=1000", nil, &latest); err != nil {
		p.fail(w, r, err)
		return
	}
	d.Latest = latest.Items
	if id := r.URL.Query().Get("packageId"); id != "" {
		var versions wire.Page[model.Package]
		p.call(r, http.MethodGet, "/packages?take=1000&packageId="+url.QueryEscape(id), nil, &versions)
		d.Versions, d.Selected = versions.Items, id
	}
	v.Title, v.Nav, v.Data = "Packages", "library", d
	p.render(w, status, "packages", v)
}

// uploadPackage streams a multipart upload (the CSRF token first, then
// the file) to the API's push without holding the file in memory.
func (p *Portal) uploadPackage(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	fail := func(err error) {
		v.Error = err
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(statusOf(err))
			fmt.Fprintf(w, "{\"error\":%q}", err.Error())
			return
		}
		p.showPackages(w, r, v, statusOf(err))
	}
	mr, err := r.MultipartReader()
	if err != nil {
		fail(&apiError{Status: http.StatusBadRequest, Message: "send the package as a form upload"})
		return
	}
	token := ""
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			fail(&apiError{Status: http.StatusBadRequest, Message: "choose a package file to upload"})
			return
		}
		if err != nil {
			fail(&apiError{Status: http.StatusBadRequest, Message: "the upload was cut short: " + err.Error()})
			return
		}
		switch part.FormName() {
		case "csrf_token":
			b, _ := io.ReadAll(io.LimitReader(part, 256))
			token = string(b)
		case "file":
			if part.FileName() == "" {
				fail(&apiError{Status: http.StatusBadRequest, Message: "choose a package file to upload"})
				return
			}
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost,
				"/api/v1/packages?fileName="+url.QueryEscape(part.FileName()), part)
			req.ContentLength = -1 // a part's length is not known ahead
			req.RemoteAddr, req.TLS = r.RemoteAddr, r.TLS
			req.Header.Set("Cookie", r.Header.Get("Cookie"))
			req.Header.Set("X-CSRF-Token", token)
			rec := &recorder{header: http.Header{}}
			p.api.ServeHTTP(rec, req)
			if rec.status >= 400 {
				var eb wire.ErrorBody
				decodeJSON(rec.body.Bytes(), &eb)
				fail(&apiError{Status: rec.status, Message: eb.Error, Details: eb.Details})
				return
			}
			var res wire.PushResult
			decodeJSON(rec.body.Bytes(), &res)
			next := "/packages?packageId=" + url.QueryEscape(res.Package.PackageID) + "&done=" +
				url.QueryEscape(fmt.Sprintf("Pushed %s %s (%s)", res.Package.PackageID, res.Package.Version, res.Outcome))
			if strings.Contains(r.Header.Get("Accept"), "application/json") {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, "{\"next\":%q}", next)
				return
			}
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
	}
}

type lifecyclesData struct {
	Items        []model.Lifecycle
	Environments []model.Environment
	EnvNames     map[string]string
	Form         model.Lifecycle
}

func (p *Portal) lifecycles(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showLifecycles(w, r, v, http.StatusOK, model.Lifecycle{})
}

func (p *Portal) showLifecycles(w http.ResponseWriter, r *http.Request, v *view, status int, form model.Lifecycle) {
	var d lifecyclesData
	var items wire.Page[model.Lifecycle]
	if _, err := p.call(r, http.MethodGet, "/lifecycles?take=1000", nil, &items); err != nil {
		p.fail(w, r, err)
		return
	}
	d.Items = items.Items
	d.Environments, d.EnvNames = p.environmentList(r)
	d.Form = form
	v.Title, v.Nav, v.Data = "Lifecycles", "library", d
	p.render(w, status, "lifecycles", v)
}

// createLifecycle makes a lifecycle of one phase per environment chosen,
// in the environments' order; automatic ones deploy by themselves.
func (p *Portal) createLifecycle(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	l := model.Lifecycle{Name: strings.TrimSpace(r.PostFormValue("name")), Description: r.PostFormValue("description")}
	envs, _ := p.environmentList(r)
	chosen, auto := map[string]bool{}, map[string]bool{}
	for _, id := range r.PostForm["environment"] {
		chosen[id] = true
	}
	for _, id := range r.PostForm["automatic"] {
		auto[id] = true
	}
	for _, e := range envs {
		if !chosen[e.ID] {
			continue
		}
		ph := model.Phase{Name: e.Name}
		if auto[e.ID] {
			ph.AutomaticEnvironments = []string{e.ID}
		} else {
			ph.ManualEnvironments = []string{e.ID}
		}
		l.Phases = append(l.Phases, ph)
	}
	if _, err := p.call(r, http.MethodPost, "/lifecycles", l, &l); err != nil {
		v.Error = err
		p.showLifecycles(w, r, v, statusOf(err), l)
		return
	}
	http.Redirect(w, r, "/lifecycles?done="+url.QueryEscape("Created lifecycle "+l.Name), http.StatusSeeOther)
}

func (p *Portal) variableSets(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	var sets wire.Page[model.LibraryVariableSet]
	if _, err := p.call(r, http.MethodGet, "/librarysets?take=1000", nil, &sets); err != nil {
		p.fail(w, r, err)
		return
	}
	v.Title, v.Nav, v.Data = "Library variable sets", "library", sets.Items
	p.render(w, http.StatusOK, "variablesets", v)
}

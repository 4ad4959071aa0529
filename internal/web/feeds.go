package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

func (p *Portal) feedRoutes() {
	p.mux.HandleFunc("GET /feeds", p.feeds)
	p.mux.HandleFunc("POST /feeds", p.saveFeed)
	p.mux.HandleFunc("POST /feeds/{id}", p.saveFeed)
	p.mux.HandleFunc("POST /feeds/{id}/test", p.testFeed)
	p.mux.HandleFunc("POST /feeds/{id}/delete", p.deleteFeed)
}

type feedsData struct {
	Items []model.Feed
	Types []model.FeedType
	// Form is the feed being added, or changed when it has an id.
	Form model.Feed
	// Browse is the feed being searched, with what was asked and found.
	Browse        model.Feed
	Search        string
	Searched      bool
	Packages      []string
	PackageID     string
	Versions      []string
	VersionsTotal int
	// BrowseError is what the feed answered instead.
	BrowseError error
}

func (p *Portal) feeds(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	form := model.Feed{}
	if id := r.URL.Query().Get("edit"); id != "" {
		if _, err := p.call(r, http.MethodGet, "/feeds/"+url.PathEscape(id), nil, &form); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	p.showFeeds(w, r, v, http.StatusOK, form)
}

func (p *Portal) showFeeds(w http.ResponseWriter, r *http.Request, v *view, status int, form model.Feed) {
	d := feedsData{Types: model.ExternalFeedTypes, Form: form}
	var list wire.Page[model.Feed]
	if _, err := p.call(r, http.MethodGet, "/feeds?take=1000", nil, &list); err != nil {
		p.fail(w, r, err)
		return
	}
	d.Items = list.Items
	q := r.URL.Query()
	if id := q.Get("feed"); id != "" && r.Method == http.MethodGet {
		for _, f := range list.Items {
			if f.ID == id {
				d.Browse = f
			}
		}
		d.Search, d.PackageID = q.Get("search"), strings.TrimSpace(q.Get("packageId"))
		if d.PackageID != "" {
			var res wire.FeedVersions
			_, d.BrowseError = p.call(r, http.MethodGet, "/feeds/"+url.PathEscape(id)+"/versions?"+url.Values{"packageId": {d.PackageID}}.Encode(), nil, &res)
			d.Versions, d.VersionsTotal = res.Versions, res.Total
		} else if q.Has("search") {
			var res wire.FeedPackages
			_, d.BrowseError = p.call(r, http.MethodGet, "/feeds/"+url.PathEscape(id)+"/packages?"+url.Values{"search": {d.Search}}.Encode(), nil, &res)
			d.Packages, d.Searched = res.Packages, true
		}
	}
	v.Title, v.Nav, v.Data = "External feeds", "library", d
	p.render(w, status, "feeds", v)
}

// saveFeed adds a feed, or changes the one the path names (an empty
// password keeps the stored one).
func (p *Portal) saveFeed(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	f := model.Feed{ID: r.PathValue("id"), Name: strings.TrimSpace(r.PostFormValue("name")), Type: model.FeedType(r.PostFormValue("type")),
		URL: strings.TrimSpace(r.PostFormValue("url")), Username: strings.TrimSpace(r.PostFormValue("username")), Password: r.PostFormValue("password")}
	method, path, verb := http.MethodPost, "/feeds", "Added"
	if f.ID != "" {
		method, path, verb = http.MethodPut, "/feeds/"+url.PathEscape(f.ID), "Saved"
	}
	if _, err := p.call(r, method, path, f, &f); err != nil {
		v.Error = err
		f.Password = ""
		p.showFeeds(w, r, v, statusOf(err), f)
		return
	}
	http.Redirect(w, r, "/feeds?done="+url.QueryEscape(verb+" feed "+f.Name), http.StatusSeeOther)
}

func (p *Portal) testFeed(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	var res wire.FeedTest
	if _, err := p.call(r, http.MethodPost, "/feeds/"+url.PathEscape(r.PathValue("id"))+"/test", nil, &res); err != nil {
		v.Error = err
		p.showFeeds(w, r, v, statusOf(err), model.Feed{})
		return
	}
	http.Redirect(w, r, "/feeds?done="+url.QueryEscape(res.Message), http.StatusSeeOther)
}

func (p *Portal) deleteFeed(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	if _, err := p.call(r, http.MethodDelete, "/feeds/"+url.PathEscape(r.PathValue("id")), nil, nil); err != nil {
		v.Error = err
		p.showFeeds(w, r, v, statusOf(err), model.Feed{})
		return
	}
	http.Redirect(w, r, "/feeds?done="+url.QueryEscape("Removed the feed"), http.StatusSeeOther)
}

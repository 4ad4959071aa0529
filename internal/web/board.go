package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// boardRoutes serve the release board: to people logged in (with its
// share links), and read-only through a share link to anyone holding it.
func (p *Portal) boardRoutes() {
	p.mux.HandleFunc("GET /release-board", p.releaseBoard)
	p.mux.HandleFunc("POST /release-board/shares", p.createBoardShare)
	p.mux.HandleFunc("POST /release-board/shares/{id}/revoke", p.revokeBoardShare)
	p.mux.HandleFunc("GET /board/{token}", p.sharedBoard)
}

// boardPage is what the board's template draws; times are put in words
// here, so the page reads the same to everyone.
type boardPage struct {
	Shared       bool
	Name         string
	Generated    string
	Environments []model.BoardEnvironment
	Groups       []boardGroupView
	Empty        bool
	// For people logged in: the share links, the form's choices, and a
	// link just made (shown once).
	Shares        []boardShareView
	ProjectGroups []model.ProjectGroup
	Projects      []model.Project
	Created       *wire.CreatedBoardShare
	Link          string
	CanShare      bool
}

type boardGroupView struct {
	Name     string
	Projects []boardRowView
}

type boardRowView struct {
	Name  string
	Cells []boardCellView
}

type boardCellView struct {
	Env   string
	Live  *model.BoardRelease
	Since string
	// Notes are the release notes drawn from their markdown (notes.go).
	Notes template.HTML
	Newer string
	// NewerClass colours the newer deployment by how it is going.
	NewerClass string
}

type boardShareView struct {
	model.BoardShare
	Shows, State, Expires string
}

func boardTime(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") }

func boardView(b model.Board) boardPage {
	out := boardPage{Environments: b.Environments, Generated: boardTime(b.GeneratedAt), Empty: len(b.Groups) == 0}
	for _, g := range b.Groups {
		gv := boardGroupView{Name: g.Name}
		for _, p := range g.Projects {
			row := boardRowView{Name: p.Name}
			for i, c := range p.Cells {
				cv := boardCellView{Env: b.Environments[i].Name, Live: c.Live}
				if c.Live != nil {
					cv.Since = boardTime(c.Live.LiveSince)
					cv.Notes = renderNotes(c.Live.Notes)
				}
				if c.Newer != nil {
					cv.Newer = c.Newer.Version + " " + c.Newer.Label()
					cv.NewerClass = "newer-" + strings.ReplaceAll(c.Newer.Label(), " ", "-")
				}
				row.Cells = append(row.Cells, cv)
			}
			gv.Projects = append(gv.Projects, row)
		}
		out.Groups = append(out.Groups, gv)
	}
	return out
}

func (p *Portal) releaseBoard(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showBoard(w, r, v, http.StatusOK, nil)
}

func (p *Portal) showBoard(w http.ResponseWriter, r *http.Request, v *view, status int, created *wire.CreatedBoardShare) {
	var b model.Board
	if _, err := p.call(r, http.MethodGet, "/release-board", nil, &b); err != nil {
		p.fail(w, r, err)
		return
	}
	d := boardView(b)
	d.Created = created
	if created != nil {
		d.Link = "/board/" + url.PathEscape(created.Token)
	}
	var shares []model.BoardShare
	if _, err := p.call(r, http.MethodGet, "/release-board/shares", nil, &shares); err == nil {
		d.CanShare = true
		for _, s := range shares {
			sv := boardShareView{BoardShare: s, Shows: "every project", State: "active", Expires: "never"}
			switch {
			case s.ProjectID != "":
				sv.Shows = "project " + s.ProjectID
			case s.ProjectGroupID != "":
				sv.Shows = "project group " + s.ProjectGroupID
			}
			if s.ExpiresAt != nil {
				sv.Expires = boardTime(*s.ExpiresAt)
				if !s.ExpiresAt.After(time.Now()) {
					sv.State = "expired"
				}
			}
			if s.RevokedAt != nil {
				sv.State = "revoked by " + s.RevokedBy
			}
			d.Shares = append(d.Shares, sv)
		}
	}
	var groups wire.Page[model.ProjectGroup]
	p.call(r, http.MethodGet, "/projectgroups?take=1000", nil, &groups)
	var projects wire.Page[model.Project]
	p.call(r, http.MethodGet, "/projects?take=1000", nil, &projects)
	d.ProjectGroups = sortedByName(groups.Items, func(g model.ProjectGroup) string { return g.Name })
	d.Projects = sortedByName(projects.Items, func(p model.Project) string { return p.Name })
	groupName := map[string]string{}
	for _, g := range d.ProjectGroups {
		groupName[g.ID] = g.Name
	}
	projectName := map[string]string{}
	for _, pr := range d.Projects {
		projectName[pr.ID] = pr.Name
	}
	for i, s := range d.Shares {
		if n := projectName[s.ProjectID]; n != "" {
			d.Shares[i].Shows = "project " + n
		}
		if n := groupName[s.ProjectGroupID]; n != "" {
			d.Shares[i].Shows = "project group " + n
		}
	}
	v.Title, v.Nav, v.Data = "Release board", "board", d
	p.render(w, status, "board", v)
}

func (p *Portal) createBoardShare(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	req := wire.CreateBoardShareRequest{Name: strings.TrimSpace(r.PostFormValue("name"))}
	if scope := r.PostFormValue("scope"); strings.HasPrefix(scope, "project:") {
		req.ProjectID = strings.TrimPrefix(scope, "project:")
	} else if strings.HasPrefix(scope, "group:") {
		req.ProjectGroupID = strings.TrimPrefix(scope, "group:")
	}
	if days := strings.TrimSpace(r.PostFormValue("days")); days != "" {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			v.Error = &apiError{Status: http.StatusBadRequest, Message: "share link is invalid", Details: []string{"days: give a whole number of days, or leave it empty for a link that does not expire"}}
			p.showBoard(w, r, v, http.StatusBadRequest, nil)
			return
		}
		t := time.Now().Add(time.Duration(n) * 24 * time.Hour).UTC()
		req.ExpiresAt = &t
	}
	var created wire.CreatedBoardShare
	if _, err := p.call(r, http.MethodPost, "/release-board/shares", req, &created); err != nil {
		v.Error = err
		p.showBoard(w, r, v, statusOf(err), nil)
		return
	}
	// The token is shown on this answer only: no redirect that would lose it.
	v.Flash = "Created share link " + created.Share.Name + ": copy its address now, it is not shown again"
	p.showBoard(w, r, v, http.StatusCreated, &created)
}

func (p *Portal) revokeBoardShare(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	var s model.BoardShare
	if _, err := p.call(r, http.MethodPost, "/release-board/shares/"+url.PathEscape(r.PathValue("id"))+"/revoke", nil, &s); err != nil {
		v.Error = err
		p.showBoard(w, r, v, statusOf(err), nil)
		return
	}
	http.Redirect(w, r, "/release-board?done="+url.QueryEscape("Revoked share link "+s.Name), http.StatusSeeOther)
}

// sharedBoard shows the board a share link opens, to anyone, read-only.
func (p *Portal) sharedBoard(w http.ResponseWriter, r *http.Request) {
	var b model.Board
	// No cookie goes along: the link alone decides what is shown.
	anon := r.Clone(r.Context())
	anon.Header = http.Header{}
	if _, err := p.call(anon, http.MethodGet, "/release-board/shared/"+url.PathEscape(r.PathValue("token")), nil, &b); err != nil {
		p.fail(w, r, err)
		return
	}
	d := boardView(b)
	d.Shared = true
	w.Header().Set("Referrer-Policy", "no-referrer") // the token is in the address
	w.Header().Set("X-Robots-Tag", "noindex")
	p.render(w, http.StatusOK, "board", &view{Title: "Release board", Version: p.version, Data: d})
}

package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

func (p *Portal) peopleRoutes() {
	p.mux.HandleFunc("GET /people", p.people)
	p.mux.HandleFunc("POST /people/users", p.createUser)
	p.mux.HandleFunc("POST /people/users/{id}/disabled", p.setDisabled)
	p.mux.HandleFunc("POST /people/teams", p.createTeam)
	p.mux.HandleFunc("POST /people/users/{id}/apikeys", p.createUserKey)
	p.mux.HandleFunc("POST /people/roles", p.createRole)
}

type peopleData struct {
	Users        []model.User
	Teams        []model.Team
	Roles        []model.Role
	Projects     []model.Project
	Environments []model.Environment
	Names        map[string]string
	Permissions  []model.PermissionInfo
	UserForm     wire.CreateUserRequest
	TeamForm     model.Team
	// NewKey is a key just made for KeyFor, shown this once.
	NewKey, KeyFor string
}

func (p *Portal) people(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showPeople(w, r, v, http.StatusOK, peopleData{})
}

func (p *Portal) showPeople(w http.ResponseWriter, r *http.Request, v *view, status int, d peopleData) {
	var users wire.Page[model.User]
	if _, err := p.call(r, http.MethodGet, "/users?take=1000", nil, &users); err != nil {
		p.fail(w, r, err)
		return
	}
	d.Users = users.Items
	var teams wire.Page[model.Team]
	p.call(r, http.MethodGet, "/teams?take=1000", nil, &teams)
	d.Teams = teams.Items
	var roles wire.Page[model.Role]
	p.call(r, http.MethodGet, "/roles?take=1000", nil, &roles)
	d.Roles = roles.Items
	var projects wire.Page[model.Project]
	p.call(r, http.MethodGet, "/projects?take=1000", nil, &projects)
	d.Projects = projects.Items
	d.Environments, _ = p.environmentList(r)
	p.call(r, http.MethodGet, "/permissions", nil, &d.Permissions)
	d.Names = map[string]string{}
	for _, u := range d.Users {
		d.Names[u.ID] = u.Username
	}
	for _, r := range d.Roles {
		d.Names[r.ID] = r.Name
	}
	for _, p := range d.Projects {
		d.Names[p.ID] = p.Name
	}
	for _, e := range d.Environments {
		d.Names[e.ID] = e.Name
	}
	v.Title, v.Nav, v.Data = "People", "people", d
	p.render(w, status, "people", v)
}

func (p *Portal) createUser(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	req := wire.CreateUserRequest{Username: strings.TrimSpace(r.PostFormValue("username")), DisplayName: r.PostFormValue("display"),
		EmailAddress: r.PostFormValue("email"), IsService: r.PostFormValue("service") == "on", Password: r.PostFormValue("password")}
	var u model.User
	if _, err := p.call(r, http.MethodPost, "/users", req, &u); err != nil {
		v.Error = err
		req.Password = ""
		p.showPeople(w, r, v, statusOf(err), peopleData{UserForm: req})
		return
	}
	http.Redirect(w, r, "/people?done="+url.QueryEscape("Created "+u.Username+"; add them to a team to give them access"), http.StatusSeeOther)
}

func (p *Portal) setDisabled(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	var u model.User
	if _, err := p.call(r, http.MethodGet, "/users/"+url.PathEscape(r.PathValue("id")), nil, &u); err != nil {
		p.fail(w, r, err)
		return
	}
	req := wire.UpdateUserRequest{DisplayName: u.DisplayName, EmailAddress: u.EmailAddress, IsAdmin: u.IsAdmin, Disabled: r.PostFormValue("disabled") == "true"}
	if _, err := p.call(r, http.MethodPut, "/users/"+url.PathEscape(u.ID), req, &u); err != nil {
		v.Error = err
		p.showPeople(w, r, v, statusOf(err), peopleData{})
		return
	}
	what := "Enabled "
	if u.Disabled {
		what = "Disabled (sessions ended, API keys revoked) "
	}
	http.Redirect(w, r, "/people?done="+url.QueryEscape(what+u.Username), http.StatusSeeOther)
}

func (p *Portal) createTeam(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	t := model.Team{Name: strings.TrimSpace(r.PostFormValue("name")), Description: r.PostFormValue("description"), MemberIDs: r.PostForm["member"]}
	if role := r.PostFormValue("role"); role != "" {
		t.Roles = []model.RoleGrant{{RoleID: role, ProjectIDs: r.PostForm["project"], EnvironmentIDs: r.PostForm["environment"]}}
	}
	if _, err := p.call(r, http.MethodPost, "/teams", t, &t); err != nil {
		v.Error = err
		p.showPeople(w, r, v, statusOf(err), peopleData{TeamForm: t})
		return
	}
	http.Redirect(w, r, "/people?done="+url.QueryEscape("Created team "+t.Name), http.StatusSeeOther)
}

// createUserKey makes an API key for another user, such as a service
// account (which cannot log in to make its own).
func (p *Portal) createUserKey(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	var u model.User
	if _, err := p.call(r, http.MethodGet, "/users/"+url.PathEscape(r.PathValue("id")), nil, &u); err != nil {
		p.fail(w, r, err)
		return
	}
	req := wire.CreateAPIKeyRequest{Purpose: strings.TrimSpace(r.PostFormValue("purpose"))}
	if req.Purpose == "" {
		req.Purpose = "made in the portal by " + v.User.Username
	}
	var out wire.CreatedAPIKey
	if _, err := p.call(r, http.MethodPost, "/users/"+url.PathEscape(u.ID)+"/apikeys", req, &out); err != nil {
		v.Error = err
		p.showPeople(w, r, v, statusOf(err), peopleData{})
		return
	}
	p.showPeople(w, r, v, http.StatusCreated, peopleData{NewKey: out.APIKey, KeyFor: u.Username})
}

// createRole makes a custom role from the permissions ticked.
func (p *Portal) createRole(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	role := model.Role{Name: strings.TrimSpace(r.PostFormValue("name")), Description: r.PostFormValue("description")}
	for _, perm := range r.PostForm["permission"] {
		role.Permissions = append(role.Permissions, model.Permission(perm))
	}
	if _, err := p.call(r, http.MethodPost, "/roles", role, &role); err != nil {
		v.Error = err
		p.showPeople(w, r, v, statusOf(err), peopleData{})
		return
	}
	http.Redirect(w, r, "/people?done="+url.QueryEscape("Created role "+role.Name)+"#roles-h", http.StatusSeeOther)
}

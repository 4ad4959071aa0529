package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// Script modules: the Library's page lists them and, for who may change
// them, adds, changes and deletes them.

type scriptModulesData struct {
	Items []model.ScriptModule
	// Form is the module being added, or changed when it has an id.
	Form model.ScriptModule
	// MayEdit says the visitor may change modules (the API decides; this
	// only spares them forms it would refuse).
	MayEdit bool
}

// may reports whether the visitor holds a server-wide permission, such as
// changing the library, asking the API what they may do: an administrator,
// or a team role with it that no project or environment limits (a limited
// grant gives no server-wide power, as the API rules).
func (p *Portal) may(r *http.Request, perm model.Permission) bool {
	var me wire.MyPermissions
	if _, err := p.call(r, http.MethodGet, "/users/me/permissions", nil, &me); err != nil {
		return false
	}
	if me.IsAdmin {
		return true
	}
	for _, g := range me.Grants {
		if len(g.ProjectIDs)+len(g.ProjectGroupIDs)+len(g.EnvironmentIDs) == 0 && slices.Contains(g.Permissions, perm) {
			return true
		}
	}
	return false
}

func (p *Portal) scriptModules(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	form := model.ScriptModule{Syntax: model.SyntaxBash}
	if id := r.URL.Query().Get("edit"); id != "" {
		if _, err := p.call(r, http.MethodGet, "/script-modules/"+url.PathEscape(id), nil, &form); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	p.showScriptModules(w, r, v, http.StatusOK, form)
}

func (p *Portal) showScriptModules(w http.ResponseWriter, r *http.Request, v *view, status int, form model.ScriptModule) {
	var items wire.Page[model.ScriptModule]
	if _, err := p.call(r, http.MethodGet, "/script-modules?take=1000", nil, &items); err != nil {
		p.fail(w, r, err)
		return
	}
	d := scriptModulesData{Items: items.Items, Form: form, MayEdit: p.may(r, model.LibraryVariableSetEdit)}
	v.Title, v.Nav, v.Data = "Script modules", "library", d
	p.render(w, status, "scriptmodules", v)
}

// saveScriptModule adds a module, or changes the one the path names.
func (p *Portal) saveScriptModule(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	m := model.ScriptModule{ID: r.PathValue("id"), Name: strings.TrimSpace(r.PostFormValue("name")),
		Description: strings.TrimSpace(r.PostFormValue("description")), Syntax: model.ScriptSyntax(r.PostFormValue("syntax")),
		Body: strings.ReplaceAll(r.PostFormValue("body"), "\r\n", "\n")}
	method, path, verb := http.MethodPost, "/script-modules", "Added"
	if m.ID != "" {
		method, path, verb = http.MethodPut, "/script-modules/"+url.PathEscape(m.ID), "Saved"
	}
	if _, err := p.call(r, method, path, m, &m); err != nil {
		v.Error = nameConflict(err)
		p.showScriptModules(w, r, v, statusOf(err), m)
		return
	}
	http.Redirect(w, r, "/script-modules?done="+url.QueryEscape(verb+" script module "+m.Name)+"#mod-"+url.QueryEscape(m.ID), http.StatusSeeOther)
}

// deleteScriptModule removes a module; the API refuses one steps include,
// naming them.
func (p *Portal) deleteScriptModule(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	if _, err := p.call(r, http.MethodDelete, "/script-modules/"+url.PathEscape(r.PathValue("id")), nil, nil); err != nil {
		v.Error = err
		p.showScriptModules(w, r, v, statusOf(err), model.ScriptModule{Syntax: model.SyntaxBash})
		return
	}
	http.Redirect(w, r, "/script-modules?done="+url.QueryEscape("Deleted the script module"), http.StatusSeeOther)
}

// nameConflict puts the API's "already exists" refusal of a save (a 409
// without details) next to the name field.
func nameConflict(err error) error {
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict || len(ae.Details) > 0 || !strings.Contains(ae.Message, "already exists") {
		return err
	}
	return &apiError{Status: ae.Status, Message: "the name is taken", Details: []string{"name: " + ae.Message}}
}

package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

func (p *Portal) variableRoutes() {
	p.mux.HandleFunc("GET /projects/{id}/variables", p.variables)
	p.mux.HandleFunc("POST /projects/{id}/variables", p.addVariable)
	p.mux.HandleFunc("POST /projects/{id}/variables/{var}/delete", p.deleteVariable)
}

type variablesData struct {
	Project      model.Project
	Set          model.VariableSet
	Environments []model.Environment
	EnvNames     map[string]string
	Steps        map[string]string
	Form         variableForm
}

type variableForm struct {
	Name, Value, Roles string
	Sensitive          bool
	EnvironmentIDs     []string
}

func (p *Portal) variables(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showVariables(w, r, v, http.StatusOK, variableForm{})
}

func (p *Portal) showVariables(w http.ResponseWriter, r *http.Request, v *view, status int, form variableForm) {
	id := r.PathValue("id")
	var d variablesData
	if _, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(id), nil, &d.Project); err != nil {
		p.fail(w, r, err)
		return
	}
	if _, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(id)+"/variables", nil, &d.Set); err != nil {
		p.fail(w, r, err)
		return
	}
	d.Environments, d.EnvNames = p.environmentList(r)
	var process model.DeploymentProcess
	p.call(r, http.MethodGet, "/projects/"+url.PathEscape(id)+"/process", nil, &process)
	d.Steps = map[string]string{}
	for _, s := range process.Steps {
		d.Steps[s.ID] = s.Name
	}
	d.Form = form
	v.Title, v.Nav, v.Data = d.Project.Name+" variables", "projects", d
	p.render(w, status, "variables", v)
}

func (p *Portal) addVariable(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	id := r.PathValue("id")
	form := variableForm{Name: strings.TrimSpace(r.PostFormValue("name")), Value: r.PostFormValue("value"), Roles: r.PostFormValue("roles"),
		Sensitive: r.PostFormValue("sensitive") == "on", EnvironmentIDs: r.PostForm["environment"]}
	err := p.changeVariables(r, id, func(vs *model.VariableSet) {
		vs.Variables = append(vs.Variables, model.Variable{Name: form.Name, Value: form.Value, Sensitive: form.Sensitive,
			Scope: model.Scope{Environments: form.EnvironmentIDs, Roles: splitComma(form.Roles)}})
	})
	if err != nil {
		v.Error = err
		p.showVariables(w, r, v, statusOf(err), form)
		return
	}
	http.Redirect(w, r, "/projects/"+id+"/variables?done="+url.QueryEscape("Added "+form.Name), http.StatusSeeOther)
}

func (p *Portal) deleteVariable(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	id, varID := r.PathValue("id"), r.PathValue("var")
	err := p.changeVariables(r, id, func(vs *model.VariableSet) {
		vs.Variables = slices.DeleteFunc(vs.Variables, func(x model.Variable) bool { return x.ID == varID })
	})
	if err != nil {
		v.Error = err
		p.showVariables(w, r, v, statusOf(err), variableForm{})
		return
	}
	http.Redirect(w, r, "/projects/"+id+"/variables?done="+url.QueryEscape("Removed the value"), http.StatusSeeOther)
}

// changeVariables reads the project's variables, changes them and saves
// them with the version read; sensitive values stay as stored (the API
// keeps a sensitive value sent back empty).
func (p *Portal) changeVariables(r *http.Request, projectID string, change func(*model.VariableSet)) error {
	var vs model.VariableSet
	if _, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(projectID)+"/variables", nil, &vs); err != nil {
		return err
	}
	change(&vs)
	_, err := p.call(r, http.MethodPut, "/projects/"+url.PathEscape(projectID)+"/variables", vs, nil)
	return err
}

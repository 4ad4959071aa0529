package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

func (p *Portal) stepRoutes() {
	p.mux.HandleFunc("GET /projects/{id}/steps/{step}", p.editStep)
	p.mux.HandleFunc("POST /projects/{id}/steps/{step}/edit", p.saveStep)
}

type stepEditData struct {
	Project      model.Project
	Step         model.Step
	Environments []model.Environment
}

func (p *Portal) editStep(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	var d model.DeploymentProcess
	if _, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(r.PathValue("id"))+"/process", nil, &d); err != nil {
		p.fail(w, r, err)
		return
	}
	i := slices.IndexFunc(d.Steps, func(s model.Step) bool { return s.ID == r.PathValue("step") })
	if i < 0 {
		p.fail(w, r, &apiError{Status: http.StatusNotFound, Message: "the project has no such step"})
		return
	}
	p.showStep(w, r, v, http.StatusOK, d.Steps[i])
}

func (p *Portal) showStep(w http.ResponseWriter, r *http.Request, v *view, status int, step model.Step) {
	var data stepEditData
	if _, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(r.PathValue("id")), nil, &data.Project); err != nil {
		p.fail(w, r, err)
		return
	}
	data.Environments, _ = p.environmentList(r)
	data.Step = step
	v.Title, v.Nav, v.Data = "Step "+step.Name, "projects", data
	p.render(w, status, "step", v)
}

// saveStep changes one step from the edit form; what the form does not
// show (worker pools, channels, parallelism) is kept as it was.
func (p *Portal) saveStep(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	id, stepID := r.PathValue("id"), r.PathValue("step")
	var edited model.Step
	err := p.saveProcess(r, id, func(d *model.DeploymentProcess) error {
		i := slices.IndexFunc(d.Steps, func(s model.Step) bool { return s.ID == stepID })
		if i < 0 {
			return &apiError{Status: http.StatusNotFound, Message: "the step is gone: someone changed the process meanwhile"}
		}
		s := &d.Steps[i]
		s.Name = strings.TrimSpace(r.PostFormValue("name"))
		s.TargetRoles = splitComma(r.PostFormValue("roles"))
		switch {
		case s.Script != nil:
			s.Script.Body = strings.ReplaceAll(r.PostFormValue("body"), "\r\n", "\n")
		case s.Package != nil:
			s.Package.PackageID = strings.TrimSpace(r.PostFormValue("package"))
			s.Package.SubstituteFiles = splitComma(r.PostFormValue("substitute"))
		case s.Manual != nil:
			s.TargetRoles = nil
			s.Manual.Instructions = r.PostFormValue("instructions")
			s.Manual.ResponsibleTeams = splitComma(r.PostFormValue("teams"))
		}
		s.Environments = r.PostForm["environment"]
		s.Required = r.PostFormValue("required") == "on"
		s.Condition = model.StepCondition(r.PostFormValue("condition"))
		if s.Condition == model.ConditionSuccess {
			s.Condition = ""
		}
		s.ConditionExpression = strings.TrimSpace(r.PostFormValue("expression"))
		s.Retries, _ = strconv.Atoi(r.PostFormValue("retries"))
		s.RetryDelaySeconds, _ = strconv.Atoi(r.PostFormValue("delay"))
		edited = *s
		return nil
	})
	if err != nil {
		v.Error = err
		p.showStep(w, r, v, statusOf(err), edited)
		return
	}
	http.Redirect(w, r, "/projects/"+id+"?done="+url.QueryEscape("Saved step "+edited.Name)+"#process", http.StatusSeeOther)
}

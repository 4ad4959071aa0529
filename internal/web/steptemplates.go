package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

func (p *Portal) stepTemplateRoutes() {
	p.mux.HandleFunc("GET /step-templates", p.stepTemplates)
	p.mux.HandleFunc("GET /script-modules", p.scriptModules)
	p.mux.HandleFunc("POST /script-modules", p.saveScriptModule)
	p.mux.HandleFunc("POST /script-modules/{id}", p.saveScriptModule)
	p.mux.HandleFunc("POST /script-modules/{id}/delete", p.deleteScriptModule)
	p.mux.HandleFunc("GET /step-templates/new", p.newStepTemplate)
	p.mux.HandleFunc("POST /step-templates", p.saveStepTemplate)
	p.mux.HandleFunc("GET /step-templates/{id}", p.stepTemplatePage)
	p.mux.HandleFunc("POST /step-templates/{id}", p.saveStepTemplate)
	p.mux.HandleFunc("POST /step-templates/{id}/delete", p.deleteStepTemplate)
	p.mux.HandleFunc("POST /projects/{id}/steps/{step}/update-template", p.stepsOf(p.processSteps, p.updateStepTemplate))
}

type stepTemplateRow struct {
	Template model.StepTemplate
	Usage    []model.StepTemplateUsage
}

// templateView is what a step page shows of the template its step is
// made from: the version used, its parameters with the step's values, and
// what moving to the newest version changes.
type templateView struct {
	Name       string
	ID         string
	Version    int
	Latest     int
	Parameters []templateParam
	Change     *model.StepTemplateChange
}

type templateParam struct {
	model.StepTemplateParameter
	Value string
	// Set says a sensitive value is stored (it is never shown).
	Set bool
}

func (p *Portal) templateView(r *http.Request, projectID string, step model.Step) *templateView {
	ref := step.Template
	if ref == nil {
		return nil
	}
	tv := &templateView{ID: ref.ID, Version: ref.Version, Name: ref.ID}
	var used, newest model.StepTemplate
	if _, err := p.call(r, http.MethodGet, "/step-templates/"+url.PathEscape(ref.ID)+"/versions/"+strconv.Itoa(ref.Version), nil, &used); err != nil {
		return tv
	}
	tv.Name = used.Name
	for _, par := range used.Parameters {
		tp := templateParam{StepTemplateParameter: par, Value: ref.Parameters[par.Name]}
		_, tp.Set = ref.Sensitive[par.Name]
		tv.Parameters = append(tv.Parameters, tp)
	}
	if _, err := p.call(r, http.MethodGet, "/step-templates/"+url.PathEscape(ref.ID), nil, &newest); err == nil {
		tv.Name, tv.Latest = newest.Name, newest.Version
	}
	if tv.Latest > tv.Version {
		// The same comparison the update's dry run makes; a GET page has no
		// CSRF token to POST the dry run with.
		c := model.DiffStepTemplates(used, newest)
		for name := range ref.Parameters {
			if _, ok := newest.Parameter(name); !ok {
				c.ValuesDropped = append(c.ValuesDropped, name)
			}
		}
		slices.Sort(c.ValuesDropped)
		tv.Change = &c
	}
	return tv
}

// applyTemplateForm reads a template step's parameter values; a
// sensitive one left empty keeps the stored value.
func applyTemplateForm(ref *model.StepTemplateRef, f url.Values) {
	values := map[string]string{}
	for key := range f {
		if name, ok := cutPrefix(key, "param."); ok {
			if v := f.Get(key); v != "" || !slices.Contains(f["sensitive"], name) {
				values[name] = v
			}
		}
	}
	ref.Parameters = values
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}

// updateStepTemplate moves a step to its template's newest version.
func (p *Portal) updateStepTemplate(w http.ResponseWriter, r *http.Request, list stepList) {
	if _, ok := p.session(w, r); !ok {
		return
	}
	step := r.PathValue("step")
	var u wire.StepTemplateUpdate
	if _, err := p.call(r, http.MethodPost, list.StepAPI+"/"+url.PathEscape(step)+"/update-template", nil, &u); err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, list.Base+"/steps/"+url.PathEscape(step)+"?done="+
		url.QueryEscape("Moved step "+u.StepName+" to template version "+strconv.Itoa(u.Change.To)+list.Note), http.StatusSeeOther)
}

package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// A step template's page: its current version, the form that saves the
// next one, its version history, the steps made from it and delete. The
// API makes the versions; the page only sends what the form says.

// emptyParameterRows are the blank parameter rows a form offers; "Add
// another parameter" draws the form again with one more.
const emptyParameterRows = 2

// maxParameterRows bounds the rows a posted form may claim.
const maxParameterRows = 100

type stepTemplateData struct {
	// Template is the current version; its ID is empty on the new page.
	Template model.StepTemplate
	Form     stepTemplateForm
	Versions []templateVersion
	Usage    []model.StepTemplateUsage
	// Behind counts the steps that use an older version.
	Behind int
	Feeds  []model.Feed
	// MayEdit says the visitor may change step templates.
	MayEdit bool
}

// templateVersion is one kept version and what it changed from the one
// before.
type templateVersion struct {
	Template model.StepTemplate
	Change   *model.StepTemplateChange
}

// Controls are the parameter kinds the form offers.
func (stepTemplateData) Controls() []model.ParameterControl {
	return []model.ParameterControl{model.ControlText, model.ControlMultiline, model.ControlCheckbox, model.ControlSelect, model.ControlSensitive}
}

// stepTemplateForm is the template as the form shows it, and what was
// typed into it.
type stepTemplateForm struct {
	// Version is the version the form was read from (0 for a new one).
	Version           int
	Name, Description string
	// Kind is "script" or "package".
	Kind         string
	Syntax, Body string
	// The package step's fields.
	PackageID, Feed, Acquisition, Substitute, Deploy string
	Parameters                                       []parameterRow
	// Newest is set when a save found the template changed since the
	// form was read: the version it is now.
	Newest int
}

type parameterRow struct {
	Name, Label, HelpText, Control, Default, Options string
}

func (r parameterRow) empty() bool {
	return r.Name == "" && r.Label == "" && r.HelpText == "" && r.Default == "" && r.Options == ""
}

// stepTemplateFormOf is a template as the form shows it, with blank rows for
// more parameters. A sensitive parameter has no default to show.
func stepTemplateFormOf(t model.StepTemplate) stepTemplateForm {
	f := stepTemplateForm{Version: t.Version, Name: t.Name, Description: t.Description, Kind: "script", Syntax: string(model.SyntaxBash)}
	switch {
	case t.Script != nil:
		f.Syntax, f.Body = string(t.Script.Syntax), t.Script.Body
	case t.Package != nil:
		pa := t.Package
		f.Kind, f.PackageID, f.Feed, f.Acquisition = "package", pa.PackageID, pa.FeedID, string(pa.Acquisition)
		f.Substitute = strings.Join(pa.SubstituteFiles, ", ")
		if pa.Deploy != nil {
			f.Deploy = pa.Deploy.Body
		}
	}
	for _, par := range t.Parameters {
		row := parameterRow{Name: par.Name, Label: par.Label, HelpText: par.HelpText, Control: string(par.Control),
			Default: par.DefaultValue, Options: strings.Join(par.Options, "\n")}
		f.Parameters = append(f.Parameters, row)
	}
	f.pad(emptyParameterRows)
	return f
}

// pad drops the rows left empty, keeps the others in order (so the API's
// "parameters[N]" complaints name the row shown N-th) and adds n blank
// rows. Defaults typed for sensitive parameters are never drawn back.
func (f *stepTemplateForm) pad(n int) {
	var rows []parameterRow
	for _, r := range f.Parameters {
		if r.Control == string(model.ControlSensitive) {
			r.Default = ""
		}
		if !r.empty() {
			rows = append(rows, r)
		}
	}
	for range n {
		rows = append(rows, parameterRow{Control: string(model.ControlText)})
	}
	f.Parameters = rows
}

// more adds one blank row to the rows as typed.
func (f *stepTemplateForm) more() {
	for i := range f.Parameters {
		if f.Parameters[i].Control == string(model.ControlSensitive) {
			f.Parameters[i].Default = ""
		}
	}
	f.Parameters = append(f.Parameters, parameterRow{Control: string(model.ControlText)})
}

// readStepTemplateForm reads the posted form; a row whose remove box is
// ticked, or left empty, is dropped.
func readStepTemplateForm(v url.Values) stepTemplateForm {
	text := func(key string) string { return strings.TrimSpace(v.Get(key)) }
	script := func(key string) string { return strings.ReplaceAll(v.Get(key), "\r\n", "\n") }
	f := stepTemplateForm{Name: text("name"), Description: text("description"), Kind: text("kind"), Syntax: text("syntax"), Body: script("body"),
		PackageID: text("package"), Feed: text("feed"), Acquisition: text("acquisition"), Substitute: text("substitute"), Deploy: script("deploy")}
	f.Version, _ = strconv.Atoi(text("version"))
	if f.Kind != "package" {
		f.Kind = "script"
	}
	rows, _ := strconv.Atoi(text("rows"))
	for i := range min(max(rows, 0), maxParameterRows) {
		key := func(field string) string { return "parameters[" + strconv.Itoa(i) + "]." + field }
		if v.Get(key("remove")) == "on" {
			continue
		}
		f.Parameters = append(f.Parameters, parameterRow{Name: strings.TrimSpace(v.Get(key("name"))), Label: strings.TrimSpace(v.Get(key("label"))),
			HelpText: strings.TrimSpace(v.Get(key("helpText"))), Control: strings.TrimSpace(v.Get(key("control"))),
			Default: v.Get(key("defaultValue")), Options: strings.ReplaceAll(v.Get(key("options")), "\r\n", "\n")})
	}
	return f
}

// into sets what the form says on t, keeping what it does not show (a
// package step's structured configuration files, say, set through the
// API): the template saved from the portal loses nothing.
func (f stepTemplateForm) into(t *model.StepTemplate) {
	t.Name, t.Description, t.Version = f.Name, f.Description, f.Version
	if f.Kind == "package" {
		if t.Package == nil {
			t.Package = &model.PackageAction{}
		}
		t.Script = nil
		pa := t.Package
		pa.PackageID, pa.FeedID, pa.SubstituteFiles = f.PackageID, f.Feed, splitComma(f.Substitute)
		pa.Acquisition = model.PackageAcquisition(f.Acquisition)
		if !model.IsExternalFeed(f.Feed) {
			pa.Acquisition = "" // the built-in feed's packages are sent by the server
		}
		switch {
		case strings.TrimSpace(f.Deploy) == "":
			pa.Deploy = nil
		case pa.Deploy == nil:
			pa.Deploy = &model.ScriptAction{Syntax: model.SyntaxBash, Body: f.Deploy}
		default:
			pa.Deploy.Body = f.Deploy
		}
	} else {
		if t.Script == nil {
			t.Script = &model.ScriptAction{}
		}
		t.Package = nil
		t.Script.Syntax, t.Script.Body = model.ScriptSyntax(f.Syntax), f.Body
	}
	t.Parameters = nil
	for _, r := range f.Parameters {
		if r.empty() {
			continue
		}
		par := model.StepTemplateParameter{Name: r.Name, Label: r.Label, HelpText: r.HelpText, Control: model.ParameterControl(r.Control), DefaultValue: r.Default}
		for _, o := range strings.Split(r.Options, "\n") {
			if o = strings.TrimSpace(o); o != "" {
				par.Options = append(par.Options, o)
			}
		}
		t.Parameters = append(t.Parameters, par)
	}
}

func (p *Portal) newStepTemplate(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showStepTemplate(w, r, v, http.StatusOK, "", stepTemplateFormOf(model.StepTemplate{}))
}

func (p *Portal) stepTemplatePage(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showStepTemplate(w, r, v, http.StatusOK, r.PathValue("id"), stepTemplateForm{})
}

// showStepTemplate draws the page of template id (the new page when
// empty), with form as typed, or the current version when form is zero.
func (p *Portal) showStepTemplate(w http.ResponseWriter, r *http.Request, v *view, status int, id string, form stepTemplateForm) {
	d := stepTemplateData{MayEdit: p.may(r, model.ActionTemplateEdit)}
	if id != "" {
		path := "/step-templates/" + url.PathEscape(id)
		if _, err := p.call(r, http.MethodGet, path, nil, &d.Template); err != nil {
			p.fail(w, r, err)
			return
		}
		var versions []model.StepTemplate
		p.call(r, http.MethodGet, path+"/versions", nil, &versions)
		for i, t := range versions { // newest first
			tv := templateVersion{Template: t}
			if i+1 < len(versions) {
				c := model.DiffStepTemplates(versions[i+1], t)
				tv.Change = &c
			}
			d.Versions = append(d.Versions, tv)
		}
		p.call(r, http.MethodGet, path+"/usage", nil, &d.Usage)
		for _, u := range d.Usage {
			if u.Behind {
				d.Behind++
			}
		}
	} else if !d.MayEdit {
		p.fail(w, r, &apiError{Status: http.StatusForbidden, Message: "you may not create step templates: that needs the ActionTemplateEdit permission"})
		return
	}
	if form.Kind == "" {
		form = stepTemplateFormOf(d.Template)
	}
	d.Form = form
	if d.MayEdit {
		d.Feeds = p.feedList(r)
	}
	v.Nav, v.Data = "library", d
	v.Title = "New step template"
	if id != "" {
		v.Title = "Step template " + d.Template.Name
	}
	p.render(w, status, "steptemplate", v)
}

// saveStepTemplate creates a template, or saves the form as the next
// version of the one the path names. "Add another parameter" draws the
// form again, as typed, with one more blank row, and saves nothing.
func (p *Portal) saveStepTemplate(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	id := r.PathValue("id")
	form := readStepTemplateForm(r.PostForm)
	if r.PostFormValue("more") != "" {
		form.more()
		p.showStepTemplate(w, r, v, http.StatusOK, id, form)
		return
	}
	var t model.StepTemplate
	method, path := http.MethodPost, "/step-templates"
	if id != "" {
		// Start from the version the form was read from, so what the form
		// does not show stays; the API refuses it if it is no longer the
		// newest.
		method, path = http.MethodPut, "/step-templates/"+url.PathEscape(id)
		if _, err := p.call(r, http.MethodGet, path+"/versions/"+strconv.Itoa(form.Version), nil, &t); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	form.into(&t)
	var out model.StepTemplate
	if _, err := p.call(r, method, path, t, &out); err != nil {
		v.Error = nameConflict(err)
		form.pad(emptyParameterRows)
		var ae *apiError
		if id != "" && errors.As(err, &ae) && ae.Status == http.StatusConflict {
			// Changed meanwhile? Then say which version is the newest.
			var now model.StepTemplate
			if _, e := p.call(r, http.MethodGet, path, nil, &now); e == nil && now.Version != form.Version {
				form.Newest = now.Version
			}
		}
		p.showStepTemplate(w, r, v, statusOf(err), id, form)
		return
	}
	done := "Created step template " + out.Name + " (version 1)"
	switch {
	case id == "":
	case out.Version == form.Version:
		done = "Nothing changed: " + out.Name + " stays at version " + strconv.Itoa(out.Version)
	default:
		done = "Saved " + out.Name + " as version " + strconv.Itoa(out.Version)
	}
	http.Redirect(w, r, "/step-templates/"+url.PathEscape(out.ID)+"?done="+url.QueryEscape(done), http.StatusSeeOther)
}

func (p *Portal) deleteStepTemplate(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if _, err := p.call(r, http.MethodDelete, "/step-templates/"+url.PathEscape(id), nil, nil); err != nil {
		v.Error = err
		p.showStepTemplate(w, r, v, statusOf(err), id, stepTemplateForm{})
		return
	}
	http.Redirect(w, r, "/step-templates?done="+url.QueryEscape("Deleted the step template"), http.StatusSeeOther)
}

// stepTemplates lists the library's step templates and where each is used.
func (p *Portal) stepTemplates(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	var items wire.Page[model.StepTemplate]
	if _, err := p.call(r, http.MethodGet, "/step-templates?take=1000", nil, &items); err != nil {
		p.fail(w, r, err)
		return
	}
	d := stepTemplatesData{MayEdit: p.may(r, model.ActionTemplateEdit)}
	for _, t := range items.Items {
		row := stepTemplateRow{Template: t}
		p.call(r, http.MethodGet, "/step-templates/"+url.PathEscape(t.ID)+"/usage", nil, &row.Usage)
		d.Rows = append(d.Rows, row)
	}
	v.Title, v.Nav, v.Data = "Step templates", "library", d
	p.render(w, http.StatusOK, "steptemplates", v)
}

type stepTemplatesData struct {
	Rows    []stepTemplateRow
	MayEdit bool
}

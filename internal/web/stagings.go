package web

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// Stagings: per-feature environments made from a project's staging
// template. A project's stagings page lists them with a form to create one;
// each staging's page shows its state, configuration, expiry and history
// with the actions its state allows; the template page edits the control
// scripts. Everything goes through the API, so what a page allows is what
// the visitor's permissions allow.

func (p *Portal) stagingRoutes() {
	m := p.mux
	m.HandleFunc("GET /stagings", p.allStagings)
	m.HandleFunc("POST /stagings", p.createStaging)
	m.HandleFunc("GET /projects/{id}/stagings", p.projectStagings)
	m.HandleFunc("GET /projects/{id}/staging-template", p.stagingTemplatePage)
	m.HandleFunc("POST /projects/{id}/staging-template", p.saveStagingTemplate)
	m.HandleFunc("GET /stagings/{id}", p.stagingPage)
	m.HandleFunc("POST /stagings/{id}/update", p.updateStaging)
	m.HandleFunc("POST /stagings/{id}/keep", p.keepStaging)
	m.HandleFunc("POST /stagings/{id}/archive", p.stagingAction("archive"))
	m.HandleFunc("POST /stagings/{id}/restore", p.stagingAction("restore"))
	m.HandleFunc("POST /stagings/{id}/cleanup", p.stagingAction("cleanup"))
	m.HandleFunc("POST /stagings/{id}/delete", p.deleteStaging)
	m.HandleFunc("POST /stagings/{id}/promote", p.promoteStaging)
}

// stagingLabel is a staging's state as people read it.
func stagingLabel(st model.Staging) string {
	switch st.State {
	case model.StagingCreatePending:
		return "Creating…"
	case model.StagingRunning:
		return "Running"
	case model.StagingFailure:
		if r := failureReason(st.Reason); r != "" {
			return "Failed: " + r
		}
		return "Failed"
	case model.StagingUpdatePending:
		return "Updating…"
	case model.StagingArchivePending:
		return "Archiving…"
	case model.StagingArchived:
		return "Archived"
	case model.StagingCleanupFailed:
		return "Cleanup failed"
	}
	return string(st.State)
}

func failureReason(r model.StagingFailureReason) string {
	switch r {
	case model.FailureGeneric:
		return "check failed"
	case model.FailurePartialAvailability:
		return "partly available"
	case model.FailureTagMismatch:
		return "tag mismatch"
	case model.FailureAction:
		return "a script failed"
	}
	return string(r)
}

// neverYear is the year of the API's "never expires" keep-until.
const neverYear = 9999

// keepText writes a staging's keep-until.
func keepText(t *time.Time) string {
	switch {
	case t == nil:
		return ""
	case t.Year() >= neverYear:
		return "never expires"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// stagingRow is a staging in a list, its overrides in short.
type stagingRow struct {
	model.Staging
	ProjectName string
	Overrides   []string
	Keep        string
}

// shortValue cuts a long value for a table.
func shortValue(v string) string {
	if r := []rune(v); len(r) > 40 {
		return string(r[:39]) + "…"
	}
	return v
}

func overridesInShort(o model.StagingOverrides) []string {
	var out []string
	for _, lv := range []struct {
		level string
		m     map[string]*string
	}{{"app", o.App}, {"deployment", o.Deployment}} {
		for _, k := range slices.Sorted(maps.Keys(lv.m)) {
			v := lv.m[k]
			switch {
			case v == nil:
				out = append(out, lv.level+"."+k+" removed")
			case *v == model.StagingMask:
				out = append(out, lv.level+"."+k+" (sensitive)")
			default:
				out = append(out, lv.level+"."+k+"="+shortValue(*v))
			}
		}
	}
	return out
}

func rowOf(st model.Staging, projectName string) stagingRow {
	return stagingRow{Staging: st, ProjectName: projectName, Overrides: overridesInShort(st.Overrides), Keep: keepText(st.KeepUntil)}
}

// configRow is one configuration key of a template or a staging.
type configRow struct {
	// Key is "app.tag" or "deployment.replicas".
	Key                 string
	Value, Default      string
	Present, HasDefault bool
	Sensitive           bool
	// Status is default, overridden, added or removed.
	Status string
}

// configRows lays out a configuration: the template's defaults, the
// staging's overrides and what they make (each may be empty).
func configRows(t model.StagingTemplate, o model.StagingOverrides, eff model.StagingConfig) []configRow {
	var rows []configRow
	for _, lv := range []struct {
		level     string
		defaults  map[string]string
		overrides map[string]*string
		effective map[string]string
	}{{"app", t.Defaults.App, o.App, eff.App}, {"deployment", t.Defaults.Deployment, o.Deployment, eff.Deployment}} {
		keys := map[string]bool{}
		for k := range lv.defaults {
			keys[k] = true
		}
		for k := range lv.overrides {
			keys[k] = true
		}
		for k := range lv.effective {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			row := configRow{Key: lv.level + "." + k, Sensitive: t.IsSensitive(lv.level, k)}
			row.Default, row.HasDefault = lv.defaults[k]
			row.Value, row.Present = lv.effective[k]
			ov, overridden := lv.overrides[k]
			switch {
			case overridden && ov == nil:
				row.Status = "removed"
			case overridden && row.HasDefault:
				row.Status = "overridden"
			case overridden:
				row.Status = "added"
			default:
				row.Status = "default"
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// formProblems is a refusal found by the portal before the API is asked,
// in the API's shape so the messages sit next to their fields.
func formProblems(what string, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return &apiError{Status: http.StatusBadRequest, Message: what + " is invalid", Details: problems}
}

// parseConfigLines reads "app.tag=ab12cd" lines (a bare key is an
// application key); blank lines and # comments are skipped.
func parseConfigLines(field, text string) (map[string]string, []string) {
	out := map[string]string{}
	var problems []string
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		k, v, ok := strings.Cut(trimmed, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			problems = append(problems, fmt.Sprintf("%s: line %d, %q, is not KEY=VALUE (such as app.tag=ab12cd)", field, i+1, shortValue(trimmed)))
			continue
		}
		if _, dup := out[k]; dup {
			problems = append(problems, fmt.Sprintf("%s: line %d gives %s a second time", field, i+1, k))
			continue
		}
		out[k] = strings.TrimLeftFunc(v, unicode.IsSpace)
	}
	return out, problems
}

// splitKeys reads keys separated by commas, spaces or lines.
func splitKeys(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// configLines writes a configuration as the template form's lines.
func configLines(c model.StagingConfig) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(c.App)) {
		fmt.Fprintf(&b, "app.%s=%s\n", k, c.App[k])
	}
	for _, k := range slices.Sorted(maps.Keys(c.Deployment)) {
		fmt.Fprintf(&b, "deployment.%s=%s\n", k, c.Deployment[k])
	}
	return b.String()
}

// isSensitiveKey reports whether a key as people write it ("tag",
// "app.tag", "deployment.x") is one of the template's sensitive keys.
func isSensitiveKey(t *model.StagingTemplate, full string) bool {
	if t == nil {
		return false
	}
	level, key, err := model.SplitStagingKey(full)
	return err == nil && t.IsSensitive(level, key)
}

// withoutSensitive drops the lines of sensitive keys from a form being
// shown again, so a secret typed once is not written back into the page;
// it returns the keys it dropped.
func withoutSensitive(t *model.StagingTemplate, text string) (string, []string) {
	var kept []string
	var dropped []string
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if k, _, ok := strings.Cut(strings.TrimSpace(line), "="); ok && isSensitiveKey(t, strings.TrimSpace(k)) {
			dropped = append(dropped, strings.TrimSpace(k))
			continue
		}
		kept = append(kept, line)
	}
	return strings.Join(kept, "\n"), dropped
}

// the stagings lists

type stagingsData struct {
	// Project is nil on the page of every project's stagings.
	Project *model.Project
	// Template is the project's, nil when it has none.
	Template     *model.StagingTemplate
	Rows         []stagingRow
	ShowArchived bool
	// Archived counts the archived stagings (shown or left out).
	Archived int
	Defaults []configRow
	Form     stagingCreateForm
	// Redacted are the sensitive keys whose values a refused form does
	// not show again.
	Redacted []string
}

type stagingCreateForm struct{ Name, Config, Keep string }

// listStagings reads stagings (of one project, or every one visible),
// leaving archived ones out unless asked for.
func (p *Portal) listStagings(r *http.Request, projectID string, names map[string]string) ([]stagingRow, int, bool, error) {
	showArchived := r.URL.Query().Get("archived") != ""
	path := "/stagings"
	if projectID != "" {
		path += "?projectId=" + url.QueryEscape(projectID)
	}
	var list []model.Staging
	if _, err := p.call(r, http.MethodGet, path, nil, &list); err != nil {
		return nil, 0, showArchived, err
	}
	var rows []stagingRow
	archived := 0
	for _, st := range list {
		if st.State == model.StagingArchived {
			archived++
			if !showArchived {
				continue
			}
		}
		rows = append(rows, rowOf(st, names[st.ProjectID]))
	}
	return rows, archived, showArchived, nil
}

func (p *Portal) allStagings(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	_, names := p.projectList(r)
	var d stagingsData
	var err error
	if d.Rows, d.Archived, d.ShowArchived, err = p.listStagings(r, "", names); err != nil {
		p.fail(w, r, err)
		return
	}
	v.Title, v.Nav, v.Data = "Stagings", "stagings", d
	p.render(w, http.StatusOK, "stagings", v)
}

func (p *Portal) projectStagings(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showProjectStagings(w, r, v, http.StatusOK, r.PathValue("id"), stagingCreateForm{})
}

// getTemplate reads a project's staging template; nil when it has none.
func (p *Portal) getTemplate(r *http.Request, projectID string) (*model.StagingTemplate, error) {
	var t model.StagingTemplate
	if _, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(projectID)+"/staging-template", nil, &t); err != nil {
		if statusOf(err) == http.StatusNotFound {
			return nil, nil
		}
		return nil, err
	}
	return &t, nil
}

func (p *Portal) showProjectStagings(w http.ResponseWriter, r *http.Request, v *view, status int, projectID string, form stagingCreateForm) {
	var proj model.Project
	if _, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(projectID), nil, &proj); err != nil {
		p.fail(w, r, err)
		return
	}
	d := stagingsData{Project: &proj}
	var err error
	if d.Template, err = p.getTemplate(r, proj.ID); err != nil {
		p.fail(w, r, err)
		return
	}
	if d.Rows, d.Archived, d.ShowArchived, err = p.listStagings(r, proj.ID, map[string]string{proj.ID: proj.Name}); err != nil {
		p.fail(w, r, err)
		return
	}
	if d.Template != nil {
		d.Defaults = configRows(*d.Template, model.StagingOverrides{}, d.Template.Defaults)
	}
	d.Form = form
	if v.Error != nil {
		d.Form.Config, d.Redacted = withoutSensitive(d.Template, form.Config)
	}
	v.Title, v.Nav, v.Data = proj.Name+": stagings", "projects", d
	p.render(w, status, "stagings", v)
}

func (p *Portal) createStaging(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	projectID := r.PostFormValue("project")
	form := stagingCreateForm{Name: strings.TrimSpace(r.PostFormValue("name")), Config: r.PostFormValue("config"), Keep: strings.TrimSpace(r.PostFormValue("keep"))}
	set, problems := parseConfigLines("config", form.Config)
	var res wire.StagingResult
	err := formProblems("staging", problems)
	if err == nil {
		req := wire.StagingRequest{ProjectID: projectID, Name: form.Name, Set: set, KeepUntil: form.Keep}
		_, err = p.call(r, http.MethodPost, "/stagings", req, &res)
	}
	if err != nil {
		v.Error = err
		if projectID == "" {
			p.fail(w, r, err)
			return
		}
		p.showProjectStagings(w, r, v, statusOf(err), projectID, form)
		return
	}
	http.Redirect(w, r, "/stagings/"+url.PathEscape(res.Staging.ID)+"?done="+url.QueryEscape("Creating staging "+res.Staging.Name+": this page follows it"), http.StatusSeeOther)
}

// a staging's page

type stagingData struct {
	Staging     wire.StagingDetail
	Project     model.Project
	Template    model.StagingTemplate
	HasTemplate bool
	Config      []configRow
	// Busy: an action is running; Pending: the state is waiting on a
	// check. The page refreshes itself while either holds.
	Busy, Pending bool
	Can           stagingActions
	Keep          string
	// Tag is the value promote would use as the packages' version;
	// Release, the release's version when the form leaves it out.
	Tag, Release string
	// Forms shown again after a refusal; Failed names the one the API
	// refused (update, keep, promote, archive, restore, cleanup, delete).
	Update  stagingUpdateForm
	KeepFor string
	Promote wire.PromoteStagingRequest
	Failed  string
}

// stagingActions are the actions a staging's state allows.
type stagingActions struct {
	Update, Keep, Archive, Restore, Cleanup, Delete, Promote bool
}

type stagingUpdateForm struct {
	Set, Unset string
	Reset      []string
}

func actionsFor(st model.Staging, tag string) stagingActions {
	if st.TaskID != "" {
		return stagingActions{} // busy: every action waits
	}
	var a stagingActions
	switch st.State {
	case model.StagingRunning, model.StagingFailure, model.StagingCreatePending, model.StagingUpdatePending:
		a.Update, a.Keep, a.Archive = true, true, true
	case model.StagingArchived:
		a.Restore, a.Cleanup, a.Delete = true, true, true
	case model.StagingCleanupFailed:
		a.Cleanup, a.Delete = true, true
	}
	a.Delete = a.Delete || st.State == model.StagingFailure
	a.Promote = st.State == model.StagingRunning && tag != "" && tag != model.StagingMask
	return a
}

func (p *Portal) stagingPage(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showStaging(w, r, v, http.StatusOK, "", stagingUpdateForm{})
}

func (p *Portal) getStaging(r *http.Request) (wire.StagingDetail, error) {
	var d wire.StagingDetail
	_, err := p.call(r, http.MethodGet, "/stagings/"+url.PathEscape(r.PathValue("id")), nil, &d)
	if statusOf(err) == http.StatusNotFound {
		err = &apiError{Status: http.StatusNotFound, Message: "there is no staging " + r.PathValue("id") + ": it was cleaned up or deleted (the stagings page lists those left)"}
	}
	return d, err
}

func (p *Portal) showStaging(w http.ResponseWriter, r *http.Request, v *view, status int, failed string, form stagingUpdateForm) {
	var d stagingData
	var err error
	if d.Staging, err = p.getStaging(r); err != nil {
		p.fail(w, r, err)
		return
	}
	st := d.Staging.Staging
	if _, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(st.ProjectID), nil, &d.Project); err != nil {
		p.fail(w, r, err)
		return
	}
	if t, err := p.getTemplate(r, st.ProjectID); err == nil && t != nil {
		d.Template, d.HasTemplate = *t, true
	}
	d.Config = configRows(d.Template, st.Overrides, d.Staging.Effective)
	tagKey := d.Template.TagKey
	if tagKey == "" {
		tagKey = model.DefaultStagingTagKey
	}
	if level, key, err := model.SplitStagingKey(tagKey); err == nil {
		if level == "deployment" {
			d.Tag = d.Staging.Effective.Deployment[key]
		} else {
			d.Tag = d.Staging.Effective.App[key]
		}
	}
	d.Release = "the project's next version"
	if model.ValidateVersion(d.Tag) == nil {
		d.Release = d.Tag
	}
	d.Busy = st.TaskID != ""
	d.Pending = st.State == model.StagingCreatePending || st.State == model.StagingUpdatePending || st.State == model.StagingArchivePending
	d.Can = actionsFor(st, d.Tag)
	d.Keep = keepText(st.KeepUntil)
	d.Failed, d.Update = failed, form
	if failed == "keep" {
		d.KeepFor = strings.TrimSpace(r.PostFormValue("keep"))
	}
	if failed == "promote" {
		d.Promote = wire.PromoteStagingRequest{Version: strings.TrimSpace(r.PostFormValue("version")), Notes: r.PostFormValue("notes")}
	}
	if failed == "update" {
		d.Update.Set, _ = withoutSensitive(&d.Template, form.Set)
	}
	v.Title, v.Nav, v.Data = st.Name+" ("+d.Project.Name+")", "stagings", d
	p.render(w, status, "staging", v)
}

// refusedStaging shows the staging's page again with the API's answer
// next to the form that was sent.
func (p *Portal) refusedStaging(w http.ResponseWriter, r *http.Request, v *view, err error, failed string, form stagingUpdateForm) {
	v.Error = err
	p.showStaging(w, r, v, statusOf(err), failed, form)
}

func backToStaging(w http.ResponseWriter, r *http.Request, msg string) {
	http.Redirect(w, r, "/stagings/"+url.PathEscape(r.PathValue("id"))+"?done="+url.QueryEscape(msg), http.StatusSeeOther)
}

func (p *Portal) updateStaging(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	form := stagingUpdateForm{Set: r.PostFormValue("set"), Unset: r.PostFormValue("unset"), Reset: r.PostForm["reset"]}
	set, problems := parseConfigLines("set", form.Set)
	// The mask stands for a stored secret: sent back, it keeps it.
	for k, val := range set {
		if val == model.StagingMask {
			delete(set, k)
		}
	}
	var res wire.StagingResult
	err := formProblems("staging", problems)
	if err == nil {
		req := wire.StagingRequest{Set: set, Unset: splitKeys(form.Unset), Reset: form.Reset}
		_, err = p.call(r, http.MethodPost, "/stagings/"+url.PathEscape(r.PathValue("id"))+"/update", req, &res)
	}
	if err != nil {
		p.refusedStaging(w, r, v, err, "update", form)
		return
	}
	backToStaging(w, r, "Updating staging "+res.Staging.Name)
}

func (p *Portal) keepStaging(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	var st model.Staging
	req := wire.StagingRequest{KeepUntil: strings.TrimSpace(r.PostFormValue("keep"))}
	if req.KeepUntil == "" {
		req.KeepUntil = "default" // an empty field: back to the template's expiry
	}
	if _, err := p.call(r, http.MethodPost, "/stagings/"+url.PathEscape(r.PathValue("id"))+"/keep", req, &st); err != nil {
		p.refusedStaging(w, r, v, err, "keep", stagingUpdateForm{})
		return
	}
	msg := "Staging " + st.Name + " expires as the template says"
	switch {
	case st.KeepUntil != nil && st.KeepUntil.Year() >= neverYear:
		msg = "Staging " + st.Name + " never expires"
	case st.KeepUntil != nil:
		msg = "Staging " + st.Name + " is kept until " + keepText(st.KeepUntil)
	}
	backToStaging(w, r, msg)
}

// stagingAction runs archive, restore or cleanup.
func (p *Portal) stagingAction(action string) http.HandlerFunc {
	verb := map[string]string{"archive": "Archiving", "restore": "Restoring", "cleanup": "Cleaning up"}[action]
	return func(w http.ResponseWriter, r *http.Request) {
		v, ok := p.session(w, r)
		if !ok {
			return
		}
		if action == "cleanup" && r.PostFormValue("confirm") != "yes" {
			p.refusedStaging(w, r, v, &apiError{Status: http.StatusBadRequest,
				Message: "nothing was cleaned up: tick the box to confirm that the staging's resources should be removed"}, action, stagingUpdateForm{})
			return
		}
		var res wire.StagingResult
		if _, err := p.call(r, http.MethodPost, "/stagings/"+url.PathEscape(r.PathValue("id"))+"/"+action, nil, &res); err != nil {
			p.refusedStaging(w, r, v, err, action, stagingUpdateForm{})
			return
		}
		msg := verb + " staging " + res.Staging.Name
		if action == "cleanup" {
			msg += ": when the cleanup script succeeds, the staging is gone"
		}
		backToStaging(w, r, msg)
	}
}

func (p *Portal) deleteStaging(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	d, err := p.getStaging(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		p.refusedStaging(w, r, v, notConfirmed("the staging "+d.Name), "delete", stagingUpdateForm{})
		return
	}
	if _, err := p.call(r, http.MethodDelete, "/stagings/"+url.PathEscape(d.ID), nil, nil); err != nil {
		p.refusedStaging(w, r, v, err, "delete", stagingUpdateForm{})
		return
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(d.ProjectID)+"/stagings?done="+url.QueryEscape("Deleted staging "+d.Name+" (no script ran)"), http.StatusSeeOther)
}

func (p *Portal) promoteStaging(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	req := wire.PromoteStagingRequest{Version: strings.TrimSpace(r.PostFormValue("version")), Notes: r.PostFormValue("notes")}
	var rel wire.CreateReleaseResponse
	if _, err := p.call(r, http.MethodPost, "/stagings/"+url.PathEscape(r.PathValue("id"))+"/promote", req, &rel); err != nil {
		p.refusedStaging(w, r, v, err, "promote", stagingUpdateForm{})
		return
	}
	http.Redirect(w, r, "/releases/"+url.PathEscape(rel.ID)+"?done="+url.QueryEscape("Created release "+rel.Version+" from the staging"), http.StatusSeeOther)
}

// the staging template

// templateForm is a staging template as its form has it: durations,
// defaults and sensitive keys as text.
type templateForm struct {
	Scripts                                                                   model.StagingScripts
	Arguments, BaseDomain, Namespace, NamePattern, TagKey, WorkerPoolID       string
	ScriptTimeout, StatusTimeout, CheckInterval, IdleExpiry, ArchiveRetention string
	Defaults, SensitiveKeys                                                   string
	Version                                                                   int
}

// newTemplateForm is where a project without a template starts: the
// server's defaults, written out.
var newTemplateForm = templateForm{Arguments: string(model.ArgumentsPulpo), NamePattern: model.DefaultStagingNamePattern, TagKey: model.DefaultStagingTagKey,
	ScriptTimeout: formDuration(model.DefaultStagingScriptTimeout), StatusTimeout: formDuration(model.DefaultStagingStatusTimeout),
	CheckInterval: formDuration(model.DefaultStagingCheckInterval), IdleExpiry: "0", ArchiveRetention: formDuration(model.DefaultStagingArchiveRetain)}

func templateFormOf(t model.StagingTemplate) templateForm {
	return templateForm{Scripts: t.Scripts, Arguments: string(t.Arguments), BaseDomain: t.BaseDomain, Namespace: t.Namespace,
		NamePattern: t.NamePattern, TagKey: t.TagKey, WorkerPoolID: t.WorkerPoolID,
		ScriptTimeout: formDuration(t.ScriptTimeout.D), StatusTimeout: formDuration(t.StatusTimeout.D), CheckInterval: formDuration(t.CheckInterval.D),
		IdleExpiry: formDuration(t.IdleExpiry.D), ArchiveRetention: formDuration(t.ArchiveRetention.D),
		Defaults: configLines(t.Defaults), SensitiveKeys: strings.Join(t.SensitiveKeys, ", "), Version: t.Version}
}

// scriptField is one control script's textarea.
type scriptField struct {
	// Name is the form field and the API's (scripts.NAME).
	Name, Label, Help, Body string
	Required                bool
}

// ScriptFields lists the control scripts in the order they run in a
// staging's life.
func (f templateForm) ScriptFields() []scriptField {
	s := f.Scripts
	return []scriptField{
		{"configCheck", "Config check", "Vets a configuration before create, update and restore: a non-zero exit refuses it, and what the script printed is the message people see.", s.ConfigCheck, false},
		{"create", "Create", "Brings a new staging up.", s.Create, true},
		{"update", "Update", "Applies a changed configuration (a new app.tag, say) to a staging.", s.Update, true},
		{"check", "Check", "Runs every check interval on each staging and says whether it is up: exit 0 healthy, 2 partly available, 3 tag mismatch (not the tag it should run), anything else failed. Empty: a staging is Running once its create or update script succeeds.", s.Check, false},
		{"info", "Info", "Prints the staging's links, one name,url line each (such as web,https://feature-a.example.com); runs after create, update and restore.", s.Info, false},
		{"archive", "Archive", "Stops a staging, keeping what a restore needs.", s.Archive, true},
		{"archiveCheck", "Archive check", "Says whether archiving is done: exit 0 when it is. Empty: archived as soon as the archive script succeeds.", s.ArchiveCheck, false},
		{"restore", "Restore", "Brings an archived staging back. Empty: the create script runs again.", s.Restore, false},
		{"cleanup", "Cleanup", "Removes everything left of an archived staging; when it succeeds the staging is gone.", s.Cleanup, true},
		{"notify", "Notify", "Told of each state change, with --old-status and --new-status after the four contract arguments (no configuration arguments).", s.Notify, false},
	}
}

func readTemplateForm(r *http.Request) templateForm {
	text := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	// Browsers send a textarea's lines ending in CR LF; bash wants LF.
	script := func(name string) string { return strings.ReplaceAll(r.PostFormValue(name), "\r\n", "\n") }
	version, _ := strconv.Atoi(r.PostFormValue("version"))
	return templateForm{
		Scripts: model.StagingScripts{Create: script("create"), Update: script("update"), Archive: script("archive"), Restore: script("restore"),
			Check: script("check"), ArchiveCheck: script("archiveCheck"), Cleanup: script("cleanup"), ConfigCheck: script("configCheck"),
			Info: script("info"), Notify: script("notify")},
		Arguments: text("arguments"), BaseDomain: text("baseDomain"), Namespace: text("namespace"), NamePattern: text("namePattern"),
		TagKey: text("tagKey"), WorkerPoolID: r.PostFormValue("workerPool"),
		ScriptTimeout: text("scriptTimeout"), StatusTimeout: text("statusTimeout"), CheckInterval: text("checkInterval"),
		IdleExpiry: text("idleExpiry"), ArchiveRetention: text("archiveRetention"),
		Defaults: script("defaults"), SensitiveKeys: r.PostFormValue("sensitiveKeys"), Version: version,
	}
}

// into makes the template the form describes. What does not read is
// refused here, with whatever else the template's own checks find, so one
// answer lists every field to fix.
func (f templateForm) into(t *model.StagingTemplate) error {
	t.Scripts, t.Arguments = f.Scripts, model.StagingArguments(f.Arguments)
	t.BaseDomain, t.Namespace, t.NamePattern, t.TagKey, t.WorkerPoolID = f.BaseDomain, f.Namespace, f.NamePattern, f.TagKey, f.WorkerPoolID
	t.SensitiveKeys, t.Version = splitKeys(f.SensitiveKeys), f.Version
	var bad []string
	unread := map[string]bool{}
	for _, d := range []struct {
		field, text string
		into        *model.Duration
	}{{"scriptTimeout", f.ScriptTimeout, &t.ScriptTimeout}, {"statusTimeout", f.StatusTimeout, &t.StatusTimeout},
		{"checkInterval", f.CheckInterval, &t.CheckInterval}, {"idleExpiry", f.IdleExpiry, &t.IdleExpiry}, {"archiveRetention", f.ArchiveRetention, &t.ArchiveRetention}} {
		v, err := parseFormDuration(d.text)
		if err != nil {
			bad, unread[d.field] = append(bad, d.field+": "+err.Error()), true
			continue
		}
		d.into.D = v
	}
	pairs, problems := parseConfigLines("defaults", f.Defaults)
	if len(problems) > 0 {
		bad, unread["defaults"] = append(bad, problems...), true
	}
	t.Defaults = model.StagingConfig{}
	for _, full := range slices.Sorted(maps.Keys(pairs)) {
		level, key, err := model.SplitStagingKey(full)
		if err != nil {
			bad, unread["defaults"] = append(bad, "defaults: "+err.Error()), true
			continue
		}
		m := &t.Defaults.App
		if level == "deployment" {
			m = &t.Defaults.Deployment
		}
		if *m == nil {
			*m = map[string]string{}
		}
		if _, dup := (*m)[key]; dup {
			bad, unread["defaults"] = append(bad, fmt.Sprintf("defaults: %s is given twice (%s and %s.%s are the same key)", full, key, level, key)), true
			continue
		}
		(*m)[key] = pairs[full]
	}
	if len(bad) == 0 {
		return nil
	}
	var ve *model.ValidationError
	if errors.As(t.Validate(), &ve) {
		for _, problem := range ve.Problems {
			field, _, _ := strings.Cut(problem, ": ")
			if first, _, _ := strings.Cut(field, "."); !unread[field] && !unread[first] {
				bad = append(bad, problem)
			}
		}
	}
	return &apiError{Status: http.StatusBadRequest, Message: "staging template is invalid", Details: bad}
}

type stagingTemplateData struct {
	Project model.Project
	// Exists says the project has a template (the form starts from it).
	Exists bool
	Form   templateForm
	Pools  []model.WorkerPool
}

func (p *Portal) stagingTemplatePage(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	t, err := p.getTemplate(r, r.PathValue("id"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	form := newTemplateForm
	if t != nil {
		form = templateFormOf(*t)
	}
	p.showStagingTemplate(w, r, v, http.StatusOK, t != nil, form)
}

func (p *Portal) showStagingTemplate(w http.ResponseWriter, r *http.Request, v *view, status int, exists bool, form templateForm) {
	d := stagingTemplateData{Exists: exists, Form: form}
	if _, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(r.PathValue("id")), nil, &d.Project); err != nil {
		p.fail(w, r, err)
		return
	}
	var pools wire.Page[model.WorkerPool]
	p.call(r, http.MethodGet, "/workerpools?take=1000", nil, &pools)
	d.Pools = pools.Items
	v.Title, v.Nav, v.Data = d.Project.Name+": staging template", "projects", d
	p.render(w, status, "stagingtemplate", v)
}

func (p *Portal) saveStagingTemplate(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	form := readTemplateForm(r)
	t := model.StagingTemplate{ProjectID: id}
	err := form.into(&t)
	if err == nil {
		_, err = p.call(r, http.MethodPut, "/projects/"+url.PathEscape(id)+"/staging-template", t, &t)
	}
	if err != nil {
		v.Error = err
		p.showStagingTemplate(w, r, v, statusOf(err), form.Version != 0, form)
		return
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(id)+"/staging-template?done="+url.QueryEscape(fmt.Sprintf("Saved the staging template (version %d)", t.Version)), http.StatusSeeOther)
}

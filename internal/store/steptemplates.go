package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/template"
)

// Step templates are Octopus's action templates; the name "templates" in
// this package belongs to stagings.

const stepTemplateColumns = `id, version, doc`

func scanStepTemplate(s scanner) (model.StepTemplate, error) {
	var t model.StepTemplate
	var id, doc string
	var version int
	if err := s.Scan(&id, &version, &doc); err != nil {
		return t, err
	}
	if err := unmarshal(doc, &t); err != nil {
		return t, fmt.Errorf("read step template %s: %w", id, err)
	}
	t.ID, t.Version = id, version
	return t, nil
}

func (q *Queries) prepareStepTemplate(t *model.StepTemplate) (string, error) {
	t.Normalize()
	if err := t.Validate(); err != nil {
		return "", err
	}
	var problems []string
	if t.Script != nil {
		if _, err := template.Parse(t.Script.Body); err != nil {
			problems = append(problems, fmt.Sprintf("script.body: %v", err))
		}
	}
	for i, p := range t.Parameters {
		if _, err := template.Parse(p.DefaultValue); err != nil {
			problems = append(problems, fmt.Sprintf("parameters[%d].defaultValue: %v", i, err))
		}
	}
	if len(problems) > 0 {
		return "", &model.ValidationError{Subject: "step template", Problems: problems}
	}
	return marshal(t)
}

// CreateStepTemplate stores a new step template as version 1.
func (q *Queries) CreateStepTemplate(ctx context.Context, t *model.StepTemplate) error {
	if _, err := q.prepareStepTemplate(t); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "action_templates", "step template", t.Name, ""); err != nil {
		return err
	}
	id, _, err := q.nextID(ctx, "ActionTemplates")
	if err != nil {
		return err
	}
	t.ID, t.Version = id, 1
	doc, err := marshal(t)
	if err != nil {
		return err
	}
	if _, err := q.exec(ctx, `INSERT INTO action_templates (id, name, name_key, version, doc) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.Name, model.NameKey(t.Name), t.Version, doc); err != nil {
		return fmt.Errorf("create step template: %w", err)
	}
	return q.insertStepTemplateVersion(ctx, t, doc)
}

func (q *Queries) insertStepTemplateVersion(ctx context.Context, t *model.StepTemplate, doc string) error {
	if _, err := q.exec(ctx, `INSERT INTO action_template_versions (template_id, version, doc, created_at) VALUES (?, ?, ?, ?)`,
		t.ID, t.Version, doc, toMicros(q.now())); err != nil {
		return fmt.Errorf("keep step template version: %w", err)
	}
	return nil
}

// GetStepTemplate reads a template's newest version.
func (q *Queries) GetStepTemplate(ctx context.Context, id string) (model.StepTemplate, error) {
	t, err := scanStepTemplate(q.queryRow(ctx, `SELECT `+stepTemplateColumns+` FROM action_templates WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, notFound("step template", id)
	}
	return t, err
}

// FindStepTemplate reads a template by id or name.
func (q *Queries) FindStepTemplate(ctx context.Context, idOrName string) (model.StepTemplate, error) {
	t, err := scanStepTemplate(q.queryRow(ctx, `SELECT `+stepTemplateColumns+` FROM action_templates WHERE id = ? OR name_key = ?`,
		idOrName, model.NameKey(idOrName)))
	if errors.Is(err, sql.ErrNoRows) {
		return t, notFound("step template", idOrName)
	}
	return t, err
}

// GetStepTemplateVersion reads one kept version of a template.
func (q *Queries) GetStepTemplateVersion(ctx context.Context, id string, version int) (model.StepTemplate, error) {
	t, err := scanStepTemplate(q.queryRow(ctx, `SELECT template_id, version, doc FROM action_template_versions WHERE template_id = ? AND version = ?`, id, version))
	if errors.Is(err, sql.ErrNoRows) {
		return t, notFound("step template version", fmt.Sprintf("%s v%d", id, version))
	}
	return t, err
}

// ListStepTemplateVersions returns every kept version, newest first.
func (q *Queries) ListStepTemplateVersions(ctx context.Context, id string) ([]model.StepTemplate, error) {
	if _, err := q.GetStepTemplate(ctx, id); err != nil {
		return nil, err
	}
	rows, err := q.query(ctx, `SELECT template_id, version, doc FROM action_template_versions WHERE template_id = ? ORDER BY version DESC`, id)
	if err != nil {
		return nil, fmt.Errorf("list step template versions: %w", err)
	}
	return collect(rows, scanStepTemplate)
}

// ListStepTemplates returns a page of templates (newest versions) and the total.
func (q *Queries) ListStepTemplates(ctx context.Context, opts ListOptions) ([]model.StepTemplate, int, error) {
	where, args := opts.nameFilter(nil, nil, "name_key")
	total, err := q.count(ctx, `SELECT COUNT(*) FROM action_templates`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list step templates: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+stepTemplateColumns+` FROM action_templates`+whereClause(where)+` ORDER BY name_key`+opts.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list step templates: %w", err)
	}
	out, err := collect(rows, scanStepTemplate)
	return out, total, err
}

// UpdateStepTemplate saves a change as the next version; t.Version must be
// the version read. A save that changes nothing makes no version.
func (q *Queries) UpdateStepTemplate(ctx context.Context, t *model.StepTemplate) error {
	old, err := q.GetStepTemplate(ctx, t.ID)
	if err != nil {
		return err
	}
	if _, err := q.prepareStepTemplate(t); err != nil {
		return err
	}
	if t.Version != old.Version {
		return conflict("step template %q changed since version %d was read (it is now version %d); reload it and apply your change again", old.Name, t.Version, old.Version)
	}
	if err := q.checkNameFree(ctx, "action_templates", "step template", t.Name, t.ID); err != nil {
		return err
	}
	if reflect.DeepEqual(normalizedTemplate(*t), normalizedTemplate(old)) {
		return nil
	}
	t.Version = old.Version + 1
	doc, err := marshal(t)
	if err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE action_templates SET name = ?, name_key = ?, version = ?, doc = ? WHERE id = ? AND version = ?`,
		t.Name, model.NameKey(t.Name), t.Version, doc, t.ID, old.Version)
	if err != nil {
		return translateUnique(err, "step template %q already exists", t.Name)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return conflict("step template %q changed while it was being saved; reload it and apply your change again", old.Name)
	}
	return q.insertStepTemplateVersion(ctx, t, doc)
}

// normalizedTemplate compares two templates by their JSON, so nil and
// empty lists are the same.
func normalizedTemplate(t model.StepTemplate) string {
	t.Version = 0
	s, _ := marshal(t)
	return s
}

// DeleteStepTemplate removes a template no project step uses. Releases
// keep what they copied, so they still deploy.
func (q *Queries) DeleteStepTemplate(ctx context.Context, id string) error {
	t, err := q.GetStepTemplate(ctx, id)
	if err != nil {
		return err
	}
	usage, err := q.StepTemplateUsage(ctx, id)
	if err != nil {
		return err
	}
	if len(usage) > 0 {
		var names []string
		for _, u := range usage {
			if u.RunbookID != "" {
				names = append(names, fmt.Sprintf("%s runbook %s (step %q)", u.ProjectName, u.RunbookName, u.StepName))
				continue
			}
			names = append(names, fmt.Sprintf("%s (step %q)", u.ProjectName, u.StepName))
		}
		return conflict("step template %q is used by %s; change those steps first", t.Name, strings.Join(names, ", "))
	}
	if _, err := q.exec(ctx, `DELETE FROM action_template_versions WHERE template_id = ?`, id); err != nil {
		return fmt.Errorf("delete step template: %w", err)
	}
	res, err := q.exec(ctx, `DELETE FROM action_templates WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete step template: %w", err)
	}
	return mustAffect(res, "step template", id)
}

// processes reads every project's name and steps.
func (q *Queries) projectSteps(ctx context.Context) ([]model.Project, [][]model.Step, error) {
	rows, err := q.query(ctx, `SELECT id, name, process FROM projects ORDER BY name_key`)
	if err != nil {
		return nil, nil, fmt.Errorf("read processes: %w", err)
	}
	defer rows.Close()
	var projects []model.Project
	var steps [][]model.Step
	for rows.Next() {
		var p model.Project
		var doc string
		if err := rows.Scan(&p.ID, &p.Name, &doc); err != nil {
			return nil, nil, fmt.Errorf("read processes: %w", err)
		}
		var s []model.Step
		if err := unmarshal(doc, &s); err != nil {
			return nil, nil, fmt.Errorf("read process of %s: %w", p.ID, err)
		}
		projects, steps = append(projects, p), append(steps, s)
	}
	return projects, steps, rows.Err()
}

// StepTemplateUsage lists every project and runbook step made from the
// template, with the version each uses.
func (q *Queries) StepTemplateUsage(ctx context.Context, id string) ([]model.StepTemplateUsage, error) {
	t, err := q.GetStepTemplate(ctx, id)
	if err != nil {
		return nil, err
	}
	projects, steps, err := q.projectSteps(ctx)
	if err != nil {
		return nil, err
	}
	out := []model.StepTemplateUsage{}
	names := map[string]string{}
	for i, p := range projects {
		names[p.ID] = p.Name
		for _, s := range steps[i] {
			if s.Template != nil && s.Template.ID == id {
				out = append(out, model.StepTemplateUsage{ProjectID: p.ID, ProjectName: p.Name, StepID: s.ID, StepName: s.Name,
					Version: s.Template.Version, Latest: t.Version, Behind: s.Template.Version < t.Version})
			}
		}
	}
	runbooks, err := q.ListRunbooks(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, rb := range runbooks {
		for _, s := range rb.Steps {
			if s.Template != nil && s.Template.ID == id {
				out = append(out, model.StepTemplateUsage{ProjectID: rb.ProjectID, ProjectName: names[rb.ProjectID], RunbookID: rb.ID, RunbookName: rb.Name,
					StepID: s.ID, StepName: s.Name, Version: s.Template.Version, Latest: t.Version, Behind: s.Template.Version < t.Version})
			}
		}
	}
	return out, nil
}

// prepareLibrarySteps makes the steps made from templates do what their
// template version says, seals their sensitive values (keeping a stored
// one a step sends empty), and checks the script modules steps ask for
// exist. stored are the steps as saved before.
func (q *Queries) prepareLibrarySteps(ctx context.Context, steps []model.Step, stored []model.Step) error {
	var problems []string
	before := map[string]model.Step{}
	for _, s := range stored {
		before[s.ID] = s
	}
	modules := map[string]bool{}
	for i := range steps {
		s := &steps[i]
		field := fmt.Sprintf("steps[%d]", i)
		for _, name := range s.ScriptModules {
			if _, seen := modules[name]; !seen {
				_, err := q.FindScriptModule(ctx, name)
				if err != nil && !errors.Is(err, ErrNotFound) {
					return err
				}
				modules[name] = err == nil
			}
			if !modules[name] {
				problems = append(problems, fmt.Sprintf("%s.scriptModules: script module %q does not exist", field, name))
			}
		}
		if s.Template == nil || s.Template.ID == "" {
			continue
		}
		ref := *s.Template
		s.Template = &ref
		var t model.StepTemplate
		var err error
		if ref.Version == 0 {
			t, err = q.GetStepTemplate(ctx, ref.ID)
		} else {
			t, err = q.GetStepTemplateVersion(ctx, ref.ID, ref.Version)
		}
		if errors.Is(err, ErrNotFound) {
			problems = append(problems, fmt.Sprintf("%s.template: step template %q has no version %d", field, ref.ID, ref.Version))
			continue
		} else if err != nil {
			return err
		}
		ref.Version = t.Version
		sensitive, err := t.ApplyTo(s, field)
		var verr *model.ValidationError
		if errors.As(err, &verr) {
			problems = append(problems, verr.Problems...)
			continue
		} else if err != nil {
			return err
		}
		for name, v := range ref.Parameters {
			if _, err := template.Parse(v); err != nil {
				problems = append(problems, fmt.Sprintf("%s.template.parameters.%s: %v", field, name, err))
			}
		}
		sealed := map[string]string{}
		if old, ok := before[s.ID]; ok && old.Template != nil && old.Template.ID == ref.ID {
			for name, v := range old.Template.Sensitive {
				if p, ok := t.Parameter(name); ok && p.Control == model.ControlSensitive {
					sealed[p.Name] = v
				}
			}
		}
		for name, plain := range sensitive {
			if sealed[name], err = q.Seal(plain); err != nil {
				return err
			}
		}
		s.Template.Sensitive = nil
		if len(sealed) > 0 {
			s.Template.Sensitive = sealed
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return &model.ValidationError{Subject: "deployment process", Problems: problems}
	}
	return nil
}

// UpdateStepToNewestTemplate moves a project's step (by id or name) to its
// template's newest version. It returns what changes; with dryRun nothing
// is saved. Values for parameters the new version no longer has are
// dropped; the process version grows.
func (q *Queries) UpdateStepToNewestTemplate(ctx context.Context, projectID, step string, dryRun bool) (model.StepTemplateChange, model.DeploymentProcess, error) {
	d, err := q.GetProcess(ctx, projectID)
	if err != nil {
		return model.StepTemplateChange{}, d, err
	}
	change, moved, err := q.moveStepToNewest(ctx, d.Steps, step, dryRun)
	if err != nil || !moved {
		return change, d, err
	}
	err = q.SaveProcess(ctx, &d)
	return change, d, err
}

// UpdateRunbookStepToNewestTemplate does the same for a runbook's step.
// Its published snapshot stays until it is published again.
func (q *Queries) UpdateRunbookStepToNewestTemplate(ctx context.Context, runbookID, step string, dryRun bool) (model.StepTemplateChange, model.Runbook, error) {
	rb, err := q.GetRunbook(ctx, runbookID)
	if err != nil {
		return model.StepTemplateChange{}, rb, err
	}
	change, moved, err := q.moveStepToNewest(ctx, rb.Steps, step, dryRun)
	if err != nil || !moved {
		return change, rb, err
	}
	err = q.UpdateRunbook(ctx, &rb)
	return change, rb, err
}

// moveStepToNewest says what moving the step to its template's newest
// version changes and, unless dryRun, points the step at that version
// (in steps; the caller saves them). moved says the step changed.
func (q *Queries) moveStepToNewest(ctx context.Context, steps []model.Step, step string, dryRun bool) (model.StepTemplateChange, bool, error) {
	var change model.StepTemplateChange
	i := slices.IndexFunc(steps, func(s model.Step) bool { return s.ID == step || model.SameName(s.Name, step) })
	if i < 0 {
		return change, false, notFound("step", step)
	}
	s := &steps[i]
	if s.Template == nil {
		return change, false, &model.ValidationError{Subject: "step " + s.Name, Problems: []string{"is not made from a step template"}}
	}
	from, err := q.GetStepTemplateVersion(ctx, s.Template.ID, s.Template.Version)
	if err != nil {
		return change, false, err
	}
	to, err := q.GetStepTemplate(ctx, s.Template.ID)
	if err != nil {
		return change, false, err
	}
	change = model.DiffStepTemplates(from, to)
	for name := range s.Template.Parameters {
		if _, ok := to.Parameter(name); !ok {
			change.ValuesDropped = append(change.ValuesDropped, name)
		}
	}
	for name := range s.Template.Sensitive {
		if p, ok := to.Parameter(name); !ok || p.Control != model.ControlSensitive {
			change.ValuesDropped = append(change.ValuesDropped, name)
		}
	}
	sort.Strings(change.ValuesDropped)
	if dryRun || from.Version == to.Version {
		return change, false, nil
	}
	ref := *s.Template
	ref.Version = to.Version
	ref.Parameters = map[string]string{}
	for name, v := range s.Template.Parameters {
		if p, ok := to.Parameter(name); ok && p.Control != model.ControlSensitive {
			ref.Parameters[p.Name] = v
		}
	}
	s.Template = &ref
	return change, true, nil
}

const scriptModuleColumns = `id, name, description, syntax, body`

func scanScriptModule(s scanner) (model.ScriptModule, error) {
	var m model.ScriptModule
	var syntax string
	err := s.Scan(&m.ID, &m.Name, &m.Description, &syntax, &m.Body)
	m.Syntax = model.ScriptSyntax(syntax)
	return m, err
}

// CreateScriptModule stores a new script module.
func (q *Queries) CreateScriptModule(ctx context.Context, m *model.ScriptModule) error {
	if m.Syntax == "" {
		m.Syntax = model.SyntaxBash
	}
	if err := m.Validate(); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "script_modules", "script module", m.Name, ""); err != nil {
		return err
	}
	id, _, err := q.nextID(ctx, "ScriptModules")
	if err != nil {
		return err
	}
	m.ID = id
	_, err = q.exec(ctx, `INSERT INTO script_modules (`+scriptModuleColumns+`, name_key) VALUES (?, ?, ?, ?, ?, ?)`,
		m.ID, m.Name, m.Description, string(m.Syntax), m.Body, model.NameKey(m.Name))
	if err != nil {
		return fmt.Errorf("create script module: %w", err)
	}
	return nil
}

// GetScriptModule reads a module by id.
func (q *Queries) GetScriptModule(ctx context.Context, id string) (model.ScriptModule, error) {
	m, err := scanScriptModule(q.queryRow(ctx, `SELECT `+scriptModuleColumns+` FROM script_modules WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, notFound("script module", id)
	}
	return m, err
}

// FindScriptModule reads a module by id or name.
func (q *Queries) FindScriptModule(ctx context.Context, idOrName string) (model.ScriptModule, error) {
	m, err := scanScriptModule(q.queryRow(ctx, `SELECT `+scriptModuleColumns+` FROM script_modules WHERE id = ? OR name_key = ?`,
		idOrName, model.NameKey(idOrName)))
	if errors.Is(err, sql.ErrNoRows) {
		return m, notFound("script module", idOrName)
	}
	return m, err
}

// ListScriptModules returns a page of modules and the total.
func (q *Queries) ListScriptModules(ctx context.Context, opts ListOptions) ([]model.ScriptModule, int, error) {
	where, args := opts.nameFilter(nil, nil, "name_key")
	total, err := q.count(ctx, `SELECT COUNT(*) FROM script_modules`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list script modules: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+scriptModuleColumns+` FROM script_modules`+whereClause(where)+` ORDER BY name_key`+opts.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list script modules: %w", err)
	}
	out, err := collect(rows, scanScriptModule)
	return out, total, err
}

// UpdateScriptModule replaces a module. Its name stays: steps ask for it
// by name. Releases keep the body they copied.
func (q *Queries) UpdateScriptModule(ctx context.Context, m *model.ScriptModule) error {
	old, err := q.GetScriptModule(ctx, m.ID)
	if err != nil {
		return err
	}
	if m.Syntax == "" {
		m.Syntax = old.Syntax
	}
	if err := m.Validate(); err != nil {
		return err
	}
	if !model.SameName(old.Name, m.Name) {
		if users, err := q.scriptModuleUsers(ctx, old.Name); err != nil {
			return err
		} else if len(users) > 0 {
			return conflict("script module %q is included by %s, which ask for it by name; it cannot be renamed while they do", old.Name, strings.Join(users, ", "))
		}
	}
	if err := q.checkNameFree(ctx, "script_modules", "script module", m.Name, m.ID); err != nil {
		return err
	}
	_, err = q.exec(ctx, `UPDATE script_modules SET name = ?, name_key = ?, description = ?, syntax = ?, body = ? WHERE id = ?`,
		m.Name, model.NameKey(m.Name), m.Description, string(m.Syntax), m.Body, m.ID)
	return translateUnique(err, "script module %q already exists", m.Name)
}

// DeleteScriptModule removes a module no project step includes.
func (q *Queries) DeleteScriptModule(ctx context.Context, id string) error {
	m, err := q.GetScriptModule(ctx, id)
	if err != nil {
		return err
	}
	users, err := q.scriptModuleUsers(ctx, m.Name)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return conflict("script module %q is included by %s; change those steps first", m.Name, strings.Join(users, ", "))
	}
	res, err := q.exec(ctx, `DELETE FROM script_modules WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete script module: %w", err)
	}
	return mustAffect(res, "script module", id)
}

// scriptModuleUsers names the project and runbook steps that include a
// module.
func (q *Queries) scriptModuleUsers(ctx context.Context, name string) ([]string, error) {
	projects, steps, err := q.projectSteps(ctx)
	if err != nil {
		return nil, err
	}
	uses := func(s model.Step) bool {
		return slices.ContainsFunc(s.ScriptModules, func(m string) bool { return model.SameName(m, name) })
	}
	var out []string
	for i, p := range projects {
		for _, s := range steps[i] {
			if uses(s) {
				out = append(out, fmt.Sprintf("%s (step %q)", p.Name, s.Name))
			}
		}
	}
	runbooks, err := q.ListRunbooks(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, rb := range runbooks {
		for _, s := range rb.Steps {
			if uses(s) {
				out = append(out, fmt.Sprintf("runbook %s (step %q)", rb.Name, s.Name))
			}
		}
	}
	return out, nil
}

// snapshotScriptModules copies the modules the process's steps include into
// it, so a release keeps the bodies it was created with.
func (q *Queries) snapshotScriptModules(ctx context.Context, d *model.DeploymentProcess) error {
	d.ScriptModules = nil
	seen := map[string]bool{}
	for _, s := range d.Steps {
		for _, name := range s.ScriptModules {
			if seen[model.NameKey(name)] {
				continue
			}
			seen[model.NameKey(name)] = true
			m, err := q.FindScriptModule(ctx, name)
			if errors.Is(err, ErrNotFound) {
				return &model.ValidationError{Subject: "release", Problems: []string{fmt.Sprintf("step %q includes script module %q, which no longer exists", s.Name, name)}}
			} else if err != nil {
				return err
			}
			d.ScriptModules = append(d.ScriptModules, m)
		}
	}
	return nil
}

package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

const projectColumns = `id, name, description, project_group_id, lifecycle_id, library_sets, version_template`

func scanProject(s scanner) (model.Project, error) {
	var p model.Project
	var sets string
	err := s.Scan(&p.ID, &p.Name, &p.Description, &p.ProjectGroupID, &p.LifecycleID, &sets, &p.ReleaseVersionTemplate)
	if err == nil && sets != "" {
		err = unmarshal(sets, &p.LibrarySetIDs)
	}
	if len(p.LibrarySetIDs) == 0 {
		p.LibrarySetIDs = nil
	}
	return p, err
}

func librarySetsText(p *model.Project) (string, error) {
	if p.LibrarySetIDs == nil {
		return "[]", nil
	}
	return marshal(p.LibrarySetIDs)
}

// checkProjectRefs reports references to a group or lifecycle that do not exist.
func (q *Queries) checkProjectRefs(ctx context.Context, p *model.Project) error {
	var problems []string
	if _, err := q.GetProjectGroup(ctx, p.ProjectGroupID); errors.Is(err, ErrNotFound) {
		problems = append(problems, fmt.Sprintf("projectGroupId: project group %q does not exist", p.ProjectGroupID))
	} else if err != nil {
		return err
	}
	if _, err := q.GetLifecycle(ctx, p.LifecycleID); errors.Is(err, ErrNotFound) {
		problems = append(problems, fmt.Sprintf("lifecycleId: lifecycle %q does not exist", p.LifecycleID))
	} else if err != nil {
		return err
	}
	for _, id := range p.LibrarySetIDs {
		if _, err := q.GetLibrarySet(ctx, id); errors.Is(err, ErrNotFound) {
			problems = append(problems, fmt.Sprintf("librarySetIds: library variable set %q does not exist", id))
		} else if err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: "project", Problems: problems}
	}
	return nil
}

// CreateProject validates and stores a new project with an empty process and
// no variables. Without a group or lifecycle it takes the defaults.
func (q *Queries) CreateProject(ctx context.Context, p *model.Project) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.ProjectGroupID == "" {
		g, err := q.FindProjectGroup(ctx, model.DefaultProjectGroupName)
		if err != nil {
			return fmt.Errorf("find default project group: %w", err)
		}
		p.ProjectGroupID = g.ID
	}
	if p.LifecycleID == "" {
		l, err := q.FindLifecycle(ctx, model.DefaultLifecycleName)
		if err != nil {
			return fmt.Errorf("find default lifecycle: %w", err)
		}
		p.LifecycleID = l.ID
	}
	if err := q.checkProjectRefs(ctx, p); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "projects", "project", p.Name, ""); err != nil {
		return err
	}
	id, _, err := q.nextID(ctx, "Projects")
	if err != nil {
		return err
	}
	p.ID = id
	sets, err := librarySetsText(p)
	if err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO projects (id, name, name_key, description, project_group_id, lifecycle_id,
		process, process_version, variables, variables_version, library_sets, version_template) VALUES (?, ?, ?, ?, ?, ?, '[]', 0, '[]', 0, ?, ?)`,
		p.ID, p.Name, model.NameKey(p.Name), p.Description, p.ProjectGroupID, p.LifecycleID, sets, p.ReleaseVersionTemplate)
	if err != nil {
		return fmt.Errorf("create project: %w", err)
	}
	return nil
}

// GetProject reads one project by id.
func (q *Queries) GetProject(ctx context.Context, id string) (model.Project, error) {
	p, err := scanProject(q.queryRow(ctx, `SELECT `+projectColumns+` FROM projects WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("project", id)
	}
	return p, err
}

// FindProject reads one project by id or name.
func (q *Queries) FindProject(ctx context.Context, idOrName string) (model.Project, error) {
	p, err := scanProject(q.queryRow(ctx, `SELECT `+projectColumns+` FROM projects WHERE id = ? OR name_key = ?`,
		idOrName, model.NameKey(idOrName)))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("project", idOrName)
	}
	return p, err
}

// ProjectFilter narrows a project list.
type ProjectFilter struct {
	ListOptions
	ProjectGroupID string
	LifecycleID    string
	// Visible limits the list to what the reader may see.
	Visible *access.Filter
}

// ListProjects returns a page of projects by name and the total.
func (q *Queries) ListProjects(ctx context.Context, opts ListOptions) ([]model.Project, int, error) {
	return q.FilterProjects(ctx, ProjectFilter{ListOptions: opts})
}

// FilterProjects returns a page of the projects that match and the total.
func (q *Queries) FilterProjects(ctx context.Context, f ProjectFilter) ([]model.Project, int, error) {
	where, args := f.nameFilter(nil, nil, "name_key")
	if f.ProjectGroupID != "" {
		where, args = append(where, "project_group_id = ?"), append(args, f.ProjectGroupID)
	}
	if f.LifecycleID != "" {
		where, args = append(where, "lifecycle_id = ?"), append(args, f.LifecycleID)
	}
	if cond, cargs := visibleWhere(f.Visible, "id", ""); cond != "" {
		where, args = append(where, cond), append(args, cargs...)
	}
	total, err := q.count(ctx, `SELECT COUNT(*) FROM projects`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list projects: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+projectColumns+` FROM projects`+whereClause(where)+` ORDER BY name_key`+f.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list projects: %w", err)
	}
	out, err := collect(rows, scanProject)
	return out, total, err
}

// UpdateProject replaces a project's own fields; its process and variables
// have their own calls.
func (q *Queries) UpdateProject(ctx context.Context, p *model.Project) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := q.checkProjectRefs(ctx, p); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "projects", "project", p.Name, p.ID); err != nil {
		return err
	}
	sets, err := librarySetsText(p)
	if err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE projects SET name = ?, name_key = ?, description = ?, project_group_id = ?, lifecycle_id = ?, library_sets = ?, version_template = ? WHERE id = ?`,
		p.Name, model.NameKey(p.Name), p.Description, p.ProjectGroupID, p.LifecycleID, sets, p.ReleaseVersionTemplate, p.ID)
	if err != nil {
		return fmt.Errorf("update project: %w", err)
	}
	return mustAffect(res, "project", p.ID)
}

// DeleteProject removes a project with its releases and deployments. Task
// history stays. A project with a deployment in progress cannot be deleted.
func (q *Queries) DeleteProject(ctx context.Context, id string) error {
	p, err := q.GetProject(ctx, id)
	if err != nil {
		return err
	}
	n, err := q.count(ctx, `SELECT COUNT(*) FROM tasks WHERE project_id = ? AND state IN (?, ?, ?)`,
		id, model.TaskQueued, model.TaskExecuting, model.TaskCanceling)
	if err != nil {
		return fmt.Errorf("delete project: %w", err)
	}
	if n > 0 {
		return conflict("project %q has %d deployments queued or running; cancel them or wait until they finish", p.Name, n)
	}
	// A staging stands for real resources its scripts made: deleting the
	// project would leave them running with nobody to clean them up.
	if n, err = q.count(ctx, `SELECT COUNT(*) FROM stagings WHERE project_id = ?`, id); err != nil {
		return fmt.Errorf("delete project: %w", err)
	}
	if n > 0 {
		return conflict("project %q has %d staging(s); clean them up (pulpo staging cleanup) or delete them first", p.Name, n)
	}
	for _, stmt := range []string{
		`DELETE FROM staging_templates WHERE project_id = ?`,
		`DELETE FROM deployments WHERE project_id = ?`,
		`DELETE FROM releases WHERE project_id = ?`,
		`DELETE FROM projects WHERE id = ?`,
	} {
		if _, err := q.exec(ctx, stmt, id); err != nil {
			return fmt.Errorf("delete project: %w", err)
		}
	}
	return nil
}

// GetProcess reads a project's deployment process.
func (q *Queries) GetProcess(ctx context.Context, projectID string) (model.DeploymentProcess, error) {
	d := model.DeploymentProcess{ProjectID: projectID}
	var steps string
	err := q.queryRow(ctx, `SELECT process, process_version FROM projects WHERE id = ?`, projectID).Scan(&steps, &d.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return d, notFound("project", projectID)
	}
	if err != nil {
		return d, fmt.Errorf("read process of %s: %w", projectID, err)
	}
	if err := unmarshal(steps, &d.Steps); err != nil {
		return d, fmt.Errorf("read process of %s: %w", projectID, err)
	}
	return d, nil
}

// SaveProcess replaces a project's process. d.Version must be the version
// that was read; the saved process gets the next one. Steps without an id
// get one.
func (q *Queries) SaveProcess(ctx context.Context, d *model.DeploymentProcess) error {
	stored, err := q.GetProcess(ctx, d.ProjectID)
	if err != nil {
		return err
	}
	if err := q.prepareLibrarySteps(ctx, d.Steps, stored.Steps); err != nil {
		return err
	}
	d.ScriptModules = nil // only release snapshots carry modules
	d.Normalize()
	if err := d.Validate(); err != nil {
		return err
	}
	if err := checkScriptTemplates(d); err != nil {
		return err
	}
	if err := q.checkStepEnvironments(ctx, d); err != nil {
		return err
	}
	for i := range d.Steps {
		if d.Steps[i].ID == "" {
			d.Steps[i].ID = newLocalID("step")
		}
	}
	if d.Steps == nil {
		d.Steps = []model.Step{}
	}
	steps, err := marshal(d.Steps)
	if err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE projects SET process = ?, process_version = process_version + 1 WHERE id = ? AND process_version = ?`,
		steps, d.ProjectID, d.Version)
	if err != nil {
		return fmt.Errorf("save process: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		current, err := q.GetProcess(ctx, d.ProjectID)
		if err != nil {
			return err
		}
		return conflict("the deployment process changed since version %d was read (it is now version %d); reload it and apply your change again", d.Version, current.Version)
	}
	d.Version++
	return nil
}

// feedRef is a step's feed field, for checking and naming.
type feedRef struct {
	field     string
	id        *string
	extracted bool // the step extracts the package or runs a script from it
}

// stepFeedRefs lists the feed fields of a step.
func stepFeedRefs(s *model.Step) []feedRef {
	var out []feedRef
	if s.Package != nil {
		out = append(out, feedRef{"package.feedId", &s.Package.FeedID, true})
	}
	if s.Script != nil {
		if fp := s.Script.FromPackage; fp != nil {
			out = append(out, feedRef{"script.fromPackage.feedId", &fp.FeedID, true})
		}
		for j := range s.Script.Packages {
			out = append(out, feedRef{fmt.Sprintf("script.packages[%d].feedId", j), &s.Script.Packages[j].FeedID, false})
		}
	}
	return out
}

// checkStepEnvironments refuses steps limited to environments, channels,
// projects or feeds that do not exist.
func (q *Queries) checkStepEnvironments(ctx context.Context, d *model.DeploymentProcess) error {
	var problems []string
	known := map[string]bool{}
	for i, s := range d.Steps {
		for field, ids := range map[string][]string{"environments": s.Environments, "excludedEnvironments": s.ExcludedEnvironments} {
			for _, id := range ids {
				if _, seen := known[id]; !seen {
					_, err := q.GetEnvironment(ctx, id)
					if err != nil && !errors.Is(err, ErrNotFound) {
						return err
					}
					known[id] = err == nil
				}
				if !known[id] {
					problems = append(problems, fmt.Sprintf("steps[%d].%s: environment %q does not exist", i, field, id))
				}
			}
		}
		for _, id := range s.Channels {
			ch, err := q.GetChannel(ctx, id)
			switch {
			case errors.Is(err, ErrNotFound) || (err == nil && ch.ProjectID != d.ProjectID):
				problems = append(problems, fmt.Sprintf("steps[%d].channels: the project has no channel %q", i, id))
			case err != nil:
				return err
			}
		}
		for _, ref := range stepFeedRefs(&d.Steps[i]) {
			if !model.IsExternalFeed(*ref.id) {
				continue
			}
			f, err := q.GetFeed(ctx, *ref.id)
			switch {
			case errors.Is(err, ErrNotFound):
				problems = append(problems, fmt.Sprintf("steps[%d].%s: feed %q does not exist", i, ref.field, *ref.id))
				continue
			case err != nil:
				return err
			}
			*ref.id = f.ID // a feed may be named; the step keeps its id
			if f.Type == model.FeedDocker && ref.extracted {
				problems = append(problems, fmt.Sprintf("steps[%d].%s: feed %s is a container registry: an image is not a package to extract or take scripts from; refer to it from a script step's packages and use #{Octopus.Action.Package[NAME].Image}", i, ref.field, f.Name))
			}
		}
		if s.Email != nil {
			bad, err := q.checkEmailTeams(ctx, fmt.Sprintf("steps[%d]", i), s.Email)
			if err != nil {
				return err
			}
			problems = append(problems, bad...)
		}
		if dr := s.DeployRelease; dr != nil {
			switch _, err := q.GetProject(ctx, dr.ProjectID); {
			case dr.ProjectID == d.ProjectID:
				problems = append(problems, fmt.Sprintf("steps[%d].deployRelease.projectId: a project cannot deploy a release of itself", i))
			case errors.Is(err, ErrNotFound):
				problems = append(problems, fmt.Sprintf("steps[%d].deployRelease.projectId: project %q does not exist", i, dr.ProjectID))
			case err != nil:
				return err
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return &model.ValidationError{Subject: "deployment process", Problems: problems}
	}
	return nil
}

// GetVariables reads a project's variables.
func (q *Queries) GetVariables(ctx context.Context, projectID string) (model.VariableSet, error) {
	vs := model.VariableSet{OwnerID: projectID}
	var vars string
	err := q.queryRow(ctx, `SELECT variables, variables_version FROM projects WHERE id = ?`, projectID).Scan(&vars, &vs.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return vs, notFound("project", projectID)
	}
	if err != nil {
		return vs, fmt.Errorf("read variables of %s: %w", projectID, err)
	}
	if err := unmarshal(vars, &vs.Variables); err != nil {
		return vs, fmt.Errorf("read variables of %s: %w", projectID, err)
	}
	return vs, nil
}

// SaveVariables replaces a project's variables, with the same version rule
// as SaveProcess.
func (q *Queries) SaveVariables(ctx context.Context, vs *model.VariableSet) error {
	current, err := q.GetVariables(ctx, vs.OwnerID)
	if err != nil {
		return err
	}
	if err := q.prepareVariables(ctx, "variables", vs.OwnerID, vs, current.Variables); err != nil {
		return err
	}
	vars, err := marshal(vs.Variables)
	if err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE projects SET variables = ?, variables_version = variables_version + 1 WHERE id = ? AND variables_version = ?`,
		vars, vs.OwnerID, vs.Version)
	if err != nil {
		return fmt.Errorf("save variables: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		current, err := q.GetVariables(ctx, vs.OwnerID)
		if err != nil {
			return err
		}
		return conflict("the variables changed since version %d was read (they are now version %d); reload them and apply your change again", vs.Version, current.Version)
	}
	vs.Version++
	return nil
}

// newLocalID makes an id unique within its owner, such as a step's.
func newLocalID(prefix string) string {
	return prefix + "-" + strings.ToLower(rand.Text()[:10])
}

// scopeRefs lists what a project's variables may be scoped to.
func (q *Queries) scopeRefs(ctx context.Context, projectID string, envs map[string]string) (model.ScopeRefs, error) {
	refs := model.ScopeRefs{Environments: envs, Machines: map[string]string{}, Steps: map[string]string{}, Channels: map[string]string{}}
	machines, _, err := q.ListMachines(ctx, MachineFilter{})
	if err != nil {
		return refs, err
	}
	for _, m := range machines {
		refs.Machines[m.ID] = m.Name
	}
	if projectID == "" {
		return refs, nil // a library set: no steps to scope to
	}
	d, err := q.GetProcess(ctx, projectID)
	if err != nil {
		return refs, err
	}
	for _, s := range d.Steps {
		refs.Steps[s.ID] = s.Name
	}
	channels, err := q.ListChannels(ctx, projectID)
	if err != nil {
		return refs, err
	}
	for _, c := range channels {
		refs.Channels[c.ID] = c.Name
	}
	return refs, nil
}

// sealSensitiveAgainst seals every new sensitive value, and gives a
// sensitive value sent empty the sealed value its id had in stored: clients
// never hold the secret, so an edit that leaves it alone sends nothing.
func (q *Queries) sealSensitiveAgainst(vs *model.VariableSet, stored []model.Variable) error {
	old := map[string]model.Variable{}
	for _, o := range stored {
		old[o.ID] = o
	}
	var problems []string
	for i := range vs.Variables {
		v := &vs.Variables[i]
		if !v.Sensitive {
			continue
		}
		if v.Value != "" {
			if q.sealer == nil {
				return errors.New("sensitive values cannot be saved before the master key is loaded")
			}
			v.Value = q.sealer.Seal([]byte(v.Value))
			continue
		}
		prev, ok := old[v.ID]
		if v.ID == "" || !ok || !prev.Sensitive {
			problems = append(problems, fmt.Sprintf("variables[%d].value: %q is sensitive and new, so it needs a value", i, v.Name))
			continue
		}
		v.Value = prev.Value
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: "variables", Problems: problems}
	}
	return nil
}

// Seal encrypts a sensitive value for storing.
func (q *Queries) Seal(plain string) (string, error) {
	if q.sealer == nil {
		return "", errors.New("sensitive values cannot be saved before the master key is loaded")
	}
	return q.sealer.Seal([]byte(plain)), nil
}

// OpenSealed decrypts a sealed sensitive value.
func (q *Queries) OpenSealed(sealed string) (string, error) {
	if q.sealer == nil {
		return "", errors.New("sensitive values cannot be read before the master key is loaded")
	}
	b, err := q.sealer.Open(sealed)
	return string(b), err
}

// prepareVariables checks a set of variables (scopes name what exists,
// values are valid templates without cycles), seals new sensitive values,
// keeps stored ones sent empty, and numbers new values. projectID is empty
// for a library set, whose values cannot name steps.
func (q *Queries) prepareVariables(ctx context.Context, subject, projectID string, vs *model.VariableSet, stored []model.Variable) error {
	envs, err := q.EnvironmentNames(ctx)
	if err != nil {
		return err
	}
	refs, err := q.scopeRefs(ctx, projectID, envs)
	if err != nil {
		return err
	}
	if err := vs.Validate(refs); err != nil {
		return err
	}
	if err := checkVariableTemplates(subject, vs.Variables); err != nil {
		return err
	}
	if err := q.checkCertificateVariables(ctx, subject, vs.Variables, stored); err != nil {
		return err
	}
	if err := q.sealSensitiveAgainst(vs, stored); err != nil {
		return err
	}
	for i := range vs.Variables {
		if vs.Variables[i].ID == "" {
			vs.Variables[i].ID = newLocalID("var")
		}
	}
	if vs.Variables == nil {
		vs.Variables = []model.Variable{}
	}
	return nil
}

// Package apply gives a configuration document effect on the store, in one
// transaction, and writes the store back out as a document. Objects are
// matched by name (ignoring case); applying the same document twice changes
// nothing the second time.
package apply

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/confdoc"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// errDryRun rolls back a dry run's transaction after everything was checked.
var errDryRun = errors.New("dry run")

// Apply creates or updates every object the document lists. If anything is
// wrong nothing changes, and the error says what to fix. A dry run does all
// the same checks and reports the same changes, then rolls back.
func Apply(ctx context.Context, s *store.Store, doc *confdoc.Document, dryRun bool) (confdoc.Result, error) {
	return run(ctx, s, doc, dryRun, false)
}

// run applies a document; keep leaves every object that exists as it is
// (an import without --update-existing), reporting those that differ as
// skipped.
func run(ctx context.Context, s *store.Store, doc *confdoc.Document, dryRun, keep bool) (confdoc.Result, error) {
	if err := checkDocument(doc); err != nil {
		return confdoc.Result{}, err
	}
	var res confdoc.Result
	err := s.Tx(ctx, func(q *store.Queries) error {
		a := &applier{q: q, keep: keep, templates: map[string]templateIDs{}, certIDs: map[string]string{}}
		res = confdoc.Result{DryRun: dryRun}
		if err := a.apply(ctx, doc); err != nil {
			return err
		}
		res.Changes = a.changes
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return confdoc.Result{}, err
	}
	if res.Changes == nil {
		res.Changes = []confdoc.Change{}
	}
	return res, nil
}

// checkDocument catches what is wrong with the file as a whole before
// anything is looked up: the same name twice in one list.
func checkDocument(doc *confdoc.Document) error {
	var problems []string
	dup := func(list string, names []string) {
		seen := map[string]bool{}
		for i, n := range names {
			k := model.NameKey(n)
			if n != "" && seen[k] {
				problems = append(problems, fmt.Sprintf("%s[%d]: %q is listed twice", list, i, n))
			}
			seen[k] = true
		}
	}
	dup("environments", names(doc.Environments, func(e confdoc.Environment) string { return e.Name }))
	dup("workerPools", names(doc.WorkerPools, func(p confdoc.WorkerPool) string { return p.Name }))
	dup("machinePolicies", names(doc.MachinePolicies, func(p confdoc.MachinePolicy) string { return p.Name }))
	dup("librarySets", names(doc.LibrarySets, func(l confdoc.LibrarySet) string { return l.Name }))
	dup("lifecycles", names(doc.Lifecycles, func(l confdoc.Lifecycle) string { return l.Name }))
	dup("projectGroups", names(doc.ProjectGroups, func(g confdoc.ProjectGroup) string { return g.Name }))
	dup("feeds", names(doc.Feeds, func(f confdoc.Feed) string { return f.Name }))
	dup("scriptModules", names(doc.ScriptModules, func(m confdoc.ScriptModule) string { return m.Name }))
	dup("stepTemplates", names(doc.StepTemplates, func(t confdoc.StepTemplate) string { return t.Name }))
	dup("certificates", names(doc.Certificates, func(c confdoc.Certificate) string { return c.Name }))
	dup("projects", names(doc.Projects, func(p confdoc.Project) string { return p.Name }))
	if len(problems) > 0 {
		return &model.ValidationError{Subject: "the file", Problems: problems}
	}
	return nil
}

func names[T any](items []T, name func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = name(it)
	}
	return out
}

type applier struct {
	q       *store.Queries
	changes []confdoc.Change
	envIDs  map[string]string // name key -> id, after environments are applied
	// keep leaves objects that exist unchanged (importing an archive
	// without updating existing ones).
	keep bool
	// templates are the file's step templates as this server numbers
	// them, by name key; certIDs the file's certificates' ids.
	templates map[string]templateIDs
	certIDs   map[string]string
	// archiveLater are certificates the file has archived, archived once
	// the variables that name them are saved.
	archiveLater []string
}

// kept reports an existing object left alone because of keep: skipped
// with what differs, or unchanged. It says whether the caller must stop.
func (a *applier) kept(kind, name string, diff []string) bool {
	if !a.keep {
		return false
	}
	if len(diff) == 0 {
		a.record(kind, name, confdoc.Unchanged)
	} else {
		a.record(kind, name, confdoc.Skipped, diff...)
	}
	return true
}

func (a *applier) record(kind, name, action string, fields ...string) {
	a.changes = append(a.changes, confdoc.Change{Kind: kind, Name: name, Action: action, Fields: fields})
}

// recordDiff reports an existing object as updated when any field differs.
func (a *applier) recordDiff(kind, name string, fields []string) {
	if len(fields) == 0 {
		a.record(kind, name, confdoc.Unchanged)
		return
	}
	a.record(kind, name, confdoc.Updated, fields...)
}

// inFile names which object of the file a store error is about, keeping
// validation errors as such so the API answers 400 with every problem.
func inFile(kind, name string, err error) error {
	var ve *model.ValidationError
	if errors.As(err, &ve) {
		return &model.ValidationError{Subject: fmt.Sprintf("%s %q", kind, name), Problems: ve.Problems}
	}
	return fmt.Errorf("%s %q: %w", kind, name, err)
}

func (a *applier) apply(ctx context.Context, doc *confdoc.Document) error {
	if err := a.environments(ctx, doc.Environments); err != nil {
		return err
	}
	envs, err := a.q.AllEnvironments(ctx)
	if err != nil {
		return err
	}
	a.envIDs = make(map[string]string, len(envs))
	for _, e := range envs {
		a.envIDs[model.NameKey(e.Name)] = e.ID
	}
	for _, p := range doc.WorkerPools {
		if err := a.workerPool(ctx, p); err != nil {
			return err
		}
	}
	for _, p := range doc.MachinePolicies {
		if err := a.machinePolicy(ctx, p); err != nil {
			return err
		}
	}
	// The library before what names it: templates name feeds, library
	// sets' variables name certificates.
	for _, f := range doc.Feeds {
		if err := a.feed(ctx, f); err != nil {
			return err
		}
	}
	for _, m := range doc.ScriptModules {
		if err := a.scriptModule(ctx, m); err != nil {
			return err
		}
	}
	for _, t := range doc.StepTemplates {
		if err := a.stepTemplate(ctx, t); err != nil {
			return err
		}
	}
	for _, c := range doc.Certificates {
		if err := a.certificate(ctx, c); err != nil {
			return err
		}
	}
	for _, l := range doc.LibrarySets {
		if err := a.librarySet(ctx, l); err != nil {
			return err
		}
	}
	for _, l := range doc.Lifecycles {
		if err := a.lifecycle(ctx, l); err != nil {
			return err
		}
	}
	for _, g := range doc.ProjectGroups {
		if err := a.projectGroup(ctx, g); err != nil {
			return err
		}
	}
	// Children first, so a parent's deploy-a-release steps find them.
	for _, p := range childrenFirst(doc.Projects) {
		if err := a.project(ctx, p); err != nil {
			return err
		}
	}
	for _, id := range a.archiveLater {
		if _, err := a.q.SetCertificateArchived(ctx, id, true); err != nil {
			return err
		}
	}
	return nil
}

// environments creates and updates the listed environments and puts them in
// the file's order. Listed environments that exist swap among the places they
// hold, so environments the file does not list keep theirs; a new one goes
// right after the one listed before it.
func (a *applier) environments(ctx context.Context, list []confdoc.Environment) error {
	if len(list) == 0 {
		return nil
	}
	if a.keep {
		return a.keepEnvironments(ctx, list)
	}
	all, err := a.q.AllEnvironments(ctx)
	if err != nil {
		return err
	}
	index := map[string]int{} // name key -> position in all
	for i, e := range all {
		index[model.NameKey(e.Name)] = i
	}
	var slots []int // positions of listed environments that exist
	for _, want := range list {
		if i, ok := index[model.NameKey(want.Name)]; ok {
			slots = append(slots, i)
		}
	}
	slices.Sort(slots)
	order := slices.Clone(all)
	diffs := map[string][]string{}
	n := 0
	for _, want := range list {
		i, ok := index[model.NameKey(want.Name)]
		if !ok {
			continue
		}
		e := all[i]
		diffs[e.ID] = diffFields(e.Name != want.Name, "name", e.Description != want.Description, "description", i != slots[n], "order",
			e.UseGuidedFailure != want.UseGuidedFailure, "useGuidedFailure")
		e.Name, e.Description, e.UseGuidedFailure = want.Name, want.Description, want.UseGuidedFailure
		order[slots[n]] = e
		n++
	}
	// Insert the new ones after their predecessor in the file.
	for k, want := range list {
		if _, ok := index[model.NameKey(want.Name)]; ok {
			continue
		}
		e := model.Environment{Name: want.Name, Description: want.Description, UseGuidedFailure: want.UseGuidedFailure}
		if err := a.q.CreateEnvironment(ctx, &e); err != nil {
			return inFile("environment", want.Name, err)
		}
		at := len(order)
		if k > 0 {
			prev := model.NameKey(list[k-1].Name)
			at = slices.IndexFunc(order, func(o model.Environment) bool { return model.NameKey(o.Name) == prev }) + 1
		} else if next := firstExisting(list, index); next != "" {
			at = slices.IndexFunc(order, func(o model.Environment) bool { return model.NameKey(o.Name) == next })
		}
		order = slices.Insert(order, at, e)
	}
	for i := range order {
		e := &order[i]
		moved := e.SortOrder != i+1
		e.SortOrder = i + 1
		if moved || len(diffs[e.ID]) > 0 {
			if err := a.q.UpdateEnvironment(ctx, e); err != nil {
				return inFile("environment", e.Name, err)
			}
		}
	}
	for _, want := range list {
		if _, ok := index[model.NameKey(want.Name)]; !ok {
			a.record("environment", want.Name, confdoc.Created)
			continue
		}
		a.recordDiff("environment", want.Name, diffs[all[index[model.NameKey(want.Name)]].ID])
	}
	return nil
}

// keepEnvironments creates the listed environments that are missing, after
// those there are, and leaves the others, their order included, alone.
func (a *applier) keepEnvironments(ctx context.Context, list []confdoc.Environment) error {
	for _, want := range list {
		e, err := a.q.FindEnvironment(ctx, want.Name)
		if errors.Is(err, store.ErrNotFound) {
			e = model.Environment{Name: want.Name, Description: want.Description, UseGuidedFailure: want.UseGuidedFailure}
			if err := a.q.CreateEnvironment(ctx, &e); err != nil {
				return inFile("environment", want.Name, err)
			}
			a.record("environment", want.Name, confdoc.Created)
			continue
		}
		if err != nil {
			return err
		}
		a.kept("environment", want.Name, diffFields(e.Name != want.Name, "name", e.Description != want.Description, "description",
			e.UseGuidedFailure != want.UseGuidedFailure, "useGuidedFailure"))
	}
	return nil
}

// firstExisting names the first listed environment that already exists.
func firstExisting(list []confdoc.Environment, index map[string]int) string {
	for _, e := range list {
		if _, ok := index[model.NameKey(e.Name)]; ok {
			return model.NameKey(e.Name)
		}
	}
	return ""
}

func diffFields(pairs ...any) []string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i].(bool) {
			out = append(out, pairs[i+1].(string))
		}
	}
	return out
}

// envRefs turns environment names into ids, adding a problem for each name
// that is neither in the file nor on the server.
func (a *applier) envRefs(field string, names []string, problems *[]string) []string {
	if len(names) == 0 {
		return nil
	}
	ids := make([]string, 0, len(names))
	for _, n := range names {
		id, ok := a.envIDs[model.NameKey(n)]
		if !ok {
			*problems = append(*problems, fmt.Sprintf("%s: environment %q is neither in the file nor on the server", field, n))
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

func (a *applier) lifecycle(ctx context.Context, want confdoc.Lifecycle) error {
	var problems []string
	var phases []model.Phase
	for i, ph := range want.Phases {
		field := fmt.Sprintf("phases[%d]", i)
		phases = append(phases, model.Phase{
			Name:                               ph.Name,
			AutomaticEnvironments:              a.envRefs(field+".automaticEnvironments", ph.AutomaticEnvironments, &problems),
			ManualEnvironments:                 a.envRefs(field+".manualEnvironments", ph.ManualEnvironments, &problems),
			MinimumEnvironmentsBeforePromotion: ph.MinimumEnvironmentsBeforePromotion,
			Optional:                           ph.Optional,
			ReleaseRetention:                   ph.ReleaseRetention,
		})
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: fmt.Sprintf("lifecycle %q", want.Name), Problems: problems}
	}
	var retention model.Retention
	if want.ReleaseRetention != nil {
		retention = *want.ReleaseRetention
	}
	l, err := a.q.FindLifecycle(ctx, want.Name)
	if errors.Is(err, store.ErrNotFound) {
		l = model.Lifecycle{Name: want.Name, Description: want.Description, Phases: phases, ReleaseRetention: retention}
		if err := a.q.CreateLifecycle(ctx, &l); err != nil {
			return inFile("lifecycle", want.Name, err)
		}
		a.record("lifecycle", want.Name, confdoc.Created)
		return nil
	}
	if err != nil {
		return err
	}
	diff := diffFields(l.Name != want.Name, "name", l.Description != want.Description, "description",
		!reflect.DeepEqual(normalPhases(l.Phases), normalPhases(phases)), "phases", l.ReleaseRetention != retention, "releaseRetention")
	if a.kept("lifecycle", want.Name, diff) {
		return nil
	}
	if len(diff) > 0 {
		l.Name, l.Description, l.Phases, l.ReleaseRetention = want.Name, want.Description, phases, retention
		if err := a.q.UpdateLifecycle(ctx, &l); err != nil {
			return inFile("lifecycle", want.Name, err)
		}
	}
	a.recordDiff("lifecycle", want.Name, diff)
	return nil
}

// normalPhases makes empty and missing lists compare equal.
func normalPhases(phases []model.Phase) []model.Phase {
	out := make([]model.Phase, len(phases))
	for i, ph := range phases {
		out[i] = ph
		if len(ph.AutomaticEnvironments) == 0 {
			out[i].AutomaticEnvironments = nil
		}
		if len(ph.ManualEnvironments) == 0 {
			out[i].ManualEnvironments = nil
		}
	}
	return out
}

func (a *applier) workerPool(ctx context.Context, want confdoc.WorkerPool) error {
	p, err := a.q.FindWorkerPool(ctx, want.Name)
	if errors.Is(err, store.ErrNotFound) {
		p = model.WorkerPool{Name: want.Name, Description: want.Description}
		if err := a.q.CreateWorkerPool(ctx, &p); err != nil {
			return inFile("worker pool", want.Name, err)
		}
		a.record("worker pool", want.Name, confdoc.Created)
		return nil
	}
	if err != nil {
		return err
	}
	diff := diffFields(p.Name != want.Name, "name", p.Description != want.Description, "description")
	if a.kept("worker pool", want.Name, diff) {
		return nil
	}
	if len(diff) > 0 {
		p.Name, p.Description = want.Name, want.Description
		if err := a.q.UpdateWorkerPool(ctx, &p); err != nil {
			return inFile("worker pool", want.Name, err)
		}
	}
	a.recordDiff("worker pool", want.Name, diff)
	return nil
}

// machinePolicy applies a policy; fields the file leaves out take the
// defaults of a new policy (checked hourly, fail on unavailable machines).
func (a *applier) machinePolicy(ctx context.Context, want confdoc.MachinePolicy) error {
	var problems []string
	duration := func(field, text string, def time.Duration) time.Duration {
		if text == "" {
			return def
		}
		d, err := time.ParseDuration(text)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %q is not a duration such as 30s, 15m or 2h", field, text))
		}
		return d
	}
	next := model.MachinePolicy{Name: want.Name, Description: want.Description, HealthCheckScript: want.HealthCheckScript,
		HealthCheckInterval:    model.Duration{D: duration("healthCheckInterval", want.HealthCheckInterval, time.Hour)},
		DeleteUnavailableAfter: model.Duration{D: duration("deleteUnavailableAfter", want.DeleteUnavailableAfter, 0)},
		WhenUnavailable:        model.UnavailableAction(want.WhenUnavailable)}
	if next.WhenUnavailable == "" {
		next.WhenUnavailable = model.UnavailableFail
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: fmt.Sprintf("machine policy %q", want.Name), Problems: problems}
	}
	p, err := a.q.FindMachinePolicy(ctx, want.Name)
	if errors.Is(err, store.ErrNotFound) {
		if err := a.q.CreateMachinePolicy(ctx, &next); err != nil {
			return inFile("machine policy", want.Name, err)
		}
		a.record("machine policy", want.Name, confdoc.Created)
		return nil
	}
	if err != nil {
		return err
	}
	next.ID = p.ID
	diff := diffFields(p.Name != next.Name, "name", p.Description != next.Description, "description",
		p.HealthCheckInterval != next.HealthCheckInterval, "healthCheckInterval", p.HealthCheckScript != next.HealthCheckScript, "healthCheckScript",
		p.WhenUnavailable != next.WhenUnavailable, "whenUnavailable", p.DeleteUnavailableAfter != next.DeleteUnavailableAfter, "deleteUnavailableAfter")
	if a.kept("machine policy", want.Name, diff) {
		return nil
	}
	if len(diff) > 0 {
		if err := a.q.UpdateMachinePolicy(ctx, &next); err != nil {
			return inFile("machine policy", want.Name, err)
		}
	}
	a.recordDiff("machine policy", want.Name, diff)
	return nil
}

func (a *applier) projectGroup(ctx context.Context, want confdoc.ProjectGroup) error {
	g, err := a.q.FindProjectGroup(ctx, want.Name)
	if errors.Is(err, store.ErrNotFound) {
		g = model.ProjectGroup{Name: want.Name, Description: want.Description}
		if err := a.q.CreateProjectGroup(ctx, &g); err != nil {
			return inFile("project group", want.Name, err)
		}
		a.record("project group", want.Name, confdoc.Created)
		return nil
	}
	if err != nil {
		return err
	}
	diff := diffFields(g.Name != want.Name, "name", g.Description != want.Description, "description")
	if a.kept("project group", want.Name, diff) {
		return nil
	}
	if len(diff) > 0 {
		g.Name, g.Description = want.Name, want.Description
		if err := a.q.UpdateProjectGroup(ctx, &g); err != nil {
			return inFile("project group", want.Name, err)
		}
	}
	a.recordDiff("project group", want.Name, diff)
	return nil
}

func (a *applier) project(ctx context.Context, want confdoc.Project) error {
	if a.keep {
		// An existing project is skipped whole: what differs would take
		// applying to find out, and applying is what was not asked for.
		_, err := a.q.FindProject(ctx, want.Name)
		if err == nil {
			a.record("project", want.Name, confdoc.Skipped)
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	var problems []string
	var groupID, lifecycleID string
	if want.ProjectGroup != "" {
		g, err := a.q.FindProjectGroup(ctx, want.ProjectGroup)
		switch {
		case errors.Is(err, store.ErrNotFound):
			problems = append(problems, fmt.Sprintf("projectGroup: project group %q is neither in the file nor on the server", want.ProjectGroup))
		case err != nil:
			return err
		default:
			groupID = g.ID
		}
	}
	if want.Lifecycle != "" {
		l, err := a.q.FindLifecycle(ctx, want.Lifecycle)
		switch {
		case errors.Is(err, store.ErrNotFound):
			problems = append(problems, fmt.Sprintf("lifecycle: lifecycle %q is neither in the file nor on the server", want.Lifecycle))
		case err != nil:
			return err
		default:
			lifecycleID = l.ID
		}
	}
	var setIDs []string
	for i, name := range want.LibrarySets {
		l, err := a.q.FindLibrarySet(ctx, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			problems = append(problems, fmt.Sprintf("librarySets[%d]: library set %q is neither in the file nor on the server", i, name))
		case err != nil:
			return err
		default:
			setIDs = append(setIDs, l.ID)
		}
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: fmt.Sprintf("project %q", want.Name), Problems: problems}
	}

	p, err := a.q.FindProject(ctx, want.Name)
	isNew := errors.Is(err, store.ErrNotFound)
	var diff []string
	switch {
	case isNew:
		p = model.Project{Name: want.Name, Description: want.Description, ProjectGroupID: groupID, LifecycleID: lifecycleID, LibrarySetIDs: setIDs,
			ReleaseVersionTemplate: want.ReleaseVersionTemplate}
		if err := a.q.CreateProject(ctx, &p); err != nil {
			return inFile("project", want.Name, err)
		}
	case err != nil:
		return err
	default:
		if groupID == "" {
			groupID = p.ProjectGroupID
		}
		if lifecycleID == "" {
			lifecycleID = p.LifecycleID
		}
		diff = diffFields(p.Name != want.Name, "name", p.Description != want.Description, "description",
			p.ProjectGroupID != groupID, "projectGroup", p.LifecycleID != lifecycleID, "lifecycle",
			!slices.Equal(p.LibrarySetIDs, setIDs), "librarySets", p.ReleaseVersionTemplate != want.ReleaseVersionTemplate, "releaseVersionTemplate")
		if len(diff) > 0 {
			p.Name, p.Description, p.ProjectGroupID, p.LifecycleID, p.LibrarySetIDs = want.Name, want.Description, groupID, lifecycleID, setIDs
			p.ReleaseVersionTemplate = want.ReleaseVersionTemplate
			if err := a.q.UpdateProject(ctx, &p); err != nil {
				return inFile("project", want.Name, err)
			}
		}
	}

	// Channels first: steps, the process's and the runbooks', name them.
	channelIDs, chDiff, err := a.channels(ctx, p, want.Channels)
	if err != nil {
		return err
	}
	rbDiff, err := a.runbooks(ctx, p, want.Runbooks, channelIDs)
	if err != nil {
		return err
	}
	diff = append(diff, chDiff...)
	diff = append(diff, rbDiff...)
	steps, err := a.steps(ctx, fmt.Sprintf("project %q", want.Name), "steps", want.Steps, channelIDs)
	if err != nil {
		return err
	}
	changed, err := a.process(ctx, p.ID, steps)
	if err != nil {
		return inFile("project", want.Name, err)
	}
	if changed {
		diff = append(diff, "steps")
	}
	d, err := a.q.GetProcess(ctx, p.ID)
	if err != nil {
		return err
	}
	vars, err := a.modelVariables(ctx, fmt.Sprintf("project %q", want.Name), want.Variables, d.Steps, channelIDs)
	if err != nil {
		return err
	}
	vs, err := a.q.GetVariables(ctx, p.ID)
	if err != nil {
		return err
	}
	var merged []model.Variable
	merged, changed, err = a.mergeVariables(vs.Variables, vars)
	if err == nil && changed {
		next := model.VariableSet{OwnerID: p.ID, Version: vs.Version, Variables: merged}
		err = a.q.SaveVariables(ctx, &next)
	}
	if err != nil {
		return inFile("project", want.Name, err)
	}
	if changed {
		diff = append(diff, "variables")
	}
	if isNew {
		a.record("project", want.Name, confdoc.Created)
		return nil
	}
	a.recordDiff("project", want.Name, diff)
	return nil
}

// runbooks creates and updates the listed runbooks' drafts.
func (a *applier) runbooks(ctx context.Context, p model.Project, want []confdoc.Runbook, channels map[string]string) ([]string, error) {
	existing, err := a.q.ListRunbooks(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	byName := map[string]model.Runbook{}
	for _, r := range existing {
		byName[model.NameKey(r.Name)] = r
	}
	var diff []string
	for i, w := range want {
		var problems []string
		envs := a.envRefs(fmt.Sprintf("runbooks[%d].environments", i), w.Environments, &problems)
		steps, err := a.steps(ctx, fmt.Sprintf("project %q", p.Name), fmt.Sprintf("runbooks[%d].steps", i), w.Steps, channels)
		if err != nil {
			return nil, err
		}
		if len(problems) > 0 {
			return nil, &model.ValidationError{Subject: fmt.Sprintf("project %q", p.Name), Problems: problems}
		}
		rb := model.Runbook{ProjectID: p.ID, Name: w.Name, Description: w.Description, EnvironmentIDs: envs, Steps: steps}
		old, ok := byName[model.NameKey(w.Name)]
		if !ok {
			if err := a.q.CreateRunbook(ctx, &rb); err != nil {
				return nil, inFile("runbook", w.Name, err)
			}
			diff = append(diff, "runbook "+w.Name+" created")
			continue
		}
		// Steps keep their ids by name, as a project's do.
		ids := map[string]string{}
		for _, s := range old.Steps {
			ids[model.NameKey(s.Name)] = s.ID
		}
		for k := range rb.Steps {
			rb.Steps[k].ID = ids[model.NameKey(rb.Steps[k].Name)]
		}
		next := model.DeploymentProcess{Steps: rb.Steps}
		next.Normalize()
		same, err := a.sameSteps(ctx, old.Steps, next.Steps)
		if err != nil {
			return nil, err
		}
		if old.Description == rb.Description && slices.Equal(old.EnvironmentIDs, rb.EnvironmentIDs) && same {
			continue
		}
		rb.ID = old.ID
		if err := a.q.UpdateRunbook(ctx, &rb); err != nil {
			return nil, inFile("runbook", w.Name, err)
		}
		diff = append(diff, "runbook "+w.Name)
	}
	return diff, nil
}

// channels creates and updates the listed channels of a project and
// returns every channel's id by name key.
func (a *applier) channels(ctx context.Context, p model.Project, want []confdoc.Channel) (map[string]string, []string, error) {
	existing, err := a.q.ListChannels(ctx, p.ID)
	if err != nil {
		return nil, nil, err
	}
	ids := map[string]string{}
	byName := map[string]model.Channel{}
	for _, c := range existing {
		ids[model.NameKey(c.Name)], byName[model.NameKey(c.Name)] = c.ID, c
	}
	var diff []string
	for i, w := range want {
		c := model.Channel{ProjectID: p.ID, Name: w.Name, Description: w.Description, IsDefault: w.Default, Rules: w.Rules}
		if w.Lifecycle != "" {
			l, err := a.q.FindLifecycle(ctx, w.Lifecycle)
			if errors.Is(err, store.ErrNotFound) {
				return nil, nil, &model.ValidationError{Subject: fmt.Sprintf("project %q", p.Name),
					Problems: []string{fmt.Sprintf("channels[%d].lifecycle: lifecycle %q is neither in the file nor on the server", i, w.Lifecycle)}}
			}
			if err != nil {
				return nil, nil, err
			}
			c.LifecycleID = l.ID
		}
		old, ok := byName[model.NameKey(w.Name)]
		switch {
		case !ok:
			if err := a.q.CreateChannel(ctx, &c); err != nil {
				return nil, nil, inFile("channel", w.Name, err)
			}
			ids[model.NameKey(c.Name)] = c.ID
			diff = append(diff, "channel "+w.Name+" created")
		case old.Description != c.Description || old.LifecycleID != c.LifecycleID || (c.IsDefault && !old.IsDefault) || !reflect.DeepEqual(normalRules(old.Rules), normalRules(c.Rules)):
			c.ID = old.ID
			c.IsDefault = c.IsDefault || old.IsDefault
			if err := a.q.UpdateChannel(ctx, &c); err != nil {
				return nil, nil, inFile("channel", w.Name, err)
			}
			diff = append(diff, "channel "+w.Name)
		}
	}
	return ids, diff, nil
}

func normalRules(r []model.ChannelRule) []model.ChannelRule {
	if len(r) == 0 {
		return nil
	}
	return r
}

// childrenFirst orders projects so that those a project deploys releases
// of come before it (a cycle keeps the file's order; saving it then says
// what is wrong).
func childrenFirst(projects []confdoc.Project) []confdoc.Project {
	byName := map[string]int{}
	for i, p := range projects {
		byName[model.NameKey(p.Name)] = i
	}
	var out []confdoc.Project
	state := make([]int, len(projects)) // 0 new, 1 visiting, 2 done
	var visit func(i int)
	visit = func(i int) {
		if state[i] != 0 {
			return
		}
		state[i] = 1
		for _, s := range allSteps(projects[i]) {
			if s.DeployRelease != nil {
				if j, ok := byName[model.NameKey(s.DeployRelease.Project)]; ok {
					visit(j)
				}
			}
		}
		state[i] = 2
		out = append(out, projects[i])
	}
	for i := range projects {
		visit(i)
	}
	return out
}

// process makes the project's steps those of the file. A step keeps its id
// when a stored step has the same name.
func (a *applier) process(ctx context.Context, projectID string, want []model.Step) (bool, error) {
	d, err := a.q.GetProcess(ctx, projectID)
	if err != nil {
		return false, err
	}
	ids := map[string]string{}
	for _, s := range d.Steps {
		ids[model.NameKey(s.Name)] = s.ID
	}
	next := model.DeploymentProcess{ProjectID: projectID, Version: d.Version, Steps: make([]model.Step, len(want))}
	for i, s := range want {
		s.ID = ids[model.NameKey(s.Name)]
		next.Steps[i] = s
	}
	next.Normalize()
	if same, err := a.sameSteps(ctx, d.Steps, next.Steps); err != nil || same {
		return false, err
	}
	return true, a.q.SaveProcess(ctx, &next)
}

func normalSteps(steps []model.Step) []model.Step {
	if len(steps) == 0 {
		return nil
	}
	return steps
}

// modelVariables turns the file's variables into the model's: scopes by
// name to ids (steps among the given ones, channels from the given ids by
// name key; nil steps and channels, for a library set, allow none).
func (a *applier) modelVariables(ctx context.Context, subject string, in []confdoc.Variable, steps []model.Step, channels map[string]string) ([]model.Variable, error) {
	var problems []string
	out := make([]model.Variable, len(in))
	for i, v := range in {
		field := fmt.Sprintf("variables[%d]", i)
		sc := model.Scope{Environments: a.envRefs(field+".environments", v.Environments, &problems), Roles: v.Roles}
		for _, name := range v.Machines {
			m, err := a.q.FindMachine(ctx, name)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s.machines: machine %q is not registered", field, name))
				continue
			}
			sc.Machines = append(sc.Machines, m.ID)
		}
		for _, name := range v.Steps {
			if steps == nil {
				problems = append(problems, fmt.Sprintf("%s.steps: a library set's values cannot be scoped to steps", field))
				break
			}
			found := false
			for _, s := range steps {
				if model.SameName(s.Name, name) {
					sc.Steps, found = append(sc.Steps, s.ID), true
				}
			}
			if !found {
				problems = append(problems, fmt.Sprintf("%s.steps: the project has no step %q", field, name))
			}
		}
		for _, name := range v.Channels {
			if channels == nil {
				problems = append(problems, fmt.Sprintf("%s.channels: a library set's values cannot be scoped to channels", field))
				break
			}
			id, ok := channels[model.NameKey(name)]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s.channels: the project has no channel %q", field, name))
				continue
			}
			sc.Channels = append(sc.Channels, id)
		}
		out[i] = model.Variable{Name: v.Name, Value: v.Value, Sensitive: v.Sensitive, Scope: sc, Prompt: v.Prompt, Type: v.Type}
		if out[i].IsCertificate() {
			out[i].Type = model.VariableTypeCertificate
			out[i].Value = a.certificateID(ctx, field, v.Value, &problems)
		}
	}
	if len(problems) > 0 {
		return nil, &model.ValidationError{Subject: subject, Problems: problems}
	}
	return out, nil
}

// mergeVariables matches the file's values to the stored ones by name and
// scope, keeping their ids (and sensitive values the file leaves out), and
// reports whether anything differs. Stored sensitive values are sealed, so
// they are opened to compare.
func (a *applier) mergeVariables(stored, want []model.Variable) ([]model.Variable, bool, error) {
	opened := slices.Clone(stored)
	for i := range opened {
		if opened[i].Sensitive {
			plain, err := a.q.OpenSealed(opened[i].Value)
			if err != nil {
				return nil, false, fmt.Errorf("variable %q: %w", opened[i].Name, err)
			}
			opened[i].Value = plain
		}
	}
	for i := range want {
		for _, old := range opened {
			if model.SameName(old.Name, want[i].Name) && model.SameScope(old.Scope, want[i].Scope) {
				want[i].ID = old.ID
				if want[i].Sensitive && old.Sensitive && want[i].Value == "" {
					want[i].Value = old.Value // left out of the file: kept
				}
				break
			}
		}
	}
	return want, !reflect.DeepEqual(normalVars(opened), normalVars(want)), nil
}

// librarySet applies a library variable set.
func (a *applier) librarySet(ctx context.Context, want confdoc.LibrarySet) error {
	vars, err := a.modelVariables(ctx, fmt.Sprintf("library set %q", want.Name), want.Variables, nil, nil)
	if err != nil {
		return err
	}
	l, err := a.q.FindLibrarySet(ctx, want.Name)
	if errors.Is(err, store.ErrNotFound) {
		l = model.LibraryVariableSet{Name: want.Name, Description: want.Description, Variables: vars}
		if err := a.q.CreateLibrarySet(ctx, &l); err != nil {
			return inFile("library set", want.Name, err)
		}
		a.record("library set", want.Name, confdoc.Created)
		return nil
	}
	if err != nil {
		return err
	}
	merged, changed, err := a.mergeVariables(l.Variables, vars)
	if err != nil {
		return err
	}
	diff := diffFields(l.Name != want.Name, "name", l.Description != want.Description, "description", changed, "variables")
	if a.kept("library set", want.Name, diff) {
		return nil
	}
	if len(diff) > 0 {
		l.Name, l.Description, l.Variables = want.Name, want.Description, merged
		if err := a.q.UpdateLibrarySet(ctx, &l); err != nil {
			return inFile("library set", want.Name, err)
		}
	}
	a.recordDiff("library set", want.Name, diff)
	return nil
}

func normalVars(vars []model.Variable) []model.Variable {
	if len(vars) == 0 {
		return nil
	}
	out := slices.Clone(vars)
	for i := range out {
		sc := &out[i].Scope
		for _, l := range []*[]string{&sc.Environments, &sc.Roles, &sc.Machines, &sc.Steps, &sc.Channels} {
			if len(*l) == 0 {
				*l = nil
			}
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

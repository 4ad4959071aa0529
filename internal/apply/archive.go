package apply

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/confdoc"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// Selection is what an archive holds: the named projects (and what they
// reference), or everything.
type Selection struct {
	Projects []string
	All      bool
}

// ExportSelection writes the document of an archive: like Export, but with
// sensitive values opened, and cut down to the chosen projects and what
// they reference. Projects a chosen one deploys releases of come along,
// since its steps cannot be saved without them.
func ExportSelection(ctx context.Context, q *store.Queries, sel Selection) (*confdoc.Document, error) {
	if !sel.All && len(sel.Projects) == 0 {
		return nil, &model.ValidationError{Subject: "the export", Problems: []string{"name at least one project, or ask for all"}}
	}
	if sel.All && len(sel.Projects) > 0 {
		return nil, &model.ValidationError{Subject: "the export", Problems: []string{"name projects or ask for all, not both"}}
	}
	doc, err := export(ctx, q, q.OpenSealed)
	if err != nil {
		return nil, err
	}
	if sel.All {
		return doc, nil
	}
	return referencedBy(doc, sel.Projects)
}

// referencedBy keeps of doc the named projects and everything they
// reference, each list in its own order. One block per kind: a kind added
// to the document says here what makes a project need it.
func referencedBy(doc *confdoc.Document, projects []string) (*confdoc.Document, error) {
	byName := map[string]confdoc.Project{}
	for _, p := range doc.Projects {
		byName[model.NameKey(p.Name)] = p
	}
	var problems []string
	wanted := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		k := model.NameKey(name)
		p, ok := byName[k]
		if !ok || wanted[k] {
			return
		}
		wanted[k] = true
		for _, s := range allSteps(p) {
			if s.DeployRelease != nil {
				visit(s.DeployRelease.Project)
			}
		}
	}
	for i, name := range projects {
		if _, ok := byName[model.NameKey(name)]; !ok {
			problems = append(problems, fmt.Sprintf("projects[%d]: there is no project %q", i, name))
		}
		visit(name)
	}
	if len(problems) > 0 {
		return nil, &model.ValidationError{Subject: "the export", Problems: problems}
	}

	out := &confdoc.Document{}
	need := func() map[string]bool { return map[string]bool{} }
	envs, pools, sets, lifecycles, groups := need(), need(), need(), need(), need()
	feeds, modules, templates, certs := need(), need(), need(), need()
	add := func(m map[string]bool, names ...string) {
		for _, n := range names {
			if n != "" {
				m[model.NameKey(n)] = true
			}
		}
	}
	varEnvs := func(vs []confdoc.Variable) {
		for _, v := range vs {
			add(envs, v.Environments...)
			if strings.EqualFold(v.Type, model.VariableTypeCertificate) {
				add(certs, v.Value)
			}
		}
	}
	actionFeeds := func(sc *confdoc.ScriptAction, pk *confdoc.PackageAction) {
		if sc != nil {
			if sc.FromPackage != nil {
				add(feeds, sc.FromPackage.Feed)
			}
			for _, r := range sc.Packages {
				add(feeds, r.Feed)
			}
		}
		if pk != nil {
			add(feeds, pk.Feed)
		}
	}
	steps := func(ss []confdoc.Step) {
		for _, s := range ss {
			add(envs, s.Environments...)
			add(envs, s.ExcludedEnvironments...)
			add(pools, s.WorkerPool)
			actionFeeds(s.Script, s.Package)
			add(modules, s.ScriptModules...)
			if s.Template != nil {
				add(templates, s.Template.Name)
			}
		}
	}
	for _, p := range doc.Projects {
		if !wanted[model.NameKey(p.Name)] {
			continue
		}
		out.Projects = append(out.Projects, p)
		add(groups, p.ProjectGroup)
		add(lifecycles, p.Lifecycle)
		add(sets, p.LibrarySets...)
		for _, c := range p.Channels {
			add(lifecycles, c.Lifecycle)
		}
		steps(p.Steps)
		for _, rb := range p.Runbooks {
			add(envs, rb.Environments...)
			steps(rb.Steps)
		}
		varEnvs(p.Variables)
	}
	for _, l := range doc.LibrarySets {
		if sets[model.NameKey(l.Name)] {
			out.LibrarySets = append(out.LibrarySets, l)
			varEnvs(l.Variables)
		}
	}
	// Every version of a template, so the receiving server numbers them
	// as the steps do.
	for _, t := range doc.StepTemplates {
		if templates[model.NameKey(t.Name)] {
			out.StepTemplates = append(out.StepTemplates, t)
			for _, v := range t.Versions {
				actionFeeds(v.Script, v.Package)
			}
		}
	}
	for _, c := range doc.Certificates {
		if certs[model.NameKey(c.Name)] {
			out.Certificates = append(out.Certificates, c)
			add(envs, c.Environments...)
		}
	}
	for _, l := range doc.Lifecycles {
		if lifecycles[model.NameKey(l.Name)] {
			out.Lifecycles = append(out.Lifecycles, l)
			for _, ph := range l.Phases {
				add(envs, ph.AutomaticEnvironments...)
				add(envs, ph.ManualEnvironments...)
			}
		}
	}
	keep := func(m map[string]bool, name string) bool { return m[model.NameKey(name)] }
	out.ProjectGroups = slices.DeleteFunc(slices.Clone(doc.ProjectGroups), func(g confdoc.ProjectGroup) bool { return !keep(groups, g.Name) })
	out.Feeds = slices.DeleteFunc(slices.Clone(doc.Feeds), func(f confdoc.Feed) bool { return !keep(feeds, f.Name) })
	out.ScriptModules = slices.DeleteFunc(slices.Clone(doc.ScriptModules), func(m confdoc.ScriptModule) bool { return !keep(modules, m.Name) })
	out.WorkerPools = slices.DeleteFunc(slices.Clone(doc.WorkerPools), func(p confdoc.WorkerPool) bool { return !keep(pools, p.Name) })
	out.Environments = slices.DeleteFunc(slices.Clone(doc.Environments), func(e confdoc.Environment) bool { return !keep(envs, e.Name) })
	// Machine policies belong to machines, which stay on their server: a
	// project never names one, so only a whole-server archive holds them.
	return out, nil
}

// ImportOptions are an archive import's choices.
type ImportOptions struct {
	DryRun bool
	// UpdateExisting makes objects that exist match the archive, as apply
	// does; without it they are left alone (existing projects skipped).
	UpdateExisting bool
}

// Import creates what the document holds and the server lacks, in one
// transaction; objects matched by name are left alone, or updated when
// asked. A dry run reports the same changes and changes nothing.
func Import(ctx context.Context, s *store.Store, doc *confdoc.Document, opts ImportOptions) (confdoc.Result, error) {
	return run(ctx, s, doc, opts.DryRun, !opts.UpdateExisting)
}

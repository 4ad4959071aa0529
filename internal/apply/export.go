package apply

import (
	"context"
	"fmt"

	"github.com/pulpo-deploy/pulpo/internal/confdoc"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// Export writes everything apply knows about as a document, references by
// name, in display order. Applying it to the same server changes nothing.
func Export(ctx context.Context, q *store.Queries) (*confdoc.Document, error) {
	return export(ctx, q, nil)
}

// export writes the document; open, when given, opens sensitive values so
// they travel too (archives), and without it they are left blank.
func export(ctx context.Context, q *store.Queries, open func(string) (string, error)) (*confdoc.Document, error) {
	doc := &confdoc.Document{}
	envs, err := q.AllEnvironments(ctx)
	if err != nil {
		return nil, fmt.Errorf("export environments: %w", err)
	}
	envNames := make(map[string]string, len(envs))
	for _, e := range envs {
		envNames[e.ID] = e.Name
		doc.Environments = append(doc.Environments, confdoc.Environment{Name: e.Name, Description: e.Description, UseGuidedFailure: e.UseGuidedFailure})
	}
	toNames := func(ids []string) []string {
		if len(ids) == 0 {
			return nil
		}
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = envNames[id]
		}
		return out
	}

	pools, _, err := q.ListWorkerPools(ctx, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("export worker pools: %w", err)
	}
	poolNames := map[string]string{}
	for _, p := range pools {
		poolNames[p.ID] = p.Name
		doc.WorkerPools = append(doc.WorkerPools, confdoc.WorkerPool{Name: p.Name, Description: p.Description})
	}
	policies, _, err := q.ListMachinePolicies(ctx, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("export machine policies: %w", err)
	}
	for _, p := range policies {
		doc.MachinePolicies = append(doc.MachinePolicies, confdoc.MachinePolicy{Name: p.Name, Description: p.Description,
			HealthCheckInterval: p.HealthCheckInterval.D.String(), HealthCheckScript: p.HealthCheckScript,
			WhenUnavailable: string(p.WhenUnavailable), DeleteUnavailableAfter: p.DeleteUnavailableAfter.D.String()})
	}

	lifecycles, _, err := q.ListLifecycles(ctx, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("export lifecycles: %w", err)
	}
	lifecycleNames := map[string]string{}
	for _, l := range lifecycles {
		lifecycleNames[l.ID] = l.Name
		out := confdoc.Lifecycle{Name: l.Name, Description: l.Description}
		if !l.ReleaseRetention.KeepsAll() {
			r := l.ReleaseRetention
			out.ReleaseRetention = &r
		}
		for _, ph := range l.Phases {
			out.Phases = append(out.Phases, confdoc.Phase{
				Name:                               ph.Name,
				AutomaticEnvironments:              toNames(ph.AutomaticEnvironments),
				ManualEnvironments:                 toNames(ph.ManualEnvironments),
				MinimumEnvironmentsBeforePromotion: ph.MinimumEnvironmentsBeforePromotion,
				Optional:                           ph.Optional,
				ReleaseRetention:                   ph.ReleaseRetention,
			})
		}
		doc.Lifecycles = append(doc.Lifecycles, out)
	}

	groups, _, err := q.ListProjectGroups(ctx, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("export project groups: %w", err)
	}
	groupNames := map[string]string{}
	for _, g := range groups {
		groupNames[g.ID] = g.Name
		doc.ProjectGroups = append(doc.ProjectGroups, confdoc.ProjectGroup{Name: g.Name, Description: g.Description})
	}

	lib, err := exportLibrary(ctx, q, doc, toNames, open)
	if err != nil {
		return nil, err
	}

	machines, _, err := q.ListMachines(ctx, store.MachineFilter{})
	if err != nil {
		return nil, fmt.Errorf("export machines: %w", err)
	}
	machineNames := map[string]string{}
	for _, m := range machines {
		machineNames[m.ID] = m.Name
	}
	sets, _, err := q.ListLibrarySets(ctx, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("export library sets: %w", err)
	}
	setNames := map[string]string{}
	for _, l := range sets {
		setNames[l.ID] = l.Name
		vars, err := exportVariables(l.Variables, toNames, machineNames, nil, nil, lib)
		if err != nil {
			return nil, fmt.Errorf("export library set %q: %w", l.Name, err)
		}
		doc.LibrarySets = append(doc.LibrarySets, confdoc.LibrarySet{Name: l.Name, Description: l.Description, Variables: vars})
	}

	projects, _, err := q.ListProjects(ctx, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("export projects: %w", err)
	}
	teams, err := teamNames(ctx, q)
	if err != nil {
		return nil, err
	}
	projectNames := map[string]string{}
	for _, p := range projects {
		projectNames[p.ID] = p.Name
	}
	for _, p := range projects {
		out := confdoc.Project{Name: p.Name, Description: p.Description,
			ProjectGroup: groupNames[p.ProjectGroupID], Lifecycle: lifecycleNames[p.LifecycleID]}
		d, err := q.GetProcess(ctx, p.ID)
		if err != nil {
			return nil, fmt.Errorf("export project %q: %w", p.Name, err)
		}
		out.ReleaseVersionTemplate = p.ReleaseVersionTemplate
		channels, err := q.ListChannels(ctx, p.ID)
		if err != nil {
			return nil, fmt.Errorf("export project %q: %w", p.Name, err)
		}
		channelNames := map[string]string{}
		for _, c := range channels {
			channelNames[c.ID] = c.Name
			out.Channels = append(out.Channels, confdoc.Channel{Name: c.Name, Description: c.Description,
				Lifecycle: lifecycleNames[c.LifecycleID], Default: c.IsDefault, Rules: c.Rules})
		}
		refs := stepNames{envs: envNames, pools: poolNames, projects: projectNames, channels: channelNames, lib: lib, teams: teams}
		if out.Steps, err = exportSteps(d.Steps, refs); err != nil {
			return nil, fmt.Errorf("export project %q: %w", p.Name, err)
		}
		runbooks, err := q.ListRunbooks(ctx, p.ID)
		if err != nil {
			return nil, fmt.Errorf("export project %q: %w", p.Name, err)
		}
		for _, rb := range runbooks {
			steps, err := exportSteps(rb.Steps, refs)
			if err != nil {
				return nil, fmt.Errorf("export project %q runbook %q: %w", p.Name, rb.Name, err)
			}
			out.Runbooks = append(out.Runbooks, confdoc.Runbook{Name: rb.Name, Description: rb.Description,
				Environments: toNames(rb.EnvironmentIDs), Steps: steps})
		}
		vs, err := q.GetVariables(ctx, p.ID)
		if err != nil {
			return nil, fmt.Errorf("export project %q: %w", p.Name, err)
		}
		stepNames := map[string]string{}
		for _, s := range d.Steps {
			stepNames[s.ID] = s.Name
		}
		out.Variables, err = exportVariables(vs.Variables, toNames, machineNames, stepNames, channelNames, lib)
		if err != nil {
			return nil, fmt.Errorf("export project %q: %w", p.Name, err)
		}
		for _, id := range p.LibrarySetIDs {
			out.LibrarySets = append(out.LibrarySets, setNames[id])
		}
		doc.Projects = append(doc.Projects, out)
	}
	return doc, nil
}

// exportVariables writes variables by name (a certificate variable's value
// too); sensitive values stay on the server (applying the file keeps them)
// unless lib.open is given.
func exportVariables(vs []model.Variable, envNames func([]string) []string, machines, steps, channels map[string]string,
	lib libraryNames) ([]confdoc.Variable, error) {
	open := lib.open
	var out []confdoc.Variable
	names := func(ids []string, m map[string]string) []string {
		if len(ids) == 0 {
			return nil
		}
		r := make([]string, len(ids))
		for i, id := range ids {
			r[i] = m[id]
		}
		return r
	}
	for _, v := range vs {
		value := v.Value
		if v.Sensitive && open == nil {
			value = ""
		} else if v.Sensitive && value != "" {
			plain, err := open(value)
			if err != nil {
				return nil, fmt.Errorf("open sensitive variable %q: %w", v.Name, err)
			}
			value = plain
		}
		typ := ""
		if v.IsCertificate() {
			typ = "certificate"
			name, ok := lib.certs[value]
			if !ok {
				return nil, fmt.Errorf("variable %q: certificate %q does not exist", v.Name, value)
			}
			value = name
		}
		out = append(out, confdoc.Variable{Name: v.Name, Value: value, Sensitive: v.Sensitive, Prompt: v.Prompt, Type: typ,
			Environments: envNames(v.Scope.Environments), Roles: v.Scope.Roles,
			Machines: names(v.Scope.Machines, machines), Steps: names(v.Scope.Steps, steps), Channels: names(v.Scope.Channels, channels)})
	}
	return out, nil
}

package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

func (a *app) environmentCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "environment", Aliases: []string{"environments", "env"}, Short: "Manage environments"}
	list := &cobra.Command{Use: "list", Short: "List environments in order", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			envs, err := c.Environments(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(nonNil(envs), func() {
				var rows [][]string
				for _, e := range envs {
					rows = append(rows, []string{e.ID, e.Name, e.Description})
				}
				a.table([]string{"ID", "NAME", "DESCRIPTION"}, rows)
			})
		}}
	var description string
	create := &cobra.Command{Use: "create NAME", Short: "Create an environment (after the existing ones)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			e, err := c.CreateEnvironment(cmd.Context(), model.Environment{Name: args[0], Description: description})
			if err != nil {
				return err
			}
			return a.print(e, func() { fmt.Fprintf(a.stdout, "Created environment %s (%s)\n", e.Name, e.ID) })
		}}
	create.Flags().StringVar(&description, "description", "", "what the environment is for")
	show := &cobra.Command{Use: "show ENVIRONMENT", Short: "Show an environment (by id or name)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, e, err := clientAndFind(a, cmd.Context(), (*client.Client).FindEnvironment, args[0])
			if err != nil {
				return err
			}
			return a.print(e, func() {
				a.fields("ID", e.ID, "Name", e.Name, "Description", e.Description, "Order", strconv.Itoa(e.SortOrder))
			})
		}}
	del := deleteCommand(a, "ENVIRONMENT", "Delete an environment nothing uses", "environment", (*client.Client).FindEnvironment, (*client.Client).DeleteEnvironment,
		func(v model.Environment) (string, string) { return v.ID, v.Name })
	cmd.AddCommand(list, create, show, del)
	return cmd
}

func (a *app) lifecycleCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "lifecycle", Aliases: []string{"lifecycles"}, Short: "Manage lifecycles: the order releases go through environments"}
	list := &cobra.Command{Use: "list", Short: "List lifecycles", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ls, err := c.Lifecycles(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(nonNil(ls), func() {
				var rows [][]string
				for _, l := range ls {
					rows = append(rows, []string{l.ID, l.Name, strconv.Itoa(len(l.Phases))})
				}
				a.table([]string{"ID", "NAME", "PHASES"}, rows)
			})
		}}
	show := &cobra.Command{Use: "show LIFECYCLE", Short: "Show a lifecycle's phases", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, l, err := clientAndFind(a, cmd.Context(), (*client.Client).FindLifecycle, args[0])
			if err != nil {
				return err
			}
			envs, err := envNames(cmd, c)
			if err != nil {
				return err
			}
			return a.print(l, func() {
				a.fields("ID", l.ID, "Name", l.Name, "Description", l.Description)
				if len(l.Phases) == 0 {
					fmt.Fprintln(a.stdout, "Phases: none; every environment is a phase of its own, in order")
				}
				for i, ph := range l.Phases {
					fmt.Fprintf(a.stdout, "Phase %d: %s\n", i+1, describePhase(ph, envs))
				}
			})
		}}
	var description string
	var phases []string
	create := &cobra.Command{Use: "create NAME", Short: "Create a lifecycle", Args: cobra.ExactArgs(1),
		Long: `Create a lifecycle. Each --phase is "NAME: ENV, ENV(auto), …; min=N; optional":
environments marked (auto) are deployed to by themselves when the release
reaches the phase; min=N lets the next phase open after N of them succeed
(all by default); optional phases never hold later ones back.`,
		Example: `  pulpo lifecycle create Standard --phase "Pre-production: Dev(auto), Test; min=1" --phase "Production: Production"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			l := model.Lifecycle{Name: args[0], Description: description, Phases: []model.Phase{}}
			for _, spec := range phases {
				ph, err := parsePhase(cmd, c, spec)
				if err != nil {
					return err
				}
				l.Phases = append(l.Phases, ph)
			}
			l, err = c.CreateLifecycle(cmd.Context(), l)
			if err != nil {
				return err
			}
			return a.print(l, func() { fmt.Fprintf(a.stdout, "Created lifecycle %s (%s)\n", l.Name, l.ID) })
		}}
	create.Flags().StringVar(&description, "description", "", "what the lifecycle is for")
	create.Flags().StringArrayVar(&phases, "phase", nil, `a phase: "NAME: ENV, ENV(auto); min=N; optional" (repeat in order)`)
	del := deleteCommand(a, "LIFECYCLE", "Delete a lifecycle no project uses", "lifecycle", (*client.Client).FindLifecycle, (*client.Client).DeleteLifecycle,
		func(v model.Lifecycle) (string, string) { return v.ID, v.Name })
	cmd.AddCommand(list, show, create, del)
	return cmd
}

// parsePhase reads "NAME: ENV, ENV(auto); min=N; optional".
func parsePhase(cmd *cobra.Command, c *client.Client, spec string) (model.Phase, error) {
	name, rest, ok := strings.Cut(spec, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return model.Phase{}, fmt.Errorf("phase %q: write it as \"NAME: ENV, ENV(auto); min=N; optional\"", spec)
	}
	ph := model.Phase{Name: strings.TrimSpace(name)}
	parts := strings.Split(rest, ";")
	for _, env := range strings.Split(parts[0], ",") {
		env = strings.TrimSpace(env)
		if env == "" {
			continue
		}
		auto := strings.HasSuffix(env, "(auto)")
		env = strings.TrimSpace(strings.TrimSuffix(env, "(auto)"))
		e, err := c.FindEnvironment(cmd.Context(), env)
		if err != nil {
			return ph, fmt.Errorf("phase %q: %w", ph.Name, err)
		}
		if auto {
			ph.AutomaticEnvironments = append(ph.AutomaticEnvironments, e.ID)
		} else {
			ph.ManualEnvironments = append(ph.ManualEnvironments, e.ID)
		}
	}
	for _, opt := range parts[1:] {
		opt = strings.TrimSpace(opt)
		switch {
		case opt == "optional":
			ph.Optional = true
		case strings.HasPrefix(opt, "min="):
			n, err := strconv.Atoi(strings.TrimPrefix(opt, "min="))
			if err != nil {
				return ph, fmt.Errorf("phase %q: min must be a number, not %q", ph.Name, opt)
			}
			ph.MinimumEnvironmentsBeforePromotion = n
		case opt != "":
			return ph, fmt.Errorf("phase %q: unknown option %q (use min=N or optional)", ph.Name, opt)
		}
	}
	return ph, nil
}

func describePhase(ph model.Phase, envs map[string]string) string {
	var names []string
	for _, id := range ph.AutomaticEnvironments {
		names = append(names, envs[id]+" (automatic)")
	}
	for _, id := range ph.ManualEnvironments {
		names = append(names, envs[id])
	}
	if len(names) == 0 {
		names = []string{"every environment no other phase names"}
	}
	s := ph.Name + ": " + strings.Join(names, ", ")
	if ph.MinimumEnvironmentsBeforePromotion > 0 {
		s += fmt.Sprintf("; %d needed to progress", ph.MinimumEnvironmentsBeforePromotion)
	}
	if ph.Optional {
		s += "; optional"
	}
	return s
}

func envNames(cmd *cobra.Command, c *client.Client) (map[string]string, error) {
	envs, err := c.Environments(cmd.Context())
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, e := range envs {
		m[e.ID] = e.Name
	}
	return m, nil
}

func (a *app) projectCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "project", Aliases: []string{"projects"}, Short: "Manage projects"}
	var partial string
	list := &cobra.Command{Use: "list", Short: "List projects", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ps, err := c.Projects(cmd.Context(), client.ListOptions{PartialName: partial})
			if err != nil {
				return err
			}
			return a.print(nonNil(ps), func() {
				names := newNamer(cmd.Context(), c)
				var rows [][]string
				for _, p := range ps {
					rows = append(rows, []string{p.ID, p.Name, names.lifecycle(p.LifecycleID), names.group(p.ProjectGroupID)})
				}
				a.table([]string{"ID", "NAME", "LIFECYCLE", "GROUP"}, rows)
			})
		}}
	list.Flags().StringVar(&partial, "name", "", "only projects whose name contains this")
	var description, lifecycle, group string
	create := &cobra.Command{Use: "create NAME", Short: "Create a project", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p := model.Project{Name: args[0], Description: description}
			if lifecycle != "" {
				l, err := c.FindLifecycle(cmd.Context(), lifecycle)
				if err != nil {
					return err
				}
				p.LifecycleID = l.ID
			}
			if group != "" {
				g, err := c.FindProjectGroup(cmd.Context(), group)
				if err != nil {
					return err
				}
				p.ProjectGroupID = g.ID
			}
			p, err = c.CreateProject(cmd.Context(), p)
			if err != nil {
				return err
			}
			return a.print(p, func() { fmt.Fprintf(a.stdout, "Created project %s (%s)\n", p.Name, p.ID) })
		}}
	create.Flags().StringVar(&description, "description", "", "what the project deploys")
	create.Flags().StringVar(&lifecycle, "lifecycle", "", "lifecycle to follow (default the Default Lifecycle)")
	create.Flags().StringVar(&group, "group", "", "project group (default the Default Project Group)")
	show := &cobra.Command{Use: "show PROJECT", Short: "Show a project", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := clientAndFind(a, cmd.Context(), (*client.Client).FindProject, args[0])
			if err != nil {
				return err
			}
			return a.print(p, func() {
				names := newNamer(cmd.Context(), c)
				a.fields("ID", p.ID, "Name", p.Name, "Description", p.Description, "Lifecycle", names.lifecycle(p.LifecycleID), "Group", names.group(p.ProjectGroupID))
			})
		}}
	del := deleteCommand(a, "PROJECT", "Delete a project with its releases", "project", (*client.Client).FindProject, (*client.Client).DeleteProject,
		func(v model.Project) (string, string) { return v.ID, v.Name })
	cmd.AddCommand(list, create, show, del)
	return cmd
}

func (a *app) processCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "process", Short: "Manage a project's deployment process"}
	var project string
	cmd.PersistentFlags().StringVarP(&project, "project", "p", "", "project (name or id, required)")
	cmd.MarkPersistentFlagRequired("project")
	show := &cobra.Command{Use: "show", Short: "Show a project's steps", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			d, err := c.Process(cmd.Context(), p.ID)
			if err != nil {
				return err
			}
			return a.print(d, func() { a.stepTable(d.Steps, "pulpo process step add") })
		}}
	step := &cobra.Command{Use: "step", Short: "Add, list and remove steps"}
	stepList := &cobra.Command{Use: "list", Short: "List a project's steps", Args: cobra.NoArgs, RunE: show.RunE}
	var sf stepFlags
	add := &cobra.Command{Use: "add", Short: "Add a step: a script, a script kept in a package, a package to deploy, a health check or an email", Args: cobra.NoArgs,
		Example: `  pulpo process step add -p web --name "Say hello" --script 'echo "#{Greeting}"'
  pulpo process step add -p web --name Deploy --script-file deploy.sh
  pulpo process step add -p web --name Check --syntax python --script 'print(get_octopusvariable("Greeting"))'
  pulpo process step add -p web --name Install --package web-app --substitute 'config/*.yaml' --role web
  pulpo process step add -p web --name Migrate --script-package db-tools --script-in-package scripts/migrate.sh --script-arguments '--env #{Octopus.Environment.Name}'
  pulpo process step add -p api --name Install --package org.acme:api --feed Nexus --acquisition target --role api
  pulpo process step add -p web --name "Check web" --health-check --health-check-on-error skip --include-new-targets --role web
  pulpo process step add -p web --name Run --package-ref name=web,package=team/web,feed=Registry --script 'docker run -d #{Octopus.Action.Package[web].Image}'
  pulpo process step add -p web --name "Mail ops" --condition failure --email-to-team Ops --email-subject '#{Octopus.Project.Name} failed in #{Octopus.Environment.Name}' --email-body '#{Octopus.Deployment.Error}'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := sf.prepare(cmd); err != nil {
				return err
			}
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			d, err := c.Process(cmd.Context(), p.ID)
			if err != nil {
				return err
			}
			s, err := sf.build(a, cmd, c)
			if err != nil {
				return err
			}
			var at int
			d.Steps, at = sf.insert(d.Steps, s)
			d, err = c.SaveProcess(cmd.Context(), d)
			if err != nil {
				return err
			}
			return a.print(d, func() { fmt.Fprintf(a.stdout, "Added step %q to %s as step %d\n", sf.name, p.Name, at+1) })
		}}
	sf.register(add, false)
	remove := &cobra.Command{Use: "remove STEP", Short: "Remove a step (by name or id)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			d, err := c.Process(cmd.Context(), p.ID)
			if err != nil {
				return err
			}
			var found bool
			if d.Steps, found = removeStep(d.Steps, args[0]); !found {
				return fmt.Errorf("project %s has no step %q", p.Name, args[0])
			}
			d, err = c.SaveProcess(cmd.Context(), d)
			if err != nil {
				return err
			}
			return a.print(d, func() { fmt.Fprintf(a.stdout, "Removed step %q from %s\n", args[0], p.Name) })
		}}
	step.AddCommand(stepList, add, remove)
	cmd.AddCommand(show, step, a.updateTemplateCommand(&project))
	return cmd
}

// stepTable prints steps in order; add is the command that adds one.
func (a *app) stepTable(steps []model.Step, add string) {
	if len(steps) == 0 {
		fmt.Fprintf(a.stdout, "No steps yet: add one with %q.\n", add)
		return
	}
	var rows [][]string
	for i, s := range steps {
		state := "enabled"
		if s.Disabled {
			state = "disabled"
		}
		summary := ""
		switch {
		case s.Script != nil && s.Script.FromPackage != nil:
			summary = "script " + s.Script.FromPackage.File + " from package " + s.Script.FromPackage.PackageID
		case s.Manual != nil:
			summary = "manual: " + firstLine(s.Manual.Instructions)
		case s.DeployRelease != nil:
			summary = "deploy a release of " + s.DeployRelease.ProjectID
		case s.HealthCheck != nil:
			summary = healthCheckSummary(s.HealthCheck)
		case s.Script != nil:
			summary = string(s.Script.Syntax) + ": " + firstLine(s.Script.Body)
		case s.Package != nil:
			summary = "package " + s.Package.PackageID
		case s.Email != nil:
			summary = emailSummary(s.Email)
		}
		if s.Template != nil {
			summary = fmt.Sprintf("template %s v%d: %s", s.Template.ID, s.Template.Version, summary)
		}
		where := "worker"
		switch {
		case len(s.TargetRoles) > 0:
			where = "roles: " + strings.Join(s.TargetRoles, ",")
		case s.RunOnServer:
			where = "server"
		case s.Manual != nil:
			where = "people"
		case s.DeployRelease != nil, s.Email != nil:
			where = "server"
		}
		rows = append(rows, []string{strconv.Itoa(i + 1), s.Name, s.Kind(), state, where, summary})
	}
	a.table([]string{"#", "NAME", "KIND", "STATE", "RUNS ON", "SCRIPT"}, rows)
}

func firstLine(s string) string {
	line, _, more := strings.Cut(strings.TrimSpace(s), "\n")
	if len(line) > 60 {
		return line[:57] + "..."
	}
	if more {
		return line + " …"
	}
	return line
}

// project finds a project by id or name, with a client.
func (a *app) project(cmd *cobra.Command, idOrName string) (*client.Client, model.Project, error) {
	c, err := a.client()
	if err != nil {
		return nil, model.Project{}, err
	}
	p, err := c.FindProject(cmd.Context(), idOrName)
	return c, p, err
}

// nonNil makes empty lists print as [] in JSON.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// deleteCommand deletes one object named by id or name, after finding it so
// the confirmation can say which.
func deleteCommand[T any](a *app, use, short, kind string,
	find func(*client.Client, context.Context, string) (T, error),
	del func(*client.Client, context.Context, string) error,
	idName func(T) (string, string)) *cobra.Command {
	return &cobra.Command{Use: "delete " + use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			v, err := find(c, cmd.Context(), args[0])
			if err != nil {
				return err
			}
			id, name := idName(v)
			if err := del(c, cmd.Context(), id); err != nil {
				return err
			}
			return a.print(v, func() { fmt.Fprintf(a.stdout, "Deleted %s %s (%s)\n", kind, name, id) })
		}}
}

// parsePackageRef reads --package-ref's
// name=NAME,package=ID[,feed=FEED][,acquisition=WHERE][,extract].
func parsePackageRef(spec string) (model.PackageReference, error) {
	var ref model.PackageReference
	for _, part := range strings.Split(spec, ",") {
		key, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch strings.ToLower(key) {
		case "name":
			ref.Name = value
		case "package":
			ref.PackageID = value
		case "feed":
			ref.FeedID = value
		case "acquisition":
			ref.Acquisition = model.PackageAcquisition(value)
		case "extract":
			ref.Extract = value == "" || strings.EqualFold(value, "true")
		default:
			return ref, fmt.Errorf("--package-ref %q: %q is not a field: use name=, package=, feed=, acquisition= and extract", spec, key)
		}
	}
	if ref.Name == "" || ref.PackageID == "" {
		return ref, fmt.Errorf("--package-ref %q: name= and package= are required, e.g. name=web,package=team/web,feed=Registry", spec)
	}
	return ref, nil
}

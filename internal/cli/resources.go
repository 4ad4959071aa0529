package cli

import (
	"context"
	"fmt"
	"os"
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
			c, err := a.client()
			if err != nil {
				return err
			}
			e, err := c.FindEnvironment(cmd.Context(), args[0])
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
			c, err := a.client()
			if err != nil {
				return err
			}
			l, err := c.FindLifecycle(cmd.Context(), args[0])
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
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := c.FindProject(cmd.Context(), args[0])
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
			return a.print(d, func() { a.stepTable(d) })
		}}
	step := &cobra.Command{Use: "step", Short: "Add, list and remove steps"}
	stepList := &cobra.Command{Use: "list", Short: "List a project's steps", Args: cobra.NoArgs, RunE: show.RunE}
	var name, script, scriptFile, syntax string
	var position, maxParallel, window int
	var stepRoles []string
	var stepPool, pkgID string
	var onServer bool
	var substitute, structured []string
	var retain int
	var scriptPkg, scriptInPkg, scriptArgs string
	var manual, condition, conditionExpr, deployProject, deployMode string
	var passDown []string
	var teams, onlyEnvs, exceptEnvs []string
	var required, withPrevious bool
	var retries, retryDelay int
	var fromTemplate string
	var email emailFlags
	var templateParams, modules []string
	var feedName, acquisition string
	var packageRefs []string
	var healthCheck healthCheckFlags
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
			if err := healthCheck.check(cmd.Flags(), email.set() || fromTemplate != "" || deployProject != "" || manual != "" || scriptPkg != "" || pkgID != "" || script != "" || scriptFile != "" || len(packageRefs) > 0); err != nil {
				return err
			}
			switch {
			case email.set() && (fromTemplate != "" || deployProject != "" || manual != "" || scriptPkg != "" || pkgID != "" || script != "" || scriptFile != "" || len(packageRefs) > 0):
				return fmt.Errorf("--email-* flags make an email step: leave out --script, --script-file, --script-package, --package, --package-ref, --manual, --deploy-release and --template")
			case (feedName != "" || acquisition != "") && pkgID == "" && scriptPkg == "":
				return fmt.Errorf("--feed and --acquisition say where --package or --script-package comes from; a script's other packages go in --package-ref")
			case len(packageRefs) > 0 && (pkgID != "" || manual != "" || deployProject != "" || fromTemplate != ""):
				return fmt.Errorf("--package-ref gives a script step packages it refers to: use it with --script, --script-file or --script-package")
			case scriptPkg != "" && (pkgID != "" || script != "" || scriptFile != ""):
				return fmt.Errorf("--script-package takes the script from a package: leave out --package, --script and --script-file")
			case (scriptPkg == "") != (scriptInPkg == ""):
				return fmt.Errorf("--script-package and --script-in-package go together: the package, and the script's path inside it")
			case scriptArgs != "" && scriptPkg == "":
				return fmt.Errorf("--script-arguments is for a script kept in a package (--script-package)")
			case deployProject != "" && (manual != "" || scriptPkg != "" || pkgID != "" || script != "" || scriptFile != ""):
				return fmt.Errorf("--deploy-release makes a deploy-a-release step: leave out --manual, --script, --script-file, --script-package and --package")
			case manual != "" && (scriptPkg != "" || pkgID != "" || script != "" || scriptFile != ""):
				return fmt.Errorf("--manual makes a manual intervention step: leave out --script, --script-file, --script-package and --package")
			case fromTemplate != "" && (deployProject != "" || manual != "" || scriptPkg != "" || pkgID != "" || script != "" || scriptFile != ""):
				return fmt.Errorf("--template makes the step do what the step template says: leave out --script, --script-file, --script-package, --package, --manual and --deploy-release")
			case fromTemplate == "" && len(templateParams) > 0:
				return fmt.Errorf("--parameter gives a value to a step template's parameter: use it with --template")
			case !healthCheck.on && !email.set() && fromTemplate == "" && deployProject == "" && manual == "" && scriptPkg == "" && pkgID == "" && (script == "") == (scriptFile == ""):
				return fmt.Errorf("give the script with exactly one of --script or --script-file, take it from a package with --script-package, deploy a package with --package, ask people with --manual, check targets with --health-check, or send an email with --email-to/--email-to-team and --email-subject")
			}
			if scriptFile != "" {
				b, err := os.ReadFile(scriptFile)
				if err != nil {
					return fmt.Errorf("read script: %w", err)
				}
				script = string(b)
			}
			syntax = string(scriptSyntax(cmd, syntax, scriptFile, model.SyntaxBash))
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			d, err := c.Process(cmd.Context(), p.ID)
			if err != nil {
				return err
			}
			s := model.Step{Name: name, TargetRoles: stepRoles, MaxParallelism: maxParallel, WindowSize: window, RunOnServer: onServer,
				Required: required, Condition: model.StepCondition(condition), ConditionExpression: conditionExpr,
				StartWithPrevious: withPrevious, Retries: retries, RetryDelaySeconds: retryDelay, ScriptModules: modules}
			for _, list := range []struct {
				names []string
				ids   *[]string
			}{{onlyEnvs, &s.Environments}, {exceptEnvs, &s.ExcludedEnvironments}} {
				for _, n := range list.names {
					env, err := c.FindEnvironment(cmd.Context(), n)
					if err != nil {
						return err
					}
					*list.ids = append(*list.ids, env.ID)
				}
			}
			if s.HealthCheck, err = healthCheck.action(); err != nil {
				return err
			}
			if s.HealthCheck != nil {
				// The step's roles say what it checks.
			} else if email.set() {
				if s.Email, err = email.action(); err != nil {
					return err
				}
			} else if fromTemplate != "" {
				if s.Template, err = a.templateRef(cmd, c, fromTemplate, templateParams); err != nil {
					return err
				}
			} else if deployProject != "" {
				child, err := c.FindProject(cmd.Context(), deployProject)
				if err != nil {
					return err
				}
				s.DeployRelease = &model.DeployReleaseAction{ProjectID: child.ID, Mode: model.DeployReleaseMode(deployMode)}
				for _, kv := range passDown {
					name, value, ok := strings.Cut(kv, "=")
					if !ok || name == "" {
						return fmt.Errorf("--pass takes NAME=VALUE, not %q", kv)
					}
					if s.DeployRelease.Variables == nil {
						s.DeployRelease.Variables = map[string]string{}
					}
					s.DeployRelease.Variables[name] = value
				}
			} else if manual != "" {
				s.Manual = &model.ManualAction{Instructions: manual, ResponsibleTeams: teams}
			} else if pkgID != "" {
				s.Package = &model.PackageAction{PackageID: pkgID, FeedID: feedName, Acquisition: model.PackageAcquisition(acquisition),
					SubstituteFiles: substitute, StructuredConfigFiles: structured, RetainInstallations: retain}
				if script != "" {
					s.Package.Deploy = &model.ScriptAction{Syntax: model.ScriptSyntax(syntax), Body: script}
				}
			} else if scriptPkg != "" {
				s.Script = &model.ScriptAction{Syntax: model.ScriptSyntax(syntax), FromPackage: &model.ScriptPackage{
					PackageID: scriptPkg, File: scriptInPkg, Arguments: scriptArgs, SubstituteFiles: substitute,
					FeedID: feedName, Acquisition: model.PackageAcquisition(acquisition)}}
			} else {
				s.Script = &model.ScriptAction{Syntax: model.ScriptSyntax(syntax), Body: script}
			}
			for _, spec := range packageRefs {
				ref, err := parsePackageRef(spec)
				if err != nil {
					return err
				}
				s.Script.Packages = append(s.Script.Packages, ref)
			}
			if stepPool != "" {
				pool, err := c.FindWorkerPool(cmd.Context(), stepPool)
				if err != nil {
					return err
				}
				s.WorkerPoolID = pool.ID
			}
			at := len(d.Steps)
			if position > 0 && position <= len(d.Steps) {
				at = position - 1
			}
			d.Steps = append(d.Steps[:at], append([]model.Step{s}, d.Steps[at:]...)...)
			d, err = c.SaveProcess(cmd.Context(), d)
			if err != nil {
				return err
			}
			return a.print(d, func() { fmt.Fprintf(a.stdout, "Added step %q to %s as step %d\n", name, p.Name, at+1) })
		}}
	add.Flags().StringVar(&name, "name", "", "step name (required)")
	add.Flags().StringVar(&fromTemplate, "template", "", "make the step from this step template (name or id), at its newest version")
	add.Flags().StringArrayVar(&templateParams, "parameter", nil, "with --template: NAME=VALUE, a parameter's value, a template like #{Var} (repeat)")
	add.Flags().StringArrayVar(&modules, "script-module", nil, "include this script module in the step's scripts (repeat)")
	add.Flags().StringVar(&script, "script", "", "the script's body")
	add.Flags().StringVar(&scriptFile, "script-file", "", "read the script's body from this file")
	add.Flags().StringVar(&syntax, "syntax", "bash", syntaxHelp)
	add.Flags().IntVar(&position, "position", 0, "where to insert it, 1 for first (default last)")
	add.Flags().StringArrayVar(&stepRoles, "role", nil, "run on every deployment target with this role (repeat for several); without roles the step runs on a worker")
	add.Flags().StringVar(&stepPool, "worker-pool", "", "run on a worker of this pool (default pool: the built-in worker while it has no workers)")
	add.Flags().StringVar(&pkgID, "package", "", "deploy this package from the feed (its version is chosen when a release is created); --script becomes its inline Deploy script")
	add.Flags().StringVar(&feedName, "feed", "", "with --package or --script-package: the external feed (name or id) the package comes from (default: the built-in feed)")
	add.Flags().StringVar(&acquisition, "acquisition", "", "with --package or --script-package from an external feed: server (default: the server downloads it once and sends it) or target (each target downloads it itself)")
	add.Flags().StringArrayVar(&packageRefs, "package-ref", nil, "a package the script refers to, name=NAME,package=ID[,feed=FEED][,acquisition=server|target|none][,extract]; the script reads #{Octopus.Action.Package[NAME].Image}, .PackageVersion, .OriginalPath or .ExtractedPath (repeat)")
	add.Flags().StringVar(&scriptPkg, "script-package", "", "take the script from this package of the feed (its version is chosen when a release is created)")
	add.Flags().StringVar(&scriptInPkg, "script-in-package", "", "with --script-package: the script's path in the package (.sh runs with --syntax, .py with python3)")
	add.Flags().StringVar(&scriptArgs, "script-arguments", "", "with --script-package: arguments for the script, a template the shell then splits")
	add.Flags().StringArrayVar(&substitute, "substitute", nil, "with --package or --script-package: render files matching this glob as templates (repeat)")
	add.Flags().StringArrayVar(&structured, "structured-config", nil, "with --package: replace values in JSON/YAML/XML/.properties files matching this glob by variables named by key path (repeat)")
	add.Flags().IntVar(&retain, "retain", 0, "with --package: keep this many installations on each target (0 keeps all)")
	add.Flags().StringVar(&deployProject, "deploy-release", "", "make a step that deploys a release of this project (chosen when the parent release is created)")
	add.Flags().StringVar(&deployMode, "deploy-mode", "", "with --deploy-release: always (default), ifDifferent or ifNewer than what the environment has")
	add.Flags().StringArrayVar(&passDown, "pass", nil, "with --deploy-release: NAME=TEMPLATE, a value the child deployment gets (repeat)")
	add.Flags().StringVar(&manual, "manual", "", "make a manual intervention step with these instructions (markdown): the deployment waits until someone proceeds or aborts")
	add.Flags().StringArrayVar(&teams, "responsible-team", nil, "with --manual: a team that may answer (repeat)")
	healthCheck.register(add.Flags())
	add.Flags().StringArrayVar(&onlyEnvs, "only-environment", nil, "run the step only in this environment (repeat)")
	add.Flags().StringArrayVar(&exceptEnvs, "skip-environment", nil, "never run the step in this environment (repeat)")
	add.Flags().BoolVar(&required, "required", false, "the step cannot be skipped when deploying")
	add.Flags().StringVar(&condition, "condition", "", "when the step runs: success (default: no earlier step failed), failure, always, or variable (with --condition-expression)")
	add.Flags().StringVar(&conditionExpr, "condition-expression", "", `with --condition variable: a template; the step runs on each target where it renders to "true"`)
	add.Flags().BoolVar(&withPrevious, "start-with-previous", false, "run alongside the step before it")
	add.Flags().IntVar(&retries, "retries", 0, "run a failed script again on a target up to this many times")
	add.Flags().IntVar(&retryDelay, "retry-delay", 0, "seconds between retries")
	add.Flags().BoolVar(&onServer, "on-server", false, "run on the server's built-in worker, whatever workers the default pool has")
	add.Flags().IntVar(&maxParallel, "max-parallelism", 0, "at most this many targets at once (default 10)")
	add.Flags().IntVar(&window, "window-size", 0, "roll across targets this many at a time, stopping at the first failure")
	email.register(add)
	add.MarkFlagRequired("name")
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
			kept := d.Steps[:0]
			found := false
			for _, s := range d.Steps {
				if s.ID == args[0] || model.SameName(s.Name, args[0]) {
					found = true
					continue
				}
				kept = append(kept, s)
			}
			if !found {
				return fmt.Errorf("project %s has no step %q", p.Name, args[0])
			}
			d.Steps = kept
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

func (a *app) stepTable(d model.DeploymentProcess) {
	if len(d.Steps) == 0 {
		fmt.Fprintln(a.stdout, "No steps yet: add one with \"pulpo process step add\".")
		return
	}
	var rows [][]string
	for i, s := range d.Steps {
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

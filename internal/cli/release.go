package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

func (a *app) releaseCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "release", Aliases: []string{"releases"}, Short: "Create, list and deploy releases"}
	var project, version, notes, channel string
	var packageArgs, childArgs, workItemArgs []string
	create := &cobra.Command{Use: "create", Short: "Create a release: a snapshot of the project's process and variables", Args: cobra.NoArgs,
		Example: `  pulpo release create --project web --version 1.4.0 --notes "New login page"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			pkgs := map[string]string{}
			for _, spec := range packageArgs {
				// The version follows the last colon: ids (Maven's
				// group:artifact) and STEP:REFERENCE keys hold colons.
				i := strings.LastIndex(spec, ":")
				id, v := spec[:max(i, 0)], spec[i+1:]
				if i < 0 || id == "" || v == "" {
					return fmt.Errorf("--package takes ID:VERSION, STEP:VERSION or STEP:REFERENCE:VERSION, not %q", spec)
				}
				pkgs[id] = v
			}
			children := map[string]string{}
			for _, spec := range childArgs {
				name, v, ok := strings.Cut(spec, ":")
				if !ok || name == "" || v == "" {
					return fmt.Errorf("--child-release takes PROJECT:VERSION (or STEP:VERSION), not %q", spec)
				}
				children[name] = v
			}
			items, err := parseWorkItems(workItemArgs) // board.go
			if err != nil {
				return err
			}
			r, err := c.CreateRelease(cmd.Context(), wire.CreateReleaseRequest{ProjectID: p.ID, Version: version, Notes: notes, Packages: pkgs, ChildReleases: children, Channel: channel,
				WorkItems: items})
			if err != nil {
				return err
			}
			return a.print(r, func() {
				fmt.Fprintf(a.stdout, "Created release %s of %s (%s)\n", r.Version, p.Name, r.ID)
				if r.ChannelID != "" {
					name := r.ChannelID
					if chs, err := c.Channels(cmd.Context(), p.ID); err == nil {
						for _, ch := range chs {
							if ch.ID == r.ChannelID {
								name = ch.Name
							}
						}
					}
					fmt.Fprintf(a.stdout, "It follows channel %s\n", name)
				}
				names := newNamer(cmd.Context(), c)
				for _, d := range r.AutomaticDeployments {
					fmt.Fprintf(a.stdout, "The lifecycle deploys it to %s by itself: deployment %s, task %s\n", names.environment(d.EnvironmentID), d.ID, d.TaskID)
				}
			})
		}}
	create.Flags().StringVarP(&project, "project", "p", "", "project (name or id, required)")
	create.Flags().StringVar(&version, "version", "", "release version (default the next patch number)")
	create.Flags().StringVar(&notes, "notes", "", "release notes")
	create.Flags().StringArrayVar(&workItemArgs, "work-item", nil, "a work item it delivers, 'ID|Title|URL' (title and URL optional; repeat); those of its packages' build information are added")
	create.Flags().StringArrayVar(&packageArgs, "package", nil, "ID:VERSION, STEP:VERSION or STEP:REFERENCE:VERSION of a package a step takes (Maven ids hold a colon: group:artifact:1.0); the newest in its feed otherwise (repeat)")
	create.Flags().StringVar(&channel, "channel", "", "the channel the release follows (default: the default channel if it takes the packages, else the first that does)")
	create.Flags().StringArrayVar(&childArgs, "child-release", nil, "PROJECT:VERSION (or STEP:VERSION) a deploy-a-release step deploys; the child's newest release otherwise (repeat)")
	create.MarkFlagRequired("project")

	list := &cobra.Command{Use: "list", Short: "List a project's releases, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			page, err := c.Releases(cmd.Context(), client.ListOptions{Take: 100, Filters: map[string]string{"projectId": p.ID}})
			if err != nil {
				return err
			}
			return a.print(page, func() {
				var rows [][]string
				for _, r := range page.Items {
					rows = append(rows, []string{r.ID, r.Version, r.CreatedAt.Local().Format("2006-01-02 15:04"), firstLine(r.Notes)})
				}
				a.table([]string{"ID", "VERSION", "CREATED", "NOTES"}, rows)
			})
		}}
	list.Flags().StringVarP(&project, "project", "p", "", "project (name or id, required)")
	list.MarkFlagRequired("project")

	show := &cobra.Command{Use: "show [VERSION]", Short: "Show a release and where it may go now", Args: cobra.MaximumNArgs(1),
		Example: `  pulpo release show -p web --version 1.4.0
  pulpo release show Releases-12`,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := versionArg(args, version)
			if err != nil {
				return err
			}
			c, r, err := a.release(cmd, project, v)
			if err != nil {
				return err
			}
			prog, err := c.Progression(cmd.Context(), r.ID)
			if err != nil {
				return err
			}
			out := struct {
				model.Release
				Progression []model.EnvironmentProgress `json:"progression"`
			}{r, prog}
			return a.print(out, func() {
				a.fields("ID", r.ID, "Version", r.Version, "Project", newNamer(cmd.Context(), c).project(r.ProjectID), "Created", r.CreatedAt.Local().Format("2006-01-02 15:04:05"),
					"Created by", r.CreatedBy, "Notes", r.Notes, "Steps", strconv.Itoa(len(r.ProcessSnapshot.Steps)))
				var rows [][]string
				for _, p := range prog {
					can := "yes"
					if !p.CanDeploy {
						can = "no: " + p.Reason
					}
					rows = append(rows, []string{p.Environment, p.Phase, string(p.LastState), can})
				}
				fmt.Fprintln(a.stdout)
				a.table([]string{"ENVIRONMENT", "PHASE", "LAST DEPLOYMENT", "CAN DEPLOY NOW"}, rows)
			})
		}}
	show.Flags().StringVarP(&project, "project", "p", "", "project (name or id; not needed with a release id)")
	show.Flags().StringVar(&version, "version", "", "release version or id")

	var environment string
	var watch, guided, overrideFreeze bool
	var promptedArgs, skipSteps, onlyMachines, exceptMachines []string
	var deployAt, noDeployAfter string
	deploy := &cobra.Command{Use: "deploy [VERSION]", Short: "Deploy a release to an environment", Args: cobra.MaximumNArgs(1),
		Long: `Deploy a release to an environment. The lifecycle decides whether the
release may go there now; when it may not, the command says why.
With --watch the live log follows and the command exits non-zero unless
the deployment succeeds.`,
		Example: `  pulpo release deploy --project web --version 1.4.0 --environment Test --watch
  pulpo release deploy -p web --version 1.4.0 --environment Production --skip-step "Smoke tests" --guided-failure
  pulpo release deploy -p web --version 1.4.0 --environment Production --deploy-at "2026-12-01 22:00" --no-deploy-after "2026-12-01 23:00"
  pulpo release deploy -p web --version 1.2.0 --environment Production     # a rollback is deploying the older release`,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := versionArg(args, version)
			if err != nil {
				return err
			}
			c, r, err := a.release(cmd, project, v)
			if err != nil {
				return err
			}
			env, err := c.FindEnvironment(cmd.Context(), environment)
			if err != nil {
				return err
			}
			given := map[string]string{}
			for _, kv := range promptedArgs {
				name, value, ok := strings.Cut(kv, "=")
				if !ok || name == "" {
					return fmt.Errorf("--variable takes NAME=VALUE, not %q", kv)
				}
				given[name] = value
			}
			req := wire.CreateDeploymentRequest{ReleaseID: r.ID, EnvironmentID: env.ID, Variables: given, SkipSteps: skipSteps, OverrideFreeze: overrideFreeze}
			if cmd.Flags().Changed("guided-failure") {
				req.GuidedFailure = &guided
			}
			for _, list := range []struct {
				names []string
				ids   *[]string
			}{{onlyMachines, &req.SpecificMachineIDs}, {exceptMachines, &req.ExcludedMachineIDs}} {
				for _, n := range list.names {
					m, err := c.FindMachine(cmd.Context(), n)
					if err != nil {
						return err
					}
					*list.ids = append(*list.ids, m.ID)
				}
			}
			if req.NotBefore, err = parseWhen("--deploy-at", deployAt, time.Now()); err != nil {
				return err
			}
			if req.NotAfter, err = parseWhen("--no-deploy-after", noDeployAfter, time.Now()); err != nil {
				return err
			}
			d, err := c.Deploy(cmd.Context(), req)
			if err != nil {
				return err
			}
			if !watch {
				return a.print(d, func() {
					fmt.Fprintf(a.stdout, "Deploying release %s to %s: deployment %s, task %s\n", r.Version, env.Name, d.ID, d.TaskID)
				})
			}
			if a.output == "text" {
				fmt.Fprintf(a.stdout, "Deploying release %s to %s: deployment %s, task %s\n", r.Version, env.Name, d.ID, d.TaskID)
			}
			return a.watch(cmd, c, d.TaskID)
		}}
	deploy.Flags().StringArrayVar(&promptedArgs, "variable", nil, "NAME=VALUE for a prompted variable (repeat for several)")
	deploy.Flags().StringVarP(&project, "project", "p", "", "project (name or id; not needed with a release id)")
	deploy.Flags().StringVar(&version, "version", "", "release version or id")
	deploy.Flags().StringVar(&environment, "environment", "", "environment (name or id, required)")
	deploy.Flags().BoolVar(&watch, "watch", false, "follow the deployment's log until it ends")
	deploy.Flags().StringArrayVar(&skipSteps, "skip-step", nil, "leave out this step (name or id; repeat); required steps cannot be skipped")
	deploy.Flags().BoolVar(&guided, "guided-failure", false, "when a step fails, pause and ask whether to retry, ignore, exclude the machine or fail (default: the environment's setting; --guided-failure=false turns it off)")
	deploy.Flags().StringArrayVar(&onlyMachines, "machine", nil, "deploy only to this target (repeat); steps for other roles are skipped")
	deploy.Flags().StringArrayVar(&exceptMachines, "exclude-machine", nil, "leave this target out (repeat)")
	deploy.Flags().BoolVar(&overrideFreeze, "override-freeze", false, "deploy even though a deployment freeze covers it")
	deploy.Flags().StringVar(&deployAt, "deploy-at", "", `start at this time: RFC 3339, "YYYY-MM-DD HH:MM" local time, or +DURATION such as +2h`)
	deploy.Flags().StringVar(&noDeployAfter, "no-deploy-after", "", "if the deployment has not started by this time (same forms as --deploy-at), it fails instead of starting late")
	deploy.MarkFlagRequired("environment")
	updateVars := &cobra.Command{Use: "update-variables [VERSION]", Short: "Take a release's variables again from its project and library sets",
		Long: `Take a release's variables again from its project and library sets, as they
are now. A release's variables are a snapshot; this is how a fix to a value
reaches a release that is on its way, until it has been deployed to an
environment of its lifecycle's last phase.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := versionArg(args, version)
			if err != nil {
				return err
			}
			c, r, err := a.release(cmd, project, v)
			if err != nil {
				return err
			}
			r, err = c.RefreshReleaseVariables(cmd.Context(), r.ID)
			if err != nil {
				return err
			}
			return a.print(r, func() {
				fmt.Fprintf(a.stdout, "Release %s now has %d variable values\n", r.Version, len(r.VariableSnapshot.Variables))
			})
		}}
	updateVars.Flags().StringVarP(&project, "project", "p", "", "project (name or id; not needed with a release id)")
	updateVars.Flags().StringVar(&version, "version", "", "release version or id")
	retention := &cobra.Command{Use: "apply-retention", Short: "Delete now the releases lifecycles' retention lets go (the server does every 10 minutes)",
		Long: `Delete the releases their lifecycle's retention lets go, with their
deployments and logs. A release counts in the furthest phase it reached; a
phase's retention (or else the lifecycle's) keeps the newest N releases and
those younger than D days. Whatever the policy, the newest release, every
release current in an environment, the one current there before it (what a
rollback deploys), releases still deploying, and child releases a parent
release deploys are kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			removed, err := c.ApplyReleaseRetention(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(removed, func() {
				if len(removed) == 0 {
					fmt.Fprintln(a.stdout, "Retention removed no release")
				}
				for _, r := range removed {
					fmt.Fprintf(a.stdout, "Removed release %s (%s)\n", r.Version, r.ID)
				}
			})
		}}
	cmd.AddCommand(create, list, show, deploy, updateVars, retention)
	return cmd
}

// parseWhen reads a time given on the command line: RFC 3339, a local
// "YYYY-MM-DD HH:MM[:SS]", "now", or +DURATION from now; "" is no time.
func parseWhen(flag, s string, now time.Time) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if strings.EqualFold(s, "now") {
		return &now, nil
	}
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%s %q: after + give a duration such as 30m or 2h", flag, s)
		}
		t := now.Add(d)
		return &t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return &t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return &t, nil
		}
	}
	return nil, fmt.Errorf(`%s %q is not a time: use RFC 3339 (2026-12-01T22:00:00Z), "2026-12-01 22:00" (local time), now, or +2h`, flag, s)
}

// release finds a release by id, or by project and version.
func (a *app) release(cmd *cobra.Command, project, versionOrID string) (*client.Client, model.Release, error) {
	c, err := a.client()
	if err != nil {
		return nil, model.Release{}, err
	}
	if project == "" {
		r, err := c.Release(cmd.Context(), versionOrID)
		if client.IsNotFound(err) {
			return c, r, fmt.Errorf("release %q was not found; to find a release by version, give --project", versionOrID)
		}
		return c, r, err
	}
	p, err := c.FindProject(cmd.Context(), project)
	if err != nil {
		return c, model.Release{}, err
	}
	r, err := c.FindRelease(cmd.Context(), p.ID, versionOrID)
	if client.IsNotFound(err) {
		if byID, idErr := c.Release(cmd.Context(), versionOrID); idErr == nil && byID.ProjectID == p.ID {
			return c, byID, nil
		}
		return c, r, fmt.Errorf("project %s has no release %q", p.Name, versionOrID)
	}
	return c, r, err
}

func (a *app) deploymentCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "deployment", Aliases: []string{"deployments"}, Short: "List and show deployments"}
	var project, environment string
	list := &cobra.Command{Use: "list", Short: "List deployments, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			filters := map[string]string{}
			if project != "" {
				p, err := c.FindProject(cmd.Context(), project)
				if err != nil {
					return err
				}
				filters["projectId"] = p.ID
			}
			if environment != "" {
				e, err := c.FindEnvironment(cmd.Context(), environment)
				if err != nil {
					return err
				}
				filters["environmentId"] = e.ID
			}
			page, err := c.Deployments(cmd.Context(), client.ListOptions{Take: 100, Filters: filters})
			if err != nil {
				return err
			}
			return a.print(page, func() {
				names := newNamer(cmd.Context(), c)
				var rows [][]string
				for _, d := range page.Items {
					rows = append(rows, []string{d.ID, names.project(d.ProjectID), names.release(d.ReleaseID), names.environment(d.EnvironmentID), string(d.State), d.TaskID, d.CreatedAt.Local().Format("2006-01-02 15:04")})
				}
				a.table([]string{"ID", "PROJECT", "RELEASE", "ENVIRONMENT", "STATE", "TASK", "CREATED"}, rows)
			})
		}}
	list.Flags().StringVarP(&project, "project", "p", "", "only this project's deployments")
	list.Flags().StringVar(&environment, "environment", "", "only deployments to this environment")
	show := &cobra.Command{Use: "show DEPLOYMENT", Short: "Show a deployment", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			d, err := c.Deployment(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.print(d, func() {
				names := newNamer(cmd.Context(), c)
				a.fields("ID", d.ID, "Project", names.project(d.ProjectID), "Release", names.release(d.ReleaseID), "Environment", names.environment(d.EnvironmentID),
					"State", string(d.State), "Task", d.TaskID, "Created by", d.CreatedBy, "Created", d.CreatedAt.Local().Format("2006-01-02 15:04:05"))
			})
		}}
	cmd.AddCommand(list, show)
	return cmd
}

// versionArg takes a release's version from the argument or --version.
func versionArg(args []string, flag string) (string, error) {
	if len(args) == 1 {
		if flag != "" && flag != args[0] {
			return "", fmt.Errorf("give the version once: as an argument or with --version")
		}
		return args[0], nil
	}
	if flag == "" {
		return "", fmt.Errorf("which release? give its version (or id) with --version")
	}
	return flag, nil
}

package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// runbookCommand manages and runs a project's runbooks.
func (a *app) runbookCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "runbook", Aliases: []string{"runbooks"},
		Short: "Manage and run a project's runbooks: operations processes without a release"}
	var project string
	cmd.PersistentFlags().StringVarP(&project, "project", "p", "", "project (name or id, required)")

	var scriptFile, script, description, syntax string
	var envs, roles []string
	var fromTemplate string
	var templateParams []string
	create := &cobra.Command{Use: "create NAME", Short: "Create a one-step runbook from a script or a step template (more steps: pulpo runbook step add)", Args: cobra.ExactArgs(1),
		Example: `  pulpo runbook create -p shop "Restart web" --script 'systemctl restart shop' --role web --environment Production`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (script == "") == (scriptFile == "") && fromTemplate == "" {
				return fmt.Errorf("give the script with exactly one of --script or --script-file, or make the step from a step template with --template")
			}
			if fromTemplate != "" && (script != "" || scriptFile != "") {
				return fmt.Errorf("--template makes the step do what the step template says: leave out --script and --script-file")
			}
			// The step is made as "runbook step add" makes one, from the
			// flags the two share.
			sf := stepFlags{name: args[0], script: script, scriptFile: scriptFile, syntax: syntax, roles: roles,
				fromTemplate: fromTemplate, templateParams: templateParams}
			if err := sf.prepare(cmd); err != nil {
				return err
			}
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			step, err := sf.build(a, cmd, c)
			if err != nil {
				return err
			}
			rb := model.Runbook{ProjectID: p.ID, Name: args[0], Description: description, Steps: []model.Step{step}}
			for _, n := range envs {
				e, err := c.FindEnvironment(cmd.Context(), n)
				if err != nil {
					return err
				}
				rb.EnvironmentIDs = append(rb.EnvironmentIDs, e.ID)
			}
			rb, err = c.CreateRunbook(cmd.Context(), rb)
			if err != nil {
				return err
			}
			return a.print(rb, func() {
				fmt.Fprintf(a.stdout, "Created runbook %q (%s); publish it to run it: pulpo runbook publish -p %s %q\n", rb.Name, rb.ID, p.Name, rb.Name)
			})
		}}
	create.Flags().StringVar(&script, "script", "", "the script's body")
	create.Flags().StringVar(&scriptFile, "script-file", "", "read the script from this file")
	create.Flags().StringVar(&syntax, "syntax", "bash", syntaxHelp)
	create.Flags().StringVar(&description, "description", "", "what it is for")
	create.Flags().StringVar(&fromTemplate, "template", "", "make the step from this step template (name or id), at its newest version")
	create.Flags().StringArrayVar(&templateParams, "parameter", nil, "with --template: NAME=VALUE, a parameter's value (repeat)")
	create.Flags().StringArrayVar(&envs, "environment", nil, "an environment it may run in (repeat; all when none)")
	create.Flags().StringArrayVar(&roles, "role", nil, "run on the targets with this role (repeat); without roles it runs on a worker")

	list := &cobra.Command{Use: "list", Short: "List a project's runbooks", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			rbs, err := c.Runbooks(cmd.Context(), p.ID)
			if err != nil {
				return err
			}
			return a.print(rbs, func() {
				rows := make([][]string, 0, len(rbs))
				for _, rb := range rbs {
					published := "not yet"
					if rb.PublishedSnapshotID != "" {
						published = rb.PublishedSnapshotID
					}
					rows = append(rows, []string{rb.ID, rb.Name, fmt.Sprint(len(rb.Steps)), published})
				}
				a.table([]string{"ID", "NAME", "STEPS", "PUBLISHED SNAPSHOT"}, rows)
			})
		}}
	publish := &cobra.Command{Use: "publish RUNBOOK", Short: "Publish a runbook: its steps and the project's variables, as they are now, are what runs", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			rb, err := c.FindRunbook(cmd.Context(), p.ID, args[0])
			if err != nil {
				return err
			}
			snap, err := c.PublishRunbook(cmd.Context(), rb.ID)
			if err != nil {
				return err
			}
			return a.print(snap, func() {
				fmt.Fprintf(a.stdout, "Published snapshot %s of runbook %q (%s)\n", snap.Version, rb.Name, snap.ID)
			})
		}}
	var environment string
	var watch bool
	var promptedArgs, skipSteps []string
	run := &cobra.Command{Use: "run RUNBOOK", Short: "Run a runbook's published snapshot in an environment", Args: cobra.ExactArgs(1),
		Example: `  pulpo runbook run -p shop "Restart web" --environment Production --watch`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			rb, err := c.FindRunbook(cmd.Context(), p.ID, args[0])
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
			d, err := c.RunRunbook(cmd.Context(), rb.ID, wire.RunRunbookRequest{EnvironmentID: env.ID, Variables: given, SkipSteps: skipSteps})
			if err != nil {
				return err
			}
			if !watch {
				return a.print(d, func() {
					fmt.Fprintf(a.stdout, "Running %s in %s: run %s, task %s\n", rb.Name, env.Name, d.ID, d.TaskID)
				})
			}
			if a.output == "text" {
				fmt.Fprintf(a.stdout, "Running %s in %s: run %s, task %s\n", rb.Name, env.Name, d.ID, d.TaskID)
			}
			return a.watch(cmd, c, d.TaskID)
		}}
	run.Flags().StringVar(&environment, "environment", "", "environment (name or id, required)")
	run.Flags().BoolVar(&watch, "watch", false, "follow the run's log until it ends")
	run.Flags().StringArrayVar(&promptedArgs, "variable", nil, "NAME=VALUE for a prompted variable (repeat)")
	run.Flags().StringArrayVar(&skipSteps, "skip-step", nil, "leave out this step (repeat)")
	run.MarkFlagRequired("environment")
	runs := &cobra.Command{Use: "runs RUNBOOK", Short: "List a runbook's runs, newest first", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			rb, err := c.FindRunbook(cmd.Context(), p.ID, args[0])
			if err != nil {
				return err
			}
			page, err := c.RunbookRuns(cmd.Context(), rb.ID)
			if err != nil {
				return err
			}
			return a.print(page, func() {
				names := newNamer(cmd.Context(), c)
				rows := make([][]string, 0, len(page.Items))
				for _, d := range page.Items {
					rows = append(rows, []string{d.ID, names.environment(d.EnvironmentID), string(d.State), d.CreatedBy, d.CreatedAt.Local().Format("2006-01-02 15:04:05"), d.TaskID})
				}
				a.table([]string{"RUN", "ENVIRONMENT", "STATE", "BY", "CREATED", "TASK"}, rows)
			})
		}}
	cmd.AddCommand(create, list, publish, run, runs, a.runbookUpdateTemplateCommand(&project),
		a.runbookShowCommand(&project), a.runbookDeleteCommand(&project), a.runbookStepCommand(&project))
	return cmd
}

package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// triggerCommand manages a project's triggers.
func (a *app) triggerCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "trigger", Aliases: []string{"triggers"},
		Short: "Manage a project's triggers: releases on package pushes, deployments on a schedule"}
	var project string
	cmd.PersistentFlags().StringVarP(&project, "project", "p", "", "project (name or id, required)")

	var onPackage, cron, timeZone, from, runbook string
	var to, onMachine, roles []string
	var disabled bool
	create := &cobra.Command{Use: "create NAME", Short: "Create a trigger", Args: cobra.ExactArgs(1),
		Long: `Create a trigger.

With --on-package, pushing a version of that package to the built-in feed
creates a release of the project numbered as the package, with that version
for the steps taking the package; the lifecycle's automatic phases then
deploy it.

With --cron, the trigger deploys on a schedule (five cron fields, or six
with seconds first, read in --time-zone): the release last deployed to
--from, or the project's newest release, to every --to environment.`,
		Example: `  pulpo trigger create -p shop "On push" --on-package shop-web
  pulpo trigger create -p shop "Nightly Test" --cron "0 2 * * 1-5" --time-zone Europe/Berlin --from Dev --to Test
  pulpo trigger create -p shop "Hourly cleanup" --cron "@hourly" --runbook "Clean caches" --to Production
  pulpo trigger create -p shop "New web servers" --on-machine healthy --role web --to Production`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			t := model.Trigger{ProjectID: p.ID, Name: args[0], Disabled: disabled, PackageID: onPackage, Cron: cron, TimeZone: timeZone}
			switch {
			case btoi(onPackage != "")+btoi(cron != "")+btoi(len(onMachine) > 0) > 1:
				return fmt.Errorf("a trigger does one thing: give --on-package, --cron or --on-machine")
			case onPackage != "":
				t.Kind = model.TriggerPackage
			case cron != "":
				t.Kind = model.TriggerSchedule
			case len(onMachine) > 0:
				t.Kind, t.MachineEvents, t.Roles = model.TriggerMachine, onMachine, roles
			default:
				return fmt.Errorf("say what sets the trigger off: --on-package ID, --cron EXPRESSION or --on-machine joined|healthy")
			}
			if runbook != "" {
				rb, err := c.FindRunbook(cmd.Context(), p.ID, runbook)
				if err != nil {
					return err
				}
				t.RunbookID = rb.ID
			}
			if from != "" {
				env, err := c.FindEnvironment(cmd.Context(), from)
				if err != nil {
					return err
				}
				t.SourceEnvironmentID = env.ID
			}
			for _, n := range to {
				env, err := c.FindEnvironment(cmd.Context(), n)
				if err != nil {
					return err
				}
				t.TargetEnvironmentIDs = append(t.TargetEnvironmentIDs, env.ID)
			}
			t, err = c.CreateTrigger(cmd.Context(), t)
			if err != nil {
				return err
			}
			return a.print(t, func() {
				next := ""
				if t.NextRunAt != nil {
					next = ", next run " + t.NextRunAt.Local().Format("2006-01-02 15:04:05 MST")
				}
				fmt.Fprintf(a.stdout, "Created trigger %q (%s)%s\n", t.Name, t.ID, next)
			})
		}}
	create.Flags().StringVar(&onPackage, "on-package", "", "create a release whenever a version of this package is pushed")
	create.Flags().StringVar(&cron, "cron", "", `deploy on this schedule, e.g. "0 9 * * 1-5"`)
	create.Flags().StringVar(&timeZone, "time-zone", "", "the schedule's IANA time zone, e.g. Europe/Berlin (default UTC)")
	create.Flags().StringVar(&from, "from", "", "with --cron: deploy the release last deployed here (default: the newest release)")
	create.Flags().StringArrayVar(&to, "to", nil, "with --cron: deploy to this environment (repeat)")
	create.Flags().StringArrayVar(&onMachine, "on-machine", nil, "deploy the current release to a target that joins (joined) or turns healthy (healthy) in a --to environment (all when none) (repeat)")
	create.Flags().StringArrayVar(&roles, "role", nil, "with --on-machine: only targets with this role (repeat)")
	create.Flags().StringVar(&runbook, "runbook", "", "with --cron: run this runbook in every --to environment instead of deploying")
	create.Flags().BoolVar(&disabled, "disabled", false, "create it switched off")

	list := &cobra.Command{Use: "list", Short: "List a project's triggers", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			ts, err := c.Triggers(cmd.Context(), p.ID)
			if err != nil {
				return err
			}
			return a.print(ts, func() {
				rows := make([][]string, 0, len(ts))
				for _, t := range ts {
					what := "on push of " + t.PackageID
					if t.Kind == model.TriggerMachine {
						what = "machines " + strings.Join(t.MachineEvents, ", ")
					}
					if t.Kind == model.TriggerSchedule {
						what = "cron " + t.Cron
						if t.RunbookID != "" {
							what = "runbook " + t.RunbookID + ", " + what
						}
						if t.TimeZone != "" {
							what += " (" + t.TimeZone + ")"
						}
					}
					state := "enabled"
					if t.Disabled {
						state = "disabled"
					}
					next, last := "", ""
					if t.NextRunAt != nil {
						next = t.NextRunAt.Local().Format("2006-01-02 15:04:05")
					}
					if t.LastRunAt != nil {
						last = t.LastRunAt.Local().Format("2006-01-02 15:04:05") + ": " + t.LastResult
					}
					rows = append(rows, []string{t.ID, t.Name, what, state, next, last})
				}
				a.table([]string{"ID", "NAME", "WHEN", "STATE", "NEXT RUN", "LAST RUN"}, rows)
			})
		}}
	run := &cobra.Command{Use: "run TRIGGER", Short: "Fire a trigger now", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			t, err := c.FindTrigger(cmd.Context(), p.ID, args[0])
			if err != nil {
				return err
			}
			res, err := c.RunTrigger(cmd.Context(), t.ID)
			if err != nil {
				return err
			}
			return a.print(res, func() {
				for _, d := range res.Deployments {
					fmt.Fprintf(a.stdout, "Queued deployment %s (task %s)\n", d.ID, d.TaskID)
				}
				for _, r := range res.Releases {
					fmt.Fprintf(a.stdout, "Created release %s (%s)\n", r.Version, r.ID)
				}
			})
		}}
	setEnabled := func(use string, disable bool) *cobra.Command {
		verb := strings.ToUpper(use[:1]) + use[1:] + "d"
		return &cobra.Command{Use: use + " TRIGGER", Short: strings.ToUpper(use[:1]) + use[1:] + " a trigger", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, p, err := a.project(cmd, project)
				if err != nil {
					return err
				}
				t, err := c.FindTrigger(cmd.Context(), p.ID, args[0])
				if err != nil {
					return err
				}
				t.Disabled = disable
				if t, err = c.UpdateTrigger(cmd.Context(), t); err != nil {
					return err
				}
				return a.print(t, func() { fmt.Fprintf(a.stdout, "%s trigger %q\n", verb, t.Name) })
			}}
	}
	del := &cobra.Command{Use: "delete TRIGGER", Short: "Delete a trigger", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			t, err := c.FindTrigger(cmd.Context(), p.ID, args[0])
			if err != nil {
				return err
			}
			if err := c.DeleteTrigger(cmd.Context(), t.ID); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Deleted trigger %q\n", t.Name)
			return nil
		}}
	cmd.AddCommand(create, list, run, setEnabled("enable", false), setEnabled("disable", true), del)
	return cmd
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

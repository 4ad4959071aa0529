package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// runbookView is what "runbook show" prints: the runbook with its
// published snapshot and whether the draft has changed since.
type runbookView struct {
	model.Runbook
	// PublishedSnapshot is the snapshot runs use; nil until the first publish.
	PublishedSnapshot *snapshotView `json:"publishedSnapshot,omitempty"`
	// DraftChanged says the draft's steps are not those of the published
	// snapshot (always true before the first publish of a runbook with steps).
	DraftChanged bool `json:"draftChanged"`
}

type snapshotView struct {
	ID        string `json:"id"`
	Version   string `json:"version"`
	CreatedAt string `json:"createdAt"`
	CreatedBy string `json:"createdBy,omitempty"`
}

// runbookShowCommand shows a runbook's draft steps and publish state.
func (a *app) runbookShowCommand(project *string) *cobra.Command {
	return &cobra.Command{Use: "show RUNBOOK", Short: "Show a runbook: its draft steps, where it may run, and whether the draft differs from what runs", Args: cobra.ExactArgs(1),
		Example: `  pulpo runbook show -p shop "Restart web"
  pulpo runbook show -p shop "Restart web" -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, *project)
			if err != nil {
				return err
			}
			rb, err := c.FindRunbook(cmd.Context(), p.ID, args[0])
			if err != nil {
				return err
			}
			v := runbookView{Runbook: rb, DraftChanged: len(rb.Steps) > 0}
			var snapErr error
			if rb.PublishedSnapshotID != "" {
				snap, err := c.Release(cmd.Context(), rb.PublishedSnapshotID)
				if err != nil {
					// Reading snapshots takes release-view permission; the
					// rest of the runbook is still worth showing.
					snapErr = err
					v.PublishedSnapshot = &snapshotView{ID: rb.PublishedSnapshotID}
				} else {
					v.PublishedSnapshot = &snapshotView{ID: snap.ID, Version: snap.Version, CreatedBy: snap.CreatedBy,
						CreatedAt: snap.CreatedAt.Local().Format("2006-01-02 15:04:05")}
					v.DraftChanged = !model.SameSteps(rb.Steps, snap.ProcessSnapshot.Steps)
				}
			}
			return a.print(v, func() {
				envs := "all"
				if len(rb.EnvironmentIDs) > 0 {
					names := newNamer(cmd.Context(), c)
					var list []string
					for _, id := range rb.EnvironmentIDs {
						list = append(list, names.environment(id))
					}
					envs = strings.Join(list, ", ")
				}
				published, draft := "not yet", "not published"
				switch {
				case snapErr != nil:
					published = fmt.Sprintf("%s (cannot read it: %v)", rb.PublishedSnapshotID, snapErr)
					draft = "unknown"
				case v.PublishedSnapshot != nil:
					s := v.PublishedSnapshot
					published = fmt.Sprintf("snapshot %s (%s), %s", s.Version, s.ID, s.CreatedAt)
					if s.CreatedBy != "" {
						published += " by " + s.CreatedBy
					}
					draft = "same steps as the published snapshot"
					if v.DraftChanged {
						draft = "changed since: runs use the published snapshot until you publish again"
					}
				}
				a.fields("ID", rb.ID, "Name", rb.Name, "Project", p.Name, "Description", rb.Description,
					"Environments", envs, "Published", published, "Draft", draft)
				fmt.Fprintln(a.stdout)
				a.stepTable(rb.Steps, "pulpo runbook step add")
				if v.DraftChanged {
					fmt.Fprintf(a.stdout, "\n%s\n", publishHint(p.Name, rb.Name))
				}
			})
		}}
}

func publishHint(project, runbook string) string {
	return fmt.Sprintf("Runs use the published snapshot: publish the draft to make them use it: pulpo runbook publish -p %s %q", quoteArg(project), runbook)
}

// quoteArg quotes a name for a shell command line when it needs it.
func quoteArg(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"'$`\\") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// runbookDeleteCommand deletes a runbook; the server refuses one with runs.
func (a *app) runbookDeleteCommand(project *string) *cobra.Command {
	return &cobra.Command{Use: "delete RUNBOOK", Short: "Delete a runbook that has never run, with its published snapshots", Args: cobra.ExactArgs(1),
		Example: `  pulpo runbook delete -p shop "Restart web"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, *project)
			if err != nil {
				return err
			}
			rb, err := c.FindRunbook(cmd.Context(), p.ID, args[0])
			if err != nil {
				return err
			}
			// The server's refusal (runs on record) names the runbook.
			if err := c.DeleteRunbook(cmd.Context(), rb.ID); err != nil {
				return err
			}
			return a.print(rb, func() { fmt.Fprintf(a.stdout, "Deleted runbook %q (%s) of %s\n", rb.Name, rb.ID, p.Name) })
		}}
}

// runbookStepCommand edits a runbook's draft steps with the flags of
// "process step add".
func (a *app) runbookStepCommand(project *string) *cobra.Command {
	var runbook string
	cmd := &cobra.Command{Use: "step", Short: "Add, list and remove a runbook's steps (its draft: publish to run the changes)"}
	cmd.PersistentFlags().StringVar(&runbook, "runbook", "", "runbook (name or id, required)")
	cmd.MarkPersistentFlagRequired("runbook")
	find := func(cmd *cobra.Command) (*client.Client, model.Project, model.Runbook, error) {
		c, p, err := a.project(cmd, *project)
		if err != nil {
			return nil, p, model.Runbook{}, err
		}
		rb, err := c.FindRunbook(cmd.Context(), p.ID, runbook)
		return c, p, rb, err
	}
	list := &cobra.Command{Use: "list", Short: "List a runbook's draft steps in order", Args: cobra.NoArgs,
		Example: `  pulpo runbook step list -p shop --runbook "Restart web"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, _, rb, err := find(cmd)
			if err != nil {
				return err
			}
			return a.print(nonNil(rb.Steps), func() { a.stepTable(rb.Steps, "pulpo runbook step add") })
		}}
	var sf stepFlags
	add := &cobra.Command{Use: "add", Short: "Add a step to a runbook's draft: the same steps and flags as \"pulpo process step add\"", Args: cobra.NoArgs,
		Example: `  pulpo runbook step add -p shop --runbook "Restart web" --name Restart --script 'systemctl restart shop' --role web
  pulpo runbook step add -p shop --runbook "Restart web" --name Check --syntax python --script 'print(get_octopusvariable("Octopus.Environment.Name"))'
  pulpo runbook step add -p shop --runbook "Restart web" --name "Check web" --health-check --role web --position 2
  pulpo runbook step add -p shop --runbook "Restart web" --name "Mail ops" --condition failure --email-to-team Ops --email-subject 'Restart failed in #{Octopus.Environment.Name}'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := sf.prepare(cmd); err != nil {
				return err
			}
			c, p, rb, err := find(cmd)
			if err != nil {
				return err
			}
			s, err := sf.build(a, cmd, c)
			if err != nil {
				return err
			}
			var at int
			rb.Steps, at = sf.insert(rb.Steps, s)
			rb, err = c.UpdateRunbook(cmd.Context(), rb)
			if err != nil {
				return err
			}
			return a.print(rb, func() {
				fmt.Fprintf(a.stdout, "Added step %q to runbook %q as step %d\n%s\n", sf.name, rb.Name, at+1, publishHint(p.Name, rb.Name))
			})
		}}
	sf.register(add, true)
	remove := &cobra.Command{Use: "remove STEP", Short: "Remove a step (by name or id) from a runbook's draft", Args: cobra.ExactArgs(1),
		Example: `  pulpo runbook step remove -p shop --runbook "Restart web" Check`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, rb, err := find(cmd)
			if err != nil {
				return err
			}
			var found bool
			if rb.Steps, found = removeStep(rb.Steps, args[0]); !found {
				return fmt.Errorf("runbook %s has no step %q", rb.Name, args[0])
			}
			rb, err = c.UpdateRunbook(cmd.Context(), rb)
			if err != nil {
				return err
			}
			return a.print(rb, func() {
				fmt.Fprintf(a.stdout, "Removed step %q from runbook %q\n%s\n", args[0], rb.Name, publishHint(p.Name, rb.Name))
			})
		}}
	cmd.AddCommand(list, add, remove)
	return cmd
}

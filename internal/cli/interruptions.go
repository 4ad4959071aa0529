package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// interruptionCommand answers what waiting deployments ask: manual
// interventions and guided failure.
func (a *app) interruptionCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "interruption", Aliases: []string{"interruptions"},
		Short: "See and answer what waiting deployments ask: manual interventions and guided failure"}

	var task string
	var all bool
	list := &cobra.Command{Use: "list", Short: "List open questions (with --all, answered ones too), newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := c.Interruptions(cmd.Context(), task, !all, client.ListOptions{})
			if err != nil {
				return err
			}
			return a.print(p, func() {
				rows := make([][]string, 0, len(p.Items))
				for _, i := range p.Items {
					state := "waiting"
					if !i.Pending() {
						state = i.Answer + " by " + i.AnsweredBy
					} else if i.TakenBy != "" {
						state = "taken by " + i.TakenBy
					}
					rows = append(rows, []string{i.ID, i.TaskID, string(i.Kind), i.Title, state, strings.ToLower(strings.Join(i.Answers, "|"))})
				}
				a.table([]string{"ID", "TASK", "KIND", "QUESTION", "STATE", "ANSWERS"}, rows)
			})
		}}
	list.Flags().StringVar(&task, "task", "", "only this task's")
	list.Flags().BoolVar(&all, "all", false, "answered ones too")

	show := &cobra.Command{Use: "show INTERRUPTION", Short: "Show a question, its instructions and its answer", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			i, err := c.Interruption(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.print(i, func() { a.interruptionFields(i) })
		}}

	take := &cobra.Command{Use: "take INTERRUPTION", Short: "Take responsibility for a question", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			i, err := c.TakeResponsibility(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.print(i, func() { fmt.Fprintf(a.stdout, "%s is yours (%s)\n", i.ID, i.Title) })
		}}

	var notes string
	answer := &cobra.Command{Use: "answer INTERRUPTION ANSWER",
		Short: "Answer a question: proceed or abort a manual intervention; retry, ignore, exclude or fail after a failure",
		Long: `Answer a question a waiting deployment asks; the deployment goes on at once.
A question is answered once: a second answer is refused.

A manual intervention takes proceed or abort; the answer, the notes and who
answered become the step's output variables (Manual.Approved, Manual.Notes,
Manual.ResponsibleUser.Username). After a failure under guided failure:
retry runs the step on that machine again, ignore carries on as if it had
not failed, exclude leaves the machine out of the rest of the deployment,
and fail fails the deployment.`,
		Example: `  pulpo interruption list
  pulpo interruption answer Interruptions-4 proceed --notes "checked the change window"
  pulpo interruption answer Interruptions-5 retry`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			i, err := c.AnswerInterruption(cmd.Context(), args[0], wire.AnswerRequest{Answer: args[1], Notes: notes})
			if err != nil {
				return err
			}
			return a.print(i, func() { fmt.Fprintf(a.stdout, "Answered %s: %s; task %s goes on\n", i.ID, i.Answer, i.TaskID) })
		}}
	answer.Flags().StringVar(&notes, "notes", "", "why; kept with the answer and given to the deployment")
	cmd.AddCommand(list, show, take, answer)
	return cmd
}

func (a *app) interruptionFields(i model.Interruption) {
	answered := ""
	if i.AnsweredAt != nil {
		answered = i.AnsweredAt.Local().Format("2006-01-02 15:04:05")
	}
	a.fields("ID", i.ID, "Task", i.TaskID, "Kind", string(i.Kind), "Question", i.Title,
		"Instructions", i.Instructions, "Error", i.Error, "Responsible teams", strings.Join(i.ResponsibleTeams, ", "),
		"Answers", strings.ToLower(strings.Join(i.Answers, ", ")), "Taken by", i.TakenBy,
		"Answer", i.Answer, "Notes", i.Notes, "Answered by", i.AnsweredBy, "Answered", answered)
}

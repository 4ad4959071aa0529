package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// freezeCommand manages deployment freezes.
func (a *app) freezeCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "freeze", Aliases: []string{"freezes"},
		Short: "Manage deployment freezes: windows in which deployments are refused"}

	var start, end, description string
	var envs, projects []string
	create := &cobra.Command{Use: "create NAME", Short: "Freeze deployments from --start to --end", Args: cobra.ExactArgs(1),
		Long: `Freeze deployments from --start to --end, to the environments given (all when
none) of the projects given (all when none). A deployment asked for in the
window is refused with the freeze's name and end; one that must go anyway is
deployed with --override-freeze. Deployments a lifecycle makes by itself
wait in the queue until the freeze ends.`,
		Example: `  pulpo freeze create "Year end" --start "2026-12-20 00:00" --end "2027-01-04 00:00" --environment Production`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			f := model.DeploymentFreeze{Name: args[0], Description: description}
			now := time.Now()
			from, err := parseWhen("--start", start, now)
			if err != nil {
				return err
			}
			to, err := parseWhen("--end", end, now)
			if err != nil {
				return err
			}
			if from == nil || to == nil {
				return fmt.Errorf("give both --start and --end")
			}
			f.Start, f.End = *from, *to
			for _, n := range envs {
				e, err := c.FindEnvironment(cmd.Context(), n)
				if err != nil {
					return err
				}
				f.EnvironmentIDs = append(f.EnvironmentIDs, e.ID)
			}
			for _, n := range projects {
				p, err := c.FindProject(cmd.Context(), n)
				if err != nil {
					return err
				}
				f.ProjectIDs = append(f.ProjectIDs, p.ID)
			}
			f, err = c.CreateFreeze(cmd.Context(), f)
			if err != nil {
				return err
			}
			return a.print(f, func() {
				fmt.Fprintf(a.stdout, "Deployments are frozen by %q (%s) from %s to %s\n", f.Name, f.ID,
					f.Start.Local().Format("2006-01-02 15:04"), f.End.Local().Format("2006-01-02 15:04"))
			})
		}}
	create.Flags().StringVar(&start, "start", "", `when it begins: RFC 3339, "YYYY-MM-DD HH:MM" local time, or +DURATION`)
	create.Flags().StringVar(&end, "end", "", "when it ends (same forms)")
	create.Flags().StringVar(&description, "description", "", "why")
	create.Flags().StringArrayVar(&envs, "environment", nil, "an environment it freezes (repeat; all when none)")
	create.Flags().StringArrayVar(&projects, "project", nil, "a project it freezes (repeat; all when none)")

	list := &cobra.Command{Use: "list", Short: "List deployment freezes", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := c.Freezes(cmd.Context(), client.ListOptions{})
			if err != nil {
				return err
			}
			names := map[string]string{}
			if envs, err := c.Environments(cmd.Context()); err == nil {
				for _, e := range envs {
					names[e.ID] = e.Name
				}
			}
			if projects, err := c.Projects(cmd.Context(), client.ListOptions{}); err == nil {
				for _, p := range projects {
					names[p.ID] = p.Name
				}
			}
			return a.print(p, func() {
				rows := make([][]string, 0, len(p.Items))
				for _, f := range p.Items {
					rows = append(rows, []string{f.ID, f.Name, f.Start.Local().Format("2006-01-02 15:04"), f.End.Local().Format("2006-01-02 15:04"),
						orAll(f.EnvironmentIDs, names), orAll(f.ProjectIDs, names)})
				}
				a.table([]string{"ID", "NAME", "START", "END", "ENVIRONMENTS", "PROJECTS"}, rows)
			})
		}}
	del := &cobra.Command{Use: "delete FREEZE", Short: "Lift a deployment freeze (by name or id)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.DeleteFreeze(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Lifted the deployment freeze %s\n", args[0])
			return nil
		}}
	cmd.AddCommand(create, list, del)
	return cmd
}

// orAll names the ids, or says "all" for none.
func orAll(ids []string, names map[string]string) string {
	if len(ids) == 0 {
		return "all"
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		if out[i] = names[id]; out[i] == "" {
			out[i] = id
		}
	}
	return strings.Join(out, ", ")
}

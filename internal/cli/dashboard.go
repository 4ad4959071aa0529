package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// dashboardCommand shows what is deployed where.
func (a *app) dashboardCommand() *cobra.Command {
	var previous bool
	cmd := &cobra.Command{Use: "dashboard", Short: "Show what is deployed where: projects by environment", Args: cobra.NoArgs,
		Long: `Show, for every project and environment, the release deployed there and how
its latest deployment went (running, waiting, failed). With --previous each
cell also names the release before it: what "pulpo release deploy --version
X" would roll back to.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			d, err := c.Dashboard(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(d, func() {
				cells := map[[2]string]model.DashboardCell{}
				for _, c := range d.Cells {
					cells[[2]string{c.ProjectID, c.EnvironmentID}] = c
				}
				header := []string{"PROJECT"}
				for _, e := range d.Environments {
					header = append(header, e.Name)
				}
				var rows [][]string
				for _, p := range d.Projects {
					row := []string{p.Name}
					for _, e := range d.Environments {
						row = append(row, dashboardText(cells[[2]string{p.ID, e.ID}], previous))
					}
					rows = append(rows, row)
				}
				a.table(header, rows)
			})
		}}
	cmd.Flags().BoolVar(&previous, "previous", false, "also show the previous release of each cell")
	return cmd
}

// dashboardText is a cell: the current release, and the latest deployment
// when it is not that one's success.
func dashboardText(c model.DashboardCell, previous bool) string {
	text := "-"
	if c.Current != nil {
		text = c.Current.Version
	}
	if l := c.Latest; l != nil && (c.Current == nil || l.DeploymentID != c.Current.DeploymentID) {
		text += fmt.Sprintf(" (%s %s)", l.Version, l.State)
	}
	if previous && c.Previous != nil {
		text += " ← " + c.Previous.Version
	}
	return text
}

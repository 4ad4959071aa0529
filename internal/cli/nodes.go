package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// nodeCommand shows and drains server nodes.
func (a *app) nodeCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "node", Aliases: []string{"nodes"}, Short: "See the server nodes and drain one before maintenance"}
	list := &cobra.Command{Use: "list", Short: "List server nodes: heartbeat, slots, tasks held, drained or not", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			nodes, err := c.Nodes(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(nodes, func() {
				rows := make([][]string, 0, len(nodes))
				for _, n := range nodes {
					state := "alive"
					switch {
					case !n.Alive:
						state = "gone"
					case n.Draining && len(n.Tasks) == 0:
						state = "drained"
					case n.Draining:
						state = "draining"
					}
					rows = append(rows, []string{n.Name, state, n.Version, ago(n.LastSeenAt), fmt.Sprintf("%d/%d", len(n.Tasks), n.Slots),
						strings.Join(n.Tasks, ","), n.APIURL})
				}
				a.table([]string{"NODE", "STATE", "VERSION", "LAST HEARTBEAT", "TASKS", "HOLDS", "URL"}, rows)
			})
		}}
	var wait time.Duration
	drain := &cobra.Command{Use: "drain NODE", Short: "Stop a node taking new tasks; it finishes those it runs", Args: cobra.ExactArgs(1),
		Long: `Drain a node before maintenance: it takes no new tasks and finishes the ones
it runs; the other nodes take the queue. With --wait, wait until it holds no
task, then stop it safely. A drained node stays drained across restarts until
"pulpo node resume".`,
		Example: `  pulpo node drain node-a --wait 30m && systemctl stop pulpo`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			n, err := c.DrainNode(cmd.Context(), args[0], true)
			if err != nil {
				return err
			}
			deadline := time.Now().Add(wait)
			for wait > 0 && len(n.Tasks) > 0 {
				if time.Now().After(deadline) {
					return fmt.Errorf("node %s still holds %d tasks (%s) after %s", n.Name, len(n.Tasks), strings.Join(n.Tasks, ", "), wait)
				}
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(time.Second):
				}
				nodes, err := c.Nodes(cmd.Context())
				if err != nil {
					return err
				}
				for _, x := range nodes {
					if x.Name == n.Name {
						n = x
					}
				}
			}
			return a.print(n, func() {
				if len(n.Tasks) == 0 {
					fmt.Fprintf(a.stdout, "Node %s is drained: it holds no task and takes none.\n", n.Name)
				} else {
					fmt.Fprintf(a.stdout, "Node %s is draining: it takes no new task and still runs %s.\n", n.Name, strings.Join(n.Tasks, ", "))
				}
			})
		}}
	drain.Flags().DurationVar(&wait, "wait", 0, "wait up to this long until the node holds no task")
	resume := &cobra.Command{Use: "resume NODE", Short: "Let a drained node take tasks again", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			n, err := c.DrainNode(cmd.Context(), args[0], false)
			if err != nil {
				return err
			}
			return a.print(n, func() { fmt.Fprintf(a.stdout, "Node %s takes tasks again.\n", n.Name) })
		}}
	cmd.AddCommand(list, drain, resume)
	return cmd
}

// ago says how long ago a time was, briefly.
func ago(t time.Time) string {
	d := time.Since(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String() + " ago"
}

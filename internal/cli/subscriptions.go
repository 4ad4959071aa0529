package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// subscriptionCommand manages webhook subscriptions to events.
func (a *app) subscriptionCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "subscription", Aliases: []string{"subscriptions"},
		Short: "Send events (deployments started, succeeded, failed; interventions waiting; machines unhealthy; certificates expiring) to webhooks"}

	var webhook string
	var events, projects, envs, emails []string
	var secretStdin bool
	create := &cobra.Command{Use: "create NAME", Short: "Subscribe a webhook to events", Args: cobra.ExactArgs(1),
		Long: `Subscribe a webhook to events. Each event is POSTed as JSON with the headers
X-Pulpo-Event, X-Pulpo-Delivery, X-Pulpo-Timestamp and, with a secret,
X-Pulpo-Signature: "sha256=" and the hex HMAC-SHA256 of "<timestamp>.<body>"
under the secret. A delivery that does not get a 2xx answer is retried
after 1 s, 10 s, 1 min, 5 min, 30 min, 2 h and 4 h; "pulpo subscription
deliveries" shows every event and its attempts.

Events: ` + strings.Join(eventNames(), ", "),
		Example: `  echo "$HOOK_SECRET" | pulpo subscription create "Release page" --webhook https://status.example.com/hooks/pulpo \
      --event deployment-succeeded --event deployment-failed --secret-stdin`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			s := model.Subscription{Name: args[0], WebhookURL: webhook, EmailTo: emails}
			for _, e := range events {
				s.Events = append(s.Events, model.EventKind(e))
			}
			for _, n := range projects {
				p, err := c.FindProject(cmd.Context(), n)
				if err != nil {
					return err
				}
				s.ProjectIDs = append(s.ProjectIDs, p.ID)
			}
			for _, n := range envs {
				e, err := c.FindEnvironment(cmd.Context(), n)
				if err != nil {
					return err
				}
				s.EnvironmentIDs = append(s.EnvironmentIDs, e.ID)
			}
			if secretStdin {
				line, err := bufio.NewReader(os.Stdin).ReadString('\n')
				if err != nil && err != io.EOF {
					return fmt.Errorf("read the secret: %w", err)
				}
				if s.Secret = strings.TrimRight(line, "\r\n"); s.Secret == "" {
					return fmt.Errorf("--secret-stdin read an empty secret")
				}
			}
			s, err = c.CreateSubscription(cmd.Context(), s)
			if err != nil {
				return err
			}
			return a.print(s, func() { fmt.Fprintf(a.stdout, "Created subscription %q (%s)\n", s.Name, s.ID) })
		}}
	create.Flags().StringVar(&webhook, "webhook", "", "the URL events are POSTed to")
	create.Flags().StringArrayVar(&emails, "email", nil, "an address events are mailed to (repeat; the server needs --smtp-host)")
	create.Flags().StringArrayVar(&events, "event", nil, "an event to send (repeat)")
	create.Flags().StringArrayVar(&projects, "project", nil, "only events of this project (repeat)")
	create.Flags().StringArrayVar(&envs, "environment", nil, "only events of this environment (repeat)")
	create.Flags().BoolVar(&secretStdin, "secret-stdin", false, "read the signing secret from the first line of standard input")

	list := &cobra.Command{Use: "list", Short: "List subscriptions", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			subs, err := c.Subscriptions(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(subs, func() {
				rows := make([][]string, 0, len(subs))
				for _, s := range subs {
					var evs []string
					for _, e := range s.Events {
						evs = append(evs, string(e))
					}
					secret := "no"
					if s.HasSecret {
						secret = "set"
					}
					rows = append(rows, []string{s.ID, s.Name, s.WebhookURL, strings.Join(s.EmailTo, ", "), strings.Join(evs, ", "), secret})
				}
				a.table([]string{"ID", "NAME", "WEBHOOK", "EMAIL", "EVENTS", "SECRET"}, rows)
			})
		}}
	deliveries := &cobra.Command{Use: "deliveries SUBSCRIPTION", Short: "Show a subscription's delivery log, newest first", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, s, err := clientAndFind(a, cmd.Context(), (*client.Client).FindSubscription, args[0])
			if err != nil {
				return err
			}
			p, err := c.Deliveries(cmd.Context(), s.ID, client.ListOptions{Take: 100})
			if err != nil {
				return err
			}
			return a.print(p, func() {
				rows := make([][]string, 0, len(p.Items))
				for _, d := range p.Items {
					status := ""
					if d.LastStatus > 0 {
						status = fmt.Sprint(d.LastStatus)
					}
					rows = append(rows, []string{d.ID, string(d.Event), d.Channel, string(d.State), fmt.Sprint(d.Attempts), status,
						d.CreatedAt.Local().Format("2006-01-02 15:04:05"), d.LastError})
				}
				a.table([]string{"ID", "EVENT", "CHANNEL", "STATE", "ATTEMPTS", "HTTP", "CREATED", "LAST ERROR"}, rows)
			})
		}}
	test := &cobra.Command{Use: "test SUBSCRIPTION", Short: "Send a ping event to the webhook", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, s, err := clientAndFind(a, cmd.Context(), (*client.Client).FindSubscription, args[0])
			if err != nil {
				return err
			}
			d, err := c.TestSubscription(cmd.Context(), s.ID)
			if err != nil {
				return err
			}
			return a.print(d, func() {
				fmt.Fprintf(a.stdout, "Queued ping %s; see it with pulpo subscription deliveries %q\n", d.ID, s.Name)
			})
		}}
	del := &cobra.Command{Use: "delete SUBSCRIPTION", Short: "Delete a subscription and its delivery log", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, s, err := clientAndFind(a, cmd.Context(), (*client.Client).FindSubscription, args[0])
			if err != nil {
				return err
			}
			if err := c.DeleteSubscription(cmd.Context(), s.ID); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Deleted subscription %q\n", s.Name)
			return nil
		}}
	cmd.AddCommand(create, list, deliveries, test, del)
	return cmd
}

func eventNames() []string {
	out := make([]string, len(model.EventKinds))
	for i, e := range model.EventKinds {
		out[i] = string(e)
	}
	return out
}

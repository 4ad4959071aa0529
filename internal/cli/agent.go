package cli

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/agent"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// pollingAddress accepts "host:port" or a URL such as https://host:10943.
func pollingAddress(s string) (string, error) {
	addr := s
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("%q is not an address: give host:port", s)
		}
		addr = u.Host
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		// Named as given: a URL without its port is still recognisable.
		return "", fmt.Errorf("%q is not host:port (the server's polling port, 10943 by default)", s)
	}
	return addr, nil
}

func (a *app) agentCommand() *cobra.Command {
	var home, listen, name string
	var trust, alsoPoll []string
	cmd := &cobra.Command{Use: "agent", Short: "Run an agent on a deployment target or worker",
		Long: `Run an agent: the program on a deployment target or worker that runs the
server's scripts and receives its files.

A listening agent (--listen) accepts connections from the servers it trusts.
A polling agent (--server) connects to a server's polling port and takes the
server's calls over that connection, so it needs no inbound port. With
several server nodes it connects to each (--also-poll, and every node it
reaches tells it of the others), so whichever node runs a task reaches it. Either way
the agent obeys only servers whose certificate thumbprint it trusts (--trust),
and the server talks only to the agent certificate it has registered.

"pulpo agent register" does all of this for you and saves it in --home, so
later a plain "pulpo agent --home DIR" starts it the same way.`,
		Example: `  pulpo agent --listen 0.0.0.0:10933 --trust 9F2C…        # then: pulpo machine add … --listening
  pulpo agent --server pulpo.internal:10943 --trust 9F2C…   # polling
  pulpo agent --server node-a:10943 --also-poll node-b:10943 --trust 9F2C…   # several nodes
  pulpo agent register --server http://pulpo:8080 --api-key API-… --environment Dev --role web
  pulpo agent --home ./pulpo-agent`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			settings, err := agent.LoadSettings(home)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("listen") {
				settings.Listen = listen
			}
			// --server is the root flag; for an agent it is the polling
			// address, and only when given here (PULPO_SERVER is the API's).
			if cmd.Flags().Changed("server") {
				if settings.Server, err = pollingAddress(a.server); err != nil {
					return err
				}
			}
			if len(trust) > 0 {
				settings.TrustedServers = trust
			}
			if len(alsoPoll) > 0 {
				settings.AlsoPoll = alsoPoll
			}
			if name != "" {
				settings.Name = name
			}
			ag, err := agent.New(agent.Config{Home: home, Settings: settings, Version: a.version,
				Logger: slog.New(slog.NewTextHandler(a.stderr, nil))})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Pulpo agent %s, certificate thumbprint %s\n", a.version, ag.Thumbprint())
			return ag.Run(cmd.Context())
		}}
	cmd.PersistentFlags().StringVar(&home, "home", "./pulpo-agent", "the agent's folder: certificate, settings, script workspaces, files")
	cmd.Flags().StringVar(&listen, "listen", "", "accept servers on this address (listening mode), e.g. 0.0.0.0:10933")
	cmd.Flags().StringArrayVar(&trust, "trust", nil, "thumbprint of a server to obey (repeat for several)")
	cmd.Flags().StringArrayVar(&alsoPoll, "also-poll", nil, "another node's polling address (host:port) to connect to as well (repeat); nodes also tell the agent of each other")
	cmd.PersistentFlags().StringVar(&name, "name", "", "the agent's name (default the host name)")

	showThumb := &cobra.Command{Use: "show-thumbprint", Short: "Print the agent's certificate thumbprint (made on first use)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := agent.Identity(home, name)
			if err != nil {
				return err
			}
			return a.print(map[string]string{"thumbprint": id.Thumbprint}, func() { fmt.Fprintln(a.stdout, id.Thumbprint) })
		}}
	cmd.AddCommand(showThumb, a.agentRegisterCommand(&home, &name))
	return cmd
}

// agentRegisterCommand registers this machine with a server and saves how to
// run the agent, so "pulpo agent" alone starts it.
func (a *app) agentRegisterCommand(home, name *string) *cobra.Command {
	var envs, roles, pools []string
	var mode, publicAddress, listen, pollingOverride, policy string
	cmd := &cobra.Command{Use: "register", Short: "Register this machine with a server and save the agent's settings",
		Long: `Register this machine with a Pulpo server (through its REST API, with
--server and --api-key as for every command), trust the server's certificate,
and save the agent's settings in --home. Then run "pulpo agent --home DIR".

Polling (the default) needs no inbound port: the agent connects to the
server's polling address, which the server reports. Listening needs
--public-address, where the server can reach the agent.`,
		Example: `  pulpo agent register --server http://pulpo:8080 --api-key API-… --environment Dev --role web
  pulpo agent register --mode listening --listen 0.0.0.0:10933 --public-address web-1.internal:10933 --environment Dev --role web
  pulpo agent register --worker-pool "Linux workers"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			root, err := c.Root(cmd.Context())
			if err != nil {
				return err
			}
			if root.ServerThumbprint == "" {
				return fmt.Errorf("the server did not say its certificate thumbprint; is it a Pulpo server?")
			}
			nm := *name
			if nm == "" {
				nm, _ = os.Hostname()
			}
			id, err := agent.Identity(*home, nm)
			if err != nil {
				return err
			}
			settings := agent.Settings{Name: nm, TrustedServers: []string{root.ServerThumbprint}}
			m := model.Machine{Name: nm, Thumbprint: id.Thumbprint, Roles: roles, Usage: model.UsageTarget}
			switch mode {
			case "polling":
				m.Kind = model.MachinePolling
				settings.Server = pollingOverride
				if settings.Server == "" {
					settings.Server = root.PollingAddress
				}
				if settings.Server == "" {
					return fmt.Errorf("the server accepts no polling agents (it was started with --polling-listen \"\"); register in listening mode instead")
				}
			case "listening":
				m.Kind = model.MachineListening
				if publicAddress == "" {
					return fmt.Errorf("a listening agent needs --public-address HOST:PORT, where the server can reach it")
				}
				m.Address, settings.Listen = publicAddress, listen
			default:
				return fmt.Errorf("--mode must be polling or listening, not %q", mode)
			}
			if err := placeMachine(cmd.Context(), c, &m, envs, pools, policy); err != nil {
				return err
			}
			m, err = c.CreateMachine(cmd.Context(), m)
			if err != nil {
				return err
			}
			if err := agent.SaveSettings(*home, settings); err != nil {
				return err
			}
			return a.print(m, func() {
				fmt.Fprintf(a.stdout, "Registered %s as %s (%s), trusting server %s\n", m.Name, m.ID, m.Kind, root.ServerThumbprint)
				fmt.Fprintf(a.stdout, "Start the agent with: pulpo agent --home %s\n", *home)
			})
		}}
	f := cmd.Flags()
	f.StringVar(&mode, "mode", "polling", "polling (the agent dials the server) or listening (the server dials the agent)")
	f.StringArrayVar(&envs, "environment", nil, "environment of this deployment target (repeat for several)")
	f.StringArrayVar(&roles, "role", nil, "role of this deployment target, such as web (repeat for several)")
	f.StringArrayVar(&pools, "worker-pool", nil, "register as a worker in this pool instead (repeat for several)")
	f.StringVar(&listen, "listen", "0.0.0.0:10933", "listening mode: the address to accept the server on")
	f.StringVar(&publicAddress, "public-address", "", "listening mode: HOST:PORT where the server reaches this agent")
	f.StringVar(&pollingOverride, "polling-address", "", "polling mode: the server's polling HOST:PORT, when it differs from what the server reports")
	f.StringVar(&policy, "policy", "", "machine policy (default the Default Machine Policy)")
	return cmd
}

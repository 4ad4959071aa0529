package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

func (a *app) machineCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "machine", Aliases: []string{"machines", "target", "targets"},
		Short: "Manage deployment targets and workers: agents and SSH machines"}
	var environment, role, usage string
	list := &cobra.Command{Use: "list", Short: "List machines with their health", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			filters := map[string]string{"role": role, "usage": usage}
			if environment != "" {
				e, err := c.FindEnvironment(cmd.Context(), environment)
				if err != nil {
					return err
				}
				filters["environmentId"] = e.ID
			}
			ms, err := c.Machines(cmd.Context(), client.ListOptions{Filters: filters})
			if err != nil {
				return err
			}
			return a.print(nonNil(ms), func() {
				names := newNamer(cmd.Context(), c)
				var rows [][]string
				for _, m := range ms {
					var where []string
					for _, id := range m.EnvironmentIDs {
						where = append(where, names.environment(id))
					}
					for _, id := range m.WorkerPoolIDs {
						where = append(where, names.pool(id))
					}
					health := string(m.Health.Status)
					if m.Disabled {
						health = "Disabled"
					}
					rows = append(rows, []string{m.ID, m.Name, string(m.Kind), string(m.Usage), strings.Join(where, ","), strings.Join(m.Roles, ","), health})
				}
				a.table([]string{"ID", "NAME", "KIND", "USAGE", "ENVIRONMENTS/POOLS", "ROLES", "HEALTH"}, rows)
			})
		}}
	list.Flags().StringVar(&environment, "environment", "", "only targets in this environment")
	list.Flags().StringVar(&role, "role", "", "only targets with this role")
	list.Flags().StringVar(&usage, "usage", "", "target or worker")

	show := &cobra.Command{Use: "show MACHINE", Short: "Show a machine and its last health check", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, m, err := clientAndFind(a, cmd.Context(), (*client.Client).FindMachine, args[0])
			if err != nil {
				return err
			}
			return a.print(m, func() { a.machineFields(cmd.Context(), c, m) })
		}}

	add := a.machineAddCommand()
	del := deleteCommand(a, "MACHINE", "Remove a machine; its connection is dropped at once", "machine",
		(*client.Client).FindMachine, (*client.Client).DeleteMachine, func(v model.Machine) (string, string) { return v.ID, v.Name })

	health := &cobra.Command{Use: "health [MACHINE...]", Short: "Check machines now (all of them when none is named)",
		Long: `Check machines now: whether they answer, and what their policy's health
script says. Exits with code 2 when any checked machine is not Healthy.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			var targets []model.Machine
			if len(args) == 0 {
				if targets, err = c.Machines(cmd.Context(), client.ListOptions{}); err != nil {
					return err
				}
			}
			for _, name := range args {
				m, err := c.FindMachine(cmd.Context(), name)
				if err != nil {
					return err
				}
				targets = append(targets, m)
			}
			var checked []model.Machine
			bad := 0
			for _, m := range targets {
				if m.Disabled && len(args) == 0 {
					continue
				}
				m, err := c.CheckHealth(cmd.Context(), m.ID)
				if err != nil {
					return err
				}
				if m.Health.Status != model.HealthHealthy {
					bad++
				}
				checked = append(checked, m)
			}
			err = a.print(nonNil(checked), func() {
				var rows [][]string
				for _, m := range checked {
					reason, _, _ := strings.Cut(m.Health.Reason, "\n")
					rows = append(rows, []string{m.Name, string(m.Health.Status), reason})
				}
				a.table([]string{"MACHINE", "HEALTH", "REASON"}, rows)
			})
			if err == nil && bad > 0 {
				return &ExitError{Code: 2, Msg: fmt.Sprintf("%d of %d machines are not healthy", bad, len(checked))}
			}
			return err
		}}

	setDisabled := func(use, short string, disabled bool) *cobra.Command {
		return &cobra.Command{Use: use + " MACHINE", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, m, err := clientAndFind(a, cmd.Context(), (*client.Client).FindMachine, args[0])
				if err != nil {
					return err
				}
				m.Disabled = disabled
				if m, err = c.UpdateMachine(cmd.Context(), m); err != nil {
					return err
				}
				done := map[bool]string{true: "Disabled", false: "Enabled"}[disabled]
				return a.print(m, func() { fmt.Fprintf(a.stdout, "%s %s\n", done, m.Name) })
			}}
	}

	scan := &cobra.Command{Use: "scan-ssh ADDRESS", Short: "Show the host key an SSH server presents to the Pulpo server", Args: cobra.ExactArgs(1),
		Long: `Show the host key fingerprint an SSH server presents to the Pulpo server.
Compare it with "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" run on
the machine itself before you pin it with "pulpo machine add --ssh".`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			s, err := c.ScanSSH(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.print(s, func() { fmt.Fprintln(a.stdout, s.Fingerprint) })
		}}
	cmd.AddCommand(list, show, add, del, health, setDisabled("enable", "Let deployments use a machine again", false),
		setDisabled("disable", "Keep deployments and health checks off a machine", true), scan)
	return cmd
}

func (a *app) machineFields(ctx context.Context, c *client.Client, m model.Machine) {
	names := newNamer(ctx, c)
	var envs, pools []string
	for _, id := range m.EnvironmentIDs {
		envs = append(envs, names.environment(id))
	}
	for _, id := range m.WorkerPoolIDs {
		pools = append(pools, names.pool(id))
	}
	checked := "never"
	if m.Health.CheckedAt != nil {
		checked = m.Health.CheckedAt.Local().Format("2006-01-02 15:04:05")
	}
	var user, hostKey, home string
	if m.SSH != nil {
		user, hostKey, home = m.SSH.User, m.SSH.HostKeyFingerprint, m.SSH.Home
		if home == "" {
			home = ".pulpo (default)"
		}
	}
	a.fields("ID", m.ID, "Name", m.Name, "Kind", string(m.Kind), "Usage", string(m.Usage), "Address", m.Address,
		"Thumbprint", m.Thumbprint, "SSH user", user, "Host key", hostKey, "Remote home", home,
		"Environments", strings.Join(envs, ", "), "Roles", strings.Join(m.Roles, ", "), "Worker pools", strings.Join(pools, ", "),
		"Disabled", map[bool]string{true: "yes"}[m.Disabled], "Health", string(m.Health.Status), "Reason", m.Health.Reason, "Checked", checked)
}

// machineAddCommand registers a listening agent or an SSH machine; polling
// agents register themselves with "pulpo agent register".
func (a *app) machineAddCommand() *cobra.Command {
	var listening, ssh, thumbprint, user, keyFile, hostKey, policy, remoteHome string
	var passwordStdin bool
	var envs, roles, pools []string
	cmd := &cobra.Command{Use: "add NAME", Short: "Register a listening agent or an SSH machine", Args: cobra.ExactArgs(1),
		Long: `Register a listening agent (the server dials it) or an SSH machine (no agent).
A deployment target needs --environment and --role; a worker needs
--worker-pool. Polling agents register themselves: "pulpo agent register".`,
		Example: `  pulpo machine add web-1 --listening web-1.internal:10933 --thumbprint 9F2C… --environment Dev --role web
  pulpo machine add db-1 --ssh db-1.internal --user deploy --key-file ~/.ssh/id_ed25519 --environment Dev --role db
  pulpo machine add build-1 --listening 10.0.0.9:10933 --thumbprint 41AB… --worker-pool "Linux workers"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			m := model.Machine{Name: args[0], Roles: roles}
			switch {
			case listening != "" && ssh != "":
				return fmt.Errorf("give --listening or --ssh, not both")
			case listening != "":
				m.Kind, m.Address, m.Thumbprint = model.MachineListening, listening, thumbprint
			case ssh != "":
				m.Kind, m.Address = model.MachineSSH, ssh
				if hostKey == "" {
					scan, err := c.ScanSSH(cmd.Context(), ssh)
					if err != nil {
						return err
					}
					hostKey = scan.Fingerprint
					fmt.Fprintf(a.stderr, "Pinning the host key %s presents now: %s\n", ssh, hostKey)
				}
				m.SSH = &model.SSHEndpoint{User: user, HostKeyFingerprint: hostKey, Home: remoteHome}
				m.Credentials = &model.SSHCredentials{}
				if keyFile != "" {
					b, err := os.ReadFile(expandHome(keyFile))
					if err != nil {
						return fmt.Errorf("read the private key: %w", err)
					}
					m.Credentials.PrivateKey = string(b)
				}
				if passwordStdin {
					line, err := bufio.NewReader(os.Stdin).ReadString('\n')
					if err != nil && err != io.EOF {
						return fmt.Errorf("read the password: %w", err)
					}
					m.Credentials.Password = strings.TrimRight(line, "\r\n")
				}
			default:
				return fmt.Errorf("how is the machine reached? give --listening HOST:PORT (an agent) or --ssh HOST[:PORT]")
			}
			m.Usage = model.UsageTarget
			if err := placeMachine(cmd.Context(), c, &m, envs, pools, policy); err != nil {
				return err
			}
			m, err = c.CreateMachine(cmd.Context(), m)
			if err != nil {
				return err
			}
			return a.print(m, func() { fmt.Fprintf(a.stdout, "Added %s %s (%s)\n", m.Kind, m.Name, m.ID) })
		}}
	f := cmd.Flags()
	f.StringVar(&listening, "listening", "", "HOST:PORT of a listening agent")
	f.StringVar(&thumbprint, "thumbprint", "", "the listening agent's certificate thumbprint (\"pulpo agent show-thumbprint\" on the machine)")
	f.StringVar(&ssh, "ssh", "", "HOST[:PORT] of an SSH machine")
	f.StringVar(&user, "user", "", "SSH user")
	f.StringVar(&remoteHome, "remote-home", "", "with --ssh: the folder on the machine for Pulpo's files, absolute or relative to the login folder (default .pulpo)")
	f.StringVar(&keyFile, "key-file", "", "SSH private key file")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the SSH password from standard input")
	f.StringVar(&hostKey, "host-key", "", "the SSH host key fingerprint to pin (SHA256:…); read from the machine now when omitted")
	f.StringArrayVar(&envs, "environment", nil, "environment of a deployment target (repeat for several)")
	f.StringArrayVar(&roles, "role", nil, "role of a deployment target, such as web (repeat for several)")
	f.StringArrayVar(&pools, "worker-pool", nil, "make it a worker in this pool (repeat for several)")
	f.StringVar(&policy, "policy", "", "machine policy (default the Default Machine Policy)")
	return cmd
}

func expandHome(path string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return home + "/" + rest
		}
	}
	return path
}

func (a *app) workerPoolCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "worker-pool", Aliases: []string{"worker-pools", "pool"}, Short: "Manage worker pools"}
	list := &cobra.Command{Use: "list", Short: "List worker pools", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			pools, err := c.WorkerPools(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(nonNil(pools), func() {
				var rows [][]string
				for _, p := range pools {
					rows = append(rows, []string{p.ID, p.Name, map[bool]string{true: "yes"}[p.IsDefault], p.Description})
				}
				a.table([]string{"ID", "NAME", "DEFAULT", "DESCRIPTION"}, rows)
			})
		}}
	var description string
	create := &cobra.Command{Use: "create NAME", Short: "Create a worker pool", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := c.CreateWorkerPool(cmd.Context(), model.WorkerPool{Name: args[0], Description: description})
			if err != nil {
				return err
			}
			return a.print(p, func() { fmt.Fprintf(a.stdout, "Created worker pool %s (%s)\n", p.Name, p.ID) })
		}}
	create.Flags().StringVar(&description, "description", "", "what the pool's workers are for")
	cmd.AddCommand(list, create)
	return cmd
}

func (a *app) machinePolicyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "machine-policy", Aliases: []string{"machine-policies", "policy"}, Short: "Manage machine policies: health checks and unavailable machines"}
	list := &cobra.Command{Use: "list", Short: "List machine policies", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ps, err := c.MachinePolicies(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(nonNil(ps), func() {
				var rows [][]string
				for _, p := range ps {
					script := "no"
					if p.HealthCheckScript != "" {
						script = "yes"
					}
					rows = append(rows, []string{p.ID, p.Name, p.HealthCheckInterval.D.String(), script, string(p.WhenUnavailable), p.DeleteUnavailableAfter.D.String()})
				}
				a.table([]string{"ID", "NAME", "CHECK EVERY", "SCRIPT", "WHEN UNAVAILABLE", "DELETE AFTER"}, rows)
			})
		}}
	var interval, deleteAfter time.Duration
	var scriptFile, whenUnavailable, description string
	apply := func(cmd *cobra.Command, p *model.MachinePolicy) error {
		f := cmd.Flags()
		if f.Changed("health-check-interval") {
			p.HealthCheckInterval.D = interval
		}
		if f.Changed("delete-unavailable-after") {
			p.DeleteUnavailableAfter.D = deleteAfter
		}
		if f.Changed("when-unavailable") {
			p.WhenUnavailable = model.UnavailableAction(whenUnavailable)
		}
		if f.Changed("description") {
			p.Description = description
		}
		if f.Changed("health-script-file") {
			if scriptFile == "" {
				p.HealthCheckScript = ""
			} else {
				b, err := os.ReadFile(scriptFile)
				if err != nil {
					return fmt.Errorf("read the health script: %w", err)
				}
				p.HealthCheckScript = string(b)
			}
		}
		return nil
	}
	flags := func(c *cobra.Command) {
		f := c.Flags()
		f.DurationVar(&interval, "health-check-interval", time.Hour, "how often to check machines (0 turns scheduled checks off)")
		f.StringVar(&scriptFile, "health-script-file", "", "bash health script: exit 0 Healthy, other codes Unhealthy, a line \"##pulpo[warning] …\" Warning")
		f.StringVar(&whenUnavailable, "when-unavailable", "fail", "what deployments do with unreachable machines: fail or skip")
		f.DurationVar(&deleteAfter, "delete-unavailable-after", 0, "remove machines unavailable this long (0 keeps them)")
		f.StringVar(&description, "description", "", "what the policy is for")
	}
	create := &cobra.Command{Use: "create NAME", Short: "Create a machine policy", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p := model.MachinePolicy{Name: args[0], HealthCheckInterval: model.Duration{D: interval},
				WhenUnavailable: model.UnavailableAction(whenUnavailable), DeleteUnavailableAfter: model.Duration{D: deleteAfter}, Description: description}
			if err := apply(cmd, &p); err != nil {
				return err
			}
			if p, err = c.CreateMachinePolicy(cmd.Context(), p); err != nil {
				return err
			}
			return a.print(p, func() { fmt.Fprintf(a.stdout, "Created machine policy %s (%s)\n", p.Name, p.ID) })
		}}
	flags(create)
	update := &cobra.Command{Use: "update POLICY", Short: "Change a machine policy (only the flags given)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := clientAndFind(a, cmd.Context(), (*client.Client).FindMachinePolicy, args[0])
			if err != nil {
				return err
			}
			if err := apply(cmd, &p); err != nil {
				return err
			}
			if p, err = c.UpdateMachinePolicy(cmd.Context(), p); err != nil {
				return err
			}
			return a.print(p, func() { fmt.Fprintf(a.stdout, "Updated machine policy %s\n", p.Name) })
		}}
	flags(update)
	cmd.AddCommand(list, create, update)
	return cmd
}

// placeMachine fills where a machine belongs from names: environments (a
// deployment target) or worker pools (a worker), and its policy.
func placeMachine(ctx context.Context, c *client.Client, m *model.Machine, envs, pools []string, policy string) error {
	if len(pools) > 0 {
		m.Usage = model.UsageWorker
	}
	for _, e := range envs {
		env, err := c.FindEnvironment(ctx, e)
		if err != nil {
			return err
		}
		m.EnvironmentIDs = append(m.EnvironmentIDs, env.ID)
	}
	for _, p := range pools {
		pool, err := c.FindWorkerPool(ctx, p)
		if err != nil {
			return err
		}
		m.WorkerPoolIDs = append(m.WorkerPoolIDs, pool.ID)
	}
	if policy != "" {
		p, err := c.FindMachinePolicy(ctx, policy)
		if err != nil {
			return err
		}
		m.PolicyID = p.ID
	}
	return nil
}

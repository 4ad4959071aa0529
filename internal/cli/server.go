package cli

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/notify"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
	"github.com/pulpo-deploy/pulpo/internal/server"
)

func (a *app) serverCommand() *cobra.Command {
	cfg := server.Config{}
	var logFormat, logLevel, smtpHost, smtpFrom, smtpUser string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a Pulpo server",
		Long: `Run a Pulpo server: the web portal (at /), the REST API (/api/v1), the task
queue, and the built-in worker that runs steps on this machine.

On its first start the server creates an administrator and prints its
password and an API key once. By default it keeps everything in an embedded
SQLite database in --data; give --database-url to use PostgreSQL instead.`,
		Example: `  pulpo server
  pulpo server --data /var/lib/pulpo --listen 0.0.0.0:8080 --polling-listen 0.0.0.0:10943
  pulpo server --database-url postgres://pulpo@db/pulpo --node-name node-a
  pulpo server --listen 0.0.0.0:8443 --tls-cert /etc/pulpo/cert.pem --tls-key /etc/pulpo/key.pem
  pulpo server --tls-self-signed`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			level := new(slog.LevelVar)
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level must be debug, info, warn or error, not %q", logLevel)
			}
			opts := &slog.HandlerOptions{Level: level}
			switch logFormat {
			case "text":
				cfg.Logger = slog.New(slog.NewTextHandler(a.stderr, opts))
			case "json":
				cfg.Logger = slog.New(slog.NewJSONHandler(a.stderr, opts))
			default:
				return fmt.Errorf("--log-format must be text or json, not %q", logFormat)
			}
			if cfg.AdminAPIKey == "" {
				cfg.AdminAPIKey = a.getenv("PULPO_ADMIN_API_KEY")
			}
			if cfg.DatabaseURL == "" {
				cfg.DatabaseURL = a.getenv("PULPO_DATABASE_URL")
			}
			if cfg.MasterKey == "" {
				cfg.MasterKey = a.getenv("PULPO_MASTER_KEY")
			}
			if smtpHost != "" {
				if _, _, err := net.SplitHostPort(smtpHost); err != nil {
					return fmt.Errorf("--smtp-host takes host:port, such as mail.example.com:587, not %q", smtpHost)
				}
				if smtpFrom == "" {
					return fmt.Errorf("--smtp-host needs --smtp-from: the address notifications come from")
				}
				cfg.SMTP = &notify.Mailer{Addr: smtpHost, From: smtpFrom, Username: smtpUser, Password: a.getenv("PULPO_SMTP_PASSWORD")}
			}
			if cfg.OIDC.Issuer != "" {
				if cfg.OIDC.ClientID == "" {
					return fmt.Errorf("--oidc-issuer needs --oidc-client-id")
				}
				cfg.OIDC.ClientSecret = a.getenv("PULPO_OIDC_CLIENT_SECRET")
			}
			cfg.Version, cfg.Out = a.version, a.stdout
			return server.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", "./pulpo-data", "folder for the embedded database and the built-in worker's files")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address to serve HTTP on")
	f.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://…) for several server nodes (default $PULPO_DATABASE_URL; embedded SQLite when empty)")
	f.StringVar(&cfg.NodeName, "node-name", "", "this node's name in task leases, unique per node (default the host name)")
	f.StringVar(&cfg.AdminAPIKey, "admin-api-key", "", "API key for the first administrator, used at first start only (default $PULPO_ADMIN_API_KEY; random when empty)")
	f.StringVar(&cfg.PublicURL, "public-url", "", "URL users reach the server at, for links (default from --listen)")
	f.IntVar(&cfg.TaskSlots, "task-slots", 5, "how many tasks this node runs at once")
	f.DurationVar(&cfg.TaskLease, "task-lease", 30*time.Second, "how long a node's claim on a task lasts without renewal")
	f.StringVar(&cfg.PollingListen, "polling-listen", "127.0.0.1:10943", "address polling agents connect to (empty turns polling agents off)")
	f.StringVar(&cfg.PollingPublicAddress, "polling-public-address", "", "host:port agents should dial to reach --polling-listen (default from --polling-listen and --public-url)")
	f.StringVar(&cfg.PackagesDir, "packages-dir", "", "folder of the built-in feed's packages, shared by every node (default DATA/packages)")
	f.StringVar(&cfg.RunnersDir, "runners-dir", "", "folder of runner binaries for targets of other platforms, named pulpo-OS-ARCH, e.g. pulpo-linux-arm64 (default DATA/runners); targets of the server's own platform get its own binary")
	f.IntVar(&cfg.FeedRetention.KeepVersions, "feed-keep-versions", 0, "keep this many newest versions of each package (0 keeps all)")
	f.DurationVar(&cfg.FeedRetention.MaxAge, "feed-max-age", 0, "remove package versions pushed longer ago, but never a package's newest (0 keeps all)")
	f.DurationVar(&cfg.FeedCacheMaxAge, "feed-cache-max-age", 30*24*time.Hour, "forget packages not deployed for this long: those downloaded from external feeds on the server (DATA/feed-cache), and every package cached on targets (HOME/packages: sent by the server or downloaded there; a retained installation's stays) and runners the server sent them (HOME/runners); 0 keeps all")
	f.StringVar(&cfg.MasterKey, "master-key", "", "base64 key that seals secrets at rest (default $PULPO_MASTER_KEY, else DATA/master.key, made on first start; every node of one database needs the same)")
	f.StringVar(&smtpHost, "smtp-host", "", "SMTP server (host:port) for email notifications and email steps; STARTTLS is used when it offers it")
	f.StringVar(&smtpFrom, "smtp-from", "", "the address email notifications and email steps come from")
	f.StringVar(&smtpUser, "smtp-user", "", "SMTP user, with the password in $PULPO_SMTP_PASSWORD")
	f.StringVar(&cfg.TLSCertFile, "tls-cert", "", "serve HTTPS with this PEM certificate (chain) file, with --tls-key")
	f.StringVar(&cfg.TLSKeyFile, "tls-key", "", "the PEM private key of --tls-cert")
	f.StringVar(&cfg.OIDC.Issuer, "oidc-issuer", "", "OpenID Connect issuer URL for single sign-on (client secret in $PULPO_OIDC_CLIENT_SECRET; register PUBLIC-URL/api/v1/users/oidc/callback as its redirect URL)")
	f.StringVar(&cfg.OIDC.ClientID, "oidc-client-id", "", "this server's client id at the OpenID Connect issuer")
	f.BoolVar(&cfg.OIDC.AutoCreate, "oidc-auto-create", true, "create a user (with no teams) on a first OpenID Connect login; otherwise only users an administrator linked (externalId) may log in")
	f.BoolVar(&cfg.TLSSelfSigned, "tls-self-signed", false, "serve HTTPS with a self-signed certificate made on first start (kept in DATA/https); clients pin its printed thumbprint")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	cmd.AddCommand(a.rotateKeyCommand())
	return cmd
}

func (a *app) rotateKeyCommand() *cobra.Command {
	cfg := server.Config{}
	var newKey string
	cmd := &cobra.Command{Use: "rotate-master-key", Short: "Re-encrypt every secret with a new master key (stop every server node first)",
		Long: `Re-encrypt every secret the database holds (sensitive variables, release
snapshots, machine credentials, the server's private key) with a new master
key, in one transaction: if anything fails, nothing changes.

With the key in the data folder (the default), the new key replaces
DATA/master.key. With --master-key (or PULPO_MASTER_KEY), the new key is
printed: give it to every node from now on.

Keep a copy of the master key somewhere safe, apart from the database: a
database without its key cannot be decrypted by anyone, and its secrets
(and machine credentials) must then be entered again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfg.DatabaseURL == "" {
				cfg.DatabaseURL = a.getenv("PULPO_DATABASE_URL")
			}
			if cfg.MasterKey == "" {
				cfg.MasterKey = a.getenv("PULPO_MASTER_KEY")
			}
			key, n, err := server.RotateMasterKey(cmd.Context(), cfg, newKey)
			if err != nil {
				return err
			}
			if cfg.MasterKey != "" {
				fmt.Fprintf(a.stdout, "Re-encrypted %d secrets. The new master key (give it to every node, keep a copy safe):\n%s\n", n, key)
				return nil
			}
			fmt.Fprintf(a.stdout, "Re-encrypted %d secrets with a new master key, now in %s/master.key; keep a copy of it safe.\n", n, cfg.DataDir)
			return nil
		}}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", "./pulpo-data", "the server's data folder")
	f.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL URL (default $PULPO_DATABASE_URL)")
	f.StringVar(&cfg.MasterKey, "master-key", "", "the current key, when not in the data folder (default $PULPO_MASTER_KEY)")
	f.StringVar(&newKey, "new-master-key", "", "the new key in base64 (default: a new random one)")
	return cmd
}

// supervisorCommand is how the server and agents run a script detached
// from themselves; people never call it.
func (a *app) supervisorCommand() *cobra.Command {
	return &cobra.Command{
		Use:    scriptsvc.SupervisorCommand + " WORKSPACE",
		Short:  "Run the script of a workspace and record its output (internal)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := scriptsvc.Supervise(args[0]); code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
}

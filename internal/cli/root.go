// Package cli is the pulpo command: the server, and everything an operator
// or a CI job does against a server's REST API.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
)

// ExitError ends the command with a chosen exit code and message.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// app holds what every command shares: flags, output and the API client.
type app struct {
	version string
	stdout  io.Writer
	stderr  io.Writer
	getenv  func(string) string

	server string
	apiKey string
	// serverThumbprint pins a self-signed HTTPS certificate.
	serverThumbprint string
	output           string
}

// Execute runs the pulpo command line and returns the process exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, version string) int {
	a := &app{version: version, stdout: stdout, stderr: stderr, getenv: getenv}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		if exit.Msg != "" {
			fmt.Fprintln(stderr, exit.Msg)
		}
		return exit.Code
	}
	fmt.Fprintln(stderr, "Error:", describe(err))
	return 1
}

// describe turns an error into what a person should read, details included.
func describe(err error) string {
	var apiErr *client.Error
	if errors.As(err, &apiErr) && len(apiErr.Details) > 0 {
		return apiErr.Message + "\n  - " + strings.Join(apiErr.Details, "\n  - ")
	}
	return err.Error()
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "pulpo",
		Short: "Pulpo: deployment automation and release orchestration",
		Long: `Pulpo carries a build through your environments (Dev → Test → Production),
safely, repeatably and visibly.

Start a server with "pulpo server"; every other command talks to a server's
REST API. Give the server and an API key with --server and --api-key, or set
PULPO_SERVER and PULPO_API_KEY.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       a.version,
	}
	root.PersistentFlags().StringVar(&a.server, "server", "", "server URL, e.g. http://localhost:8080 (default $PULPO_SERVER)")
	root.PersistentFlags().StringVar(&a.apiKey, "api-key", "", "API key (default $PULPO_API_KEY)")
	root.PersistentFlags().StringVar(&a.serverThumbprint, "server-thumbprint", "", "pin the server's self-signed HTTPS certificate by its SHA-256 thumbprint (default $PULPO_SERVER_THUMBPRINT)")
	root.PersistentFlags().StringVarP(&a.output, "output", "o", "text", "output format: text or json")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if a.output != "text" && a.output != "json" {
			return fmt.Errorf("--output must be text or json, not %q", a.output)
		}
		return nil
	}
	root.AddCommand(
		a.serverCommand(),
		a.supervisorCommand(),
		a.versionCommand(),
		a.environmentCommand(),
		a.lifecycleCommand(),
		a.projectCommand(),
		a.processCommand(),
		a.variableCommand(),
		a.releaseCommand(),
		a.deploymentCommand(),
		a.taskCommand(),
		a.interruptionCommand(),
		a.freezeCommand(),
		a.triggerCommand(),
		a.subscriptionCommand(),
		a.certificateCommand(),
		a.dashboardCommand(),
		a.boardCommand(),
		a.buildInformationCommand(),
		a.channelCommand(),
		a.runbookCommand(),
		a.stagingCommand(),
		a.applyCommand(),
		a.exportCommand(),
		a.importCommand(),
		a.agentCommand(),
		a.machineCommand(),
		a.workerPoolCommand(),
		a.machinePolicyCommand(),
		a.librarySetCommand(),
		a.stepTemplateCommand(),
		a.scriptModuleCommand(),
		a.packageCommand(),
		a.feedCommand(),
		a.runPackageCommand(),
		a.runScriptPackageCommand(),
		a.fetchPackagesCommand(),
		a.loginCommand(),
		a.whoamiCommand(),
		a.userCommand(),
		a.teamCommand(),
		a.roleCommand(),
		a.permissionCommand(),
		a.auditCommand(),
		a.nodeCommand(),
		a.backupCommand(),
		a.restoreCommand(),
	)
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes "pulpo GROUP TYPO" an error. Cobra prints
// a command group's help and exits 0 for a word it does not know, so a
// pipeline with a misspelt command would pass without doing anything.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !cmd.HasParent() || !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default, set only for the root
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if suggestions := cmd.SuggestionsFor(args[0]); len(suggestions) > 0 {
			msg += "; did you mean " + strings.Join(suggestions, " or ") + "?"
		}
		return errors.New(msg + " (see --help)")
	}
}

// client builds the API client from flags and environment.
func (a *app) client() (*client.Client, error) {
	server, key := a.server, a.apiKey
	if server == "" {
		server = a.getenv("PULPO_SERVER")
	}
	if key == "" {
		key = a.getenv("PULPO_API_KEY")
	}
	if key == "" {
		return nil, errors.New("no API key given: use --api-key or set PULPO_API_KEY")
	}
	thumbprint := a.serverThumbprint
	if thumbprint == "" {
		thumbprint = a.getenv("PULPO_SERVER_THUMBPRINT")
	}
	return client.NewWithOptions(server, key, client.Options{Thumbprint: thumbprint})
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this pulpo binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.output == "json" {
				return a.printJSON(map[string]string{"version": a.version})
			}
			fmt.Fprintln(a.stdout, "pulpo", a.version)
			return nil
		},
	}
}

// envOr is a flag default shown in help and taken from the environment.
func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

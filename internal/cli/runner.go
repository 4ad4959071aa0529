package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/runner"
)

// runPackageCommand is what a package step runs on the target; people
// never call it.
func (a *app) runPackageCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "run-package MANIFEST",
		Short:  "Deploy a package on this machine by the conventions (internal)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := runner.Main(args, a.version, a.stdout, a.stderr); code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
}

// runScriptPackageCommand is what a step whose script is kept in a package
// runs on the target; people never call it.
func (a *app) runScriptPackageCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "run-script-package MANIFEST",
		Short:  "Run a script kept in a package on this machine (internal)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := runner.MainScript(args, a.version, a.stdout, a.stderr); code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
}

// fetchPackagesCommand downloads and extracts the packages a script step
// refers to, before its script runs; people never call it.
func (a *app) fetchPackagesCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "fetch-packages MANIFEST",
		Short:  "Download and extract a script step's packages on this machine (internal)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := runner.MainFetch(args, a.version, a.stdout, a.stderr); code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
}

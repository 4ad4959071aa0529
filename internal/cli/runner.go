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

package cli

import (
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// syntaxHelp describes a --syntax flag.
const syntaxHelp = "the script's language: bash, sh or python (default bash; python when --script-file ends in .py)"

// scriptSyntax is the --syntax given, or else the one a --script-file's
// extension says (.py: python), or else fallback.
func scriptSyntax(cmd *cobra.Command, given, scriptFile string, fallback model.ScriptSyntax) model.ScriptSyntax {
	switch {
	case cmd.Flags().Changed("syntax"):
		return model.ScriptSyntax(given)
	case strings.EqualFold(filepath.Ext(scriptFile), ".py"):
		return model.SyntaxPython
	}
	return fallback
}

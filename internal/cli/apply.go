package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/confdoc"
)

func (a *app) applyCommand() *cobra.Command {
	var file string
	var dryRun bool
	cmd := &cobra.Command{Use: "apply", Short: "Create or update environments, lifecycles and projects from a file", Args: cobra.NoArgs,
		Long: `Create or update environments, lifecycles, project groups and projects (with
their steps and variables) from a YAML file. Objects are matched by name;
applying the same file twice changes nothing. Objects the file does not
mention are left alone. The whole file is applied in one transaction: if
anything in it is wrong, nothing changes. "pulpo export" writes this format.

The library goes by name too: feeds (a file without a password keeps the
server's), script modules, step templates (every version, oldest first; a
step names the version it uses) and certificates (a plain file cannot carry
one: a certificate it lists must exist on the server).`,
		Example: `  pulpo apply -f pulpo.yaml
  pulpo apply -f pulpo.yaml --dry-run`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return fmt.Errorf("give the file with -f (use -f - to read standard input)")
			}
			var data []byte
			var err error
			if file == "-" {
				data, err = io.ReadAll(os.Stdin)
			} else {
				data, err = os.ReadFile(file)
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", file, err)
			}
			doc, err := confdoc.ParseYAML(data)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			res, err := c.Apply(cmd.Context(), doc, dryRun)
			if err != nil {
				return err
			}
			return a.print(res, func() {
				for _, ch := range res.Changes {
					line := fmt.Sprintf("%-9s %s %s", ch.Action, ch.Kind, ch.Name)
					if len(ch.Fields) > 0 {
						line += " (" + strings.Join(ch.Fields, ", ") + ")"
					}
					fmt.Fprintln(a.stdout, line)
				}
				changed := res.Changed()
				verb := "Applied"
				if dryRun {
					verb = "Dry run: would apply"
				}
				fmt.Fprintf(a.stdout, "%s %d changes (%d objects unchanged)\n", verb, changed, len(res.Changes)-changed)
			})
		}}
	cmd.Flags().StringVarP(&file, "file", "f", "", "YAML file to apply (- for standard input)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would change without changing anything")
	return cmd
}

func (a *app) exportCommand() *cobra.Command {
	var file, archiveFile string
	var projects []string
	var all bool
	var pw passwordFlags
	cmd := &cobra.Command{Use: "export", Short: "Write the server's environments, lifecycles and projects as an apply file, or projects as an encrypted archive", Args: cobra.NoArgs,
		Long: `Without --archive, write everything "pulpo apply" accepts as a plain YAML
file; sensitive values, feed passwords and certificates' material are left
out (applying the file keeps them).

With --archive FILE, write the chosen projects (--project, repeatable) or
everything (--all), with what they reference (feeds, script modules, step
templates, certificates included) and their sensitive values, as
one password-encrypted archive for "pulpo import" on another server. The
password (at least 12 characters) comes from --password-file,
--password-stdin or PULPO_ARCHIVE_PASSWORD. Exporting an archive needs the
system administrator role, since it holds every secret it reaches.`,
		Example: `  pulpo export > pulpo.yaml
  pulpo export -f pulpo.yaml
  pulpo export --archive shop.pulpoarchive --project Shop --password-file pw.txt
  PULPO_ARCHIVE_PASSWORD=... pulpo export --archive all.pulpoarchive --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if archiveFile != "" {
				if file != "" {
					return fmt.Errorf("give -f for a plain file or --archive for an archive, not both")
				}
				return a.exportArchive(cmd, archiveFile, projects, all, &pw)
			}
			if len(projects) > 0 || all {
				return fmt.Errorf("--project and --all choose what goes into an archive: add --archive FILE")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			doc, err := c.Export(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(doc)
			}
			out, err := doc.YAML()
			if err != nil {
				return err
			}
			if file == "" || file == "-" {
				_, err = a.stdout.Write(out)
				return err
			}
			if err := os.WriteFile(file, out, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", file, err)
			}
			fmt.Fprintf(a.stderr, "Wrote %s\n", file)
			return nil
		}}
	cmd.Flags().StringVarP(&file, "file", "f", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&archiveFile, "archive", "", "write a password-encrypted archive (with sensitive values) to this file")
	cmd.Flags().StringArrayVar(&projects, "project", nil, "a project to put in the archive (repeat for several)")
	cmd.Flags().BoolVar(&all, "all", false, "put every project and shared thing in the archive")
	pw.add(cmd)
	return cmd
}

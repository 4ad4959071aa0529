package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/archive"
	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/confdoc"
)

// archivePasswordEnv holds an archive's password for scripts; a flag
// would leave it in shell history and in the process list.
const archivePasswordEnv = "PULPO_ARCHIVE_PASSWORD"

// passwordFlags are the ways to give an archive's password.
type passwordFlags struct {
	file  string
	stdin bool
}

func (p *passwordFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.file, "password-file", "", "read the archive password from the first line of this file")
	cmd.Flags().BoolVar(&p.stdin, "password-stdin", false, "read the archive password from the first line of standard input")
}

// read returns the password from the file, standard input or
// PULPO_ARCHIVE_PASSWORD, in that order of preference.
func (p *passwordFlags) read(a *app, cmd *cobra.Command) (string, error) {
	firstLine := func(r io.Reader, from string) (string, error) {
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the archive password from %s: %w", from, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return "", fmt.Errorf("the archive password from %s is empty", from)
		}
		return line, nil
	}
	switch {
	case p.file != "" && p.stdin:
		return "", errors.New("give the archive password one way: --password-file or --password-stdin")
	case p.file != "":
		f, err := os.Open(p.file)
		if err != nil {
			return "", fmt.Errorf("read the archive password: %w", err)
		}
		defer f.Close()
		return firstLine(f, p.file)
	case p.stdin:
		return firstLine(cmd.InOrStdin(), "standard input")
	case a.getenv(archivePasswordEnv) != "":
		return a.getenv(archivePasswordEnv), nil
	}
	return "", fmt.Errorf("give the archive password with --password-file, --password-stdin or %s (never as a plain flag)", archivePasswordEnv)
}

// exportArchive is "pulpo export --archive FILE".
func (a *app) exportArchive(cmd *cobra.Command, file string, projects []string, all bool, pw *passwordFlags) error {
	if !all && len(projects) == 0 {
		return errors.New("name the projects to export with --project (repeat it for several), or export everything with --all")
	}
	if all && len(projects) > 0 {
		return errors.New("give --project or --all, not both")
	}
	password, err := pw.read(a, cmd)
	if err != nil {
		return err
	}
	if err := archive.CheckPassword(password); err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	data, err := c.ExportArchive(cmd.Context(), archive.ExportRequest{Projects: projects, All: all, Password: password})
	if err != nil {
		return err
	}
	// 0600: the archive is only as safe as its password; no need to let
	// other users of the machine try theirs.
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	what := "all projects"
	if !all {
		what = strings.Join(projects, ", ")
	}
	out := struct {
		File     string   `json:"file"`
		Bytes    int      `json:"bytes"`
		Projects []string `json:"projects,omitempty"`
		All      bool     `json:"all"`
	}{file, len(data), projects, all}
	return a.print(out, func() {
		fmt.Fprintf(a.stdout, "Wrote %s (%d bytes): %s with what they reference, sensitive values included.\n", file, len(data), what)
		fmt.Fprintln(a.stdout, "Keep the password apart from the file: together they open every secret in it.")
	})
}

func (a *app) importCommand() *cobra.Command {
	var dryRun, update bool
	var pw passwordFlags
	cmd := &cobra.Command{Use: "import FILE", Short: "Import projects from an archive made by \"pulpo export --archive\"", Args: cobra.ExactArgs(1),
		Long: `Import a password-encrypted archive made by "pulpo export --archive" on this
or another Pulpo server. Shared things (environments, lifecycles, project
groups, library variable sets, worker pools, machine policies) are matched by
name: those missing are created, those that exist are left as they are. A
project that exists is skipped, unless --update-existing makes it (and the
shared things) match the archive, as "pulpo apply" would. Sensitive values are
sealed with this server's master key. The whole import is one transaction:
if anything is wrong, nothing changes. --dry-run shows every change and
changes nothing.

The password comes from --password-file, --password-stdin or
PULPO_ARCHIVE_PASSWORD. Importing needs the system administrator role.`,
		Example: `  pulpo import shop.pulpoarchive --password-file pw.txt --dry-run
  PULPO_ARCHIVE_PASSWORD=... pulpo import shop.pulpoarchive
  pulpo import shop.pulpoarchive --password-stdin --update-existing < pw.txt`,
		RunE: func(cmd *cobra.Command, args []string) error {
			password, err := pw.read(a, cmd)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read the archive: %w", err)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			res, err := c.ImportArchive(cmd.Context(), data, password, client.ImportOptions{DryRun: dryRun, UpdateExisting: update})
			if err != nil {
				return err
			}
			return a.print(res, func() { a.printImport(res) })
		}}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show every change without changing anything")
	cmd.Flags().BoolVar(&update, "update-existing", false, "update projects (and shared things) that exist to match the archive")
	pw.add(cmd)
	return cmd
}

// printImport shows where the archive came from and a table of changes.
func (a *app) printImport(res archive.ImportResult) {
	m := res.Manifest
	what := "all projects"
	if !m.All {
		what = "projects " + strings.Join(m.Projects, ", ")
	}
	fmt.Fprintf(a.stdout, "Archive of %s from %s (Pulpo %s), made %s\n\n", what, m.Server, m.PulpoVersion, m.CreatedAt.Format("2006-01-02 15:04:05 MST"))
	rows := make([][]string, 0, len(res.Changes))
	counts := map[string]int{}
	for _, ch := range res.Changes {
		counts[ch.Action]++
		rows = append(rows, []string{ch.Action, ch.Kind, ch.Name, strings.Join(ch.Fields, ", ")})
	}
	a.table([]string{"ACTION", "KIND", "NAME", "DIFFERS IN"}, rows)
	verb := "Imported"
	if res.DryRun {
		verb = "Dry run, nothing changed; an import would make"
	}
	fmt.Fprintf(a.stdout, "\n%s: %d created, %d updated, %d unchanged, %d skipped\n", verb,
		counts[confdoc.Created], counts[confdoc.Updated], counts[confdoc.Unchanged], counts[confdoc.Skipped])
	if counts[confdoc.Skipped] > 0 {
		fmt.Fprintln(a.stdout, "Skipped objects exist here and were left as they are; --update-existing makes them match the archive.")
	}
}

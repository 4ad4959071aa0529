package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/backup"
)

func (a *app) backupCommand() *cobra.Command {
	opts := backup.Options{}
	var to string
	cmd := &cobra.Command{Use: "backup", Short: "Back up a server's data folder (embedded SQLite) while it runs",
		Long: `Write a backup of a server's data folder to one file (tar.gz): a consistent
snapshot of the database taken while the server runs, the feed's packages and
the tasks' artifacts.

The master key is left out unless --include-master-key is given: the
database's secrets (sensitive variables, machine credentials, the server's
private key) can only be read with it, so keep it apart from the backups
(or protect a backup that holds it as you would the key itself).

Servers on PostgreSQL are backed up with the database's own tools (pg_dump,
or continuous archiving) plus the shared packages folder and the master key.`,
		Example: `  pulpo backup --data /var/lib/pulpo --to /backups/pulpo-$(date +%F).tar.gz
  pulpo backup --data ./pulpo-data --to full.tar.gz --include-master-key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return fmt.Errorf("give the backup file: --to FILE")
			}
			tmp := to + ".partial"
			f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			opts.Version = a.version
			m, err := backup.Create(cmd.Context(), f, opts)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(tmp)
				return err
			}
			if err := os.Rename(tmp, to); err != nil {
				return err
			}
			return a.print(m, func() {
				fmt.Fprintf(a.stdout, "Backed up %s to %s: database %d bytes, %d packages, %d artifacts.\n", opts.DataDir, to, m.DBBytes, m.Packages, m.Artifacts)
				if !m.MasterKey {
					fmt.Fprintf(a.stdout, "The master key is not in it: keep %s (or your --master-key) safe; the backup's secrets need it.\n",
						filepath.Join(opts.DataDir, "master.key"))
				}
			})
		}}
	f := cmd.Flags()
	f.StringVar(&opts.DataDir, "data", "./pulpo-data", "the server's data folder")
	f.StringVar(&opts.PackagesDir, "packages-dir", "", "the feed's folder, when the server has --packages-dir (default DATA/packages)")
	f.StringVar(&to, "to", "", "the backup file to write")
	f.BoolVar(&opts.IncludeMasterKey, "include-master-key", false, "put DATA/master.key in the backup too")
	return cmd
}

func (a *app) restoreCommand() *cobra.Command {
	opts := backup.RestoreOptions{}
	var from string
	cmd := &cobra.Command{Use: "restore", Short: "Restore a backup into a data folder (the server stopped)",
		Long: `Restore a backup made by "pulpo backup" into a data folder. The server must be
stopped; the folder must hold no database unless --force is given. Without
the master key in the backup, put the key back as DATA/master.key (or start
the server with --master-key) before starting it.`,
		Example: `  pulpo restore --from /backups/pulpo-2026-11-25.tar.gz --data /var/lib/pulpo`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return fmt.Errorf("give the backup file: --from FILE")
			}
			f, err := os.Open(from)
			if err != nil {
				return err
			}
			defer f.Close()
			m, err := backup.Restore(cmd.Context(), f, opts)
			if err != nil {
				return err
			}
			return a.print(m, func() {
				fmt.Fprintf(a.stdout, "Restored the backup of %s (taken %s, Pulpo %s) into %s: %d packages, %d artifacts.\n",
					m.SourceData, m.CreatedAt.Local().Format("2006-01-02 15:04"), m.Version, opts.DataDir, m.Packages, m.Artifacts)
				if !m.MasterKey {
					fmt.Fprintln(a.stdout, "The backup holds no master key: put it back as DATA/master.key, or start the server with --master-key.")
				}
			})
		}}
	f := cmd.Flags()
	f.StringVar(&opts.DataDir, "data", "./pulpo-data", "the data folder to restore into")
	f.StringVar(&opts.PackagesDir, "packages-dir", "", "where the packages go, when the server has --packages-dir (default DATA/packages)")
	f.StringVar(&from, "from", "", "the backup file")
	f.BoolVar(&opts.Force, "force", false, "replace the database (and master key) already in the folder")
	return cmd
}

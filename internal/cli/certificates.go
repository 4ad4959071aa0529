package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// certificateCommand manages the certificate library.
func (a *app) certificateCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "certificate", Aliases: []string{"certificates", "cert"},
		Short: "Keep X.509 certificates (with their keys) in the library, for certificate variables",
		Long: `Keep X.509 certificates in the library. A certificate is uploaded as PEM
(certificate, private key in PKCS#1, PKCS#8 or EC form, and any chain), as a
PFX/PKCS#12 file with its password, or as a DER certificate. Its key, file
and password are stored encrypted and never shown again; Pulpo shows what it
read: subject, issuer, thumbprint (SHA-1, as Octopus), validity, names.

A project variable of type Certificate (value: the certificate's id) gives
scripts #{Name.Thumbprint}, #{Name.CertificatePem}, #{Name.PrivateKeyPem},
#{Name.Pfx} and the rest of Octopus's certificate properties; the ones with
the key are masked in task logs. Certificates within 20 days of their end are
flagged, and a certificate-expiring event goes to subscriptions.

Replacing a certificate keeps its id (variables get the new file from their
next deployment) and keeps the previous file as an archived backup under a
new id, whose "replaced by" names the certificate (as Octopus does); "show"
lists a certificate's earlier versions, "list --archived" shows them all.
Deleting a certificate deletes its archived earlier versions too; restore
one first ("archive --restore", under a free name) to keep it.`}

	var name, notes, passwordFile string
	var passwordStdin bool
	var envs []string
	readPassword := func(cmd *cobra.Command) (string, error) {
		switch {
		case passwordStdin && passwordFile != "":
			return "", errors.New("give the password with --password-stdin or --password-file, not both")
		case passwordStdin:
			lines, err := readStdinLines(cmd, 1, "--password-stdin")
			if err != nil {
				return "", err
			}
			return lines[0], nil
		case passwordFile != "":
			b, err := os.ReadFile(passwordFile)
			if err != nil {
				return "", fmt.Errorf("read the password: %w", err)
			}
			return strings.TrimRight(string(b), "\r\n"), nil
		}
		return "", nil
	}
	passwordFlags := func(c *cobra.Command) {
		c.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the file's password from the first line of standard input")
		c.Flags().StringVar(&passwordFile, "password-file", "", "read the file's password from this file")
	}

	importCmd := &cobra.Command{Use: "import FILE", Short: "Upload a certificate (PEM, PFX/PKCS#12 or DER)", Args: cobra.ExactArgs(1), SuggestFor: []string{"create", "upload", "add"},
		Example: `  cat site.crt site.key chain.crt > site.pem && pulpo certificate import site.pem --name "Site TLS"
  pulpo certificate import site.pfx --password-file pfx.pass --environment Production`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			file, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read the certificate: %w", err)
			}
			password, err := readPassword(cmd)
			if err != nil {
				return err
			}
			cert := model.Certificate{Name: name, Notes: notes}
			if cert.Name == "" {
				cert.Name = strings.TrimSuffix(filepath.Base(args[0]), filepath.Ext(args[0]))
			}
			for _, n := range envs {
				e, err := c.FindEnvironment(cmd.Context(), n)
				if err != nil {
					return err
				}
				cert.EnvironmentIDs = append(cert.EnvironmentIDs, e.ID)
			}
			cert, err = c.UploadCertificate(cmd.Context(), cert, file, password)
			if err != nil {
				return err
			}
			return a.print(cert, func() {
				fmt.Fprintf(a.stdout, "Imported certificate %q (%s): %s, thumbprint %s, valid until %s\n",
					cert.Name, cert.ID, cert.Subject, cert.Thumbprint, cert.NotAfter.Format("2006-01-02"))
			})
		}}
	importCmd.Flags().StringVar(&name, "name", "", "the certificate's name (the file's name when left out)")
	importCmd.Flags().StringVar(&notes, "notes", "", "notes on the certificate")
	importCmd.Flags().StringArrayVar(&envs, "environment", nil, "an environment that may use it (repeat; all when left out)")
	passwordFlags(importCmd)

	var archived bool
	list := &cobra.Command{Use: "list", Short: "List certificates, with expired and expiring ones flagged", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			certs, err := c.Certificates(cmd.Context(), archived)
			if err != nil {
				return err
			}
			return a.print(certs, func() {
				rows := make([][]string, 0, len(certs))
				for _, ct := range certs {
					rows = append(rows, []string{ct.ID, ct.Name, ct.SubjectCommonName, ct.Thumbprint, ct.NotAfter.Format("2006-01-02"), certificateState(ct)})
				}
				a.table([]string{"ID", "NAME", "SUBJECT CN", "THUMBPRINT", "NOT AFTER", "STATE"}, rows)
			})
		}}
	list.Flags().BoolVar(&archived, "archived", false, "list archived certificates too (with the earlier versions replacing kept)")

	show := &cobra.Command{Use: "show CERTIFICATE", Short: "Show what was read from a certificate, the variables that use it and its earlier versions", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cert, err := clientAndFind(a, cmd.Context(), (*client.Client).FindCertificate, args[0])
			if err != nil {
				return err
			}
			uses, err := c.CertificateUsage(cmd.Context(), cert.ID)
			if err != nil {
				return err
			}
			backups, err := c.CertificateBackups(cmd.Context(), cert.ID)
			if err != nil {
				return err
			}
			out := struct {
				model.Certificate
				Usage            []model.CertificateUse `json:"usage"`
				PreviousVersions []model.Certificate    `json:"previousVersions,omitempty"`
			}{cert, uses, backups}
			return a.print(out, func() {
				w := a.stdout
				fmt.Fprintf(w, "%s (%s)\n", cert.Name, cert.ID)
				fmt.Fprintf(w, "  Subject:     %s\n  Issuer:      %s\n  Thumbprint:  %s\n  Serial:      %s\n", cert.Subject, cert.Issuer, cert.Thumbprint, cert.SerialNumber)
				fmt.Fprintf(w, "  Valid:       %s to %s (%s)\n", cert.NotBefore.Format("2006-01-02 15:04"), cert.NotAfter.Format("2006-01-02 15:04 MST"), certificateState(cert))
				if len(cert.SubjectAlternativeNames) > 0 {
					fmt.Fprintf(w, "  Names:       %s\n", strings.Join(cert.SubjectAlternativeNames, ", "))
				}
				fmt.Fprintf(w, "  Private key: %v   Self-signed: %v   Chain: %d   Format: %s\n", yesNo(cert.HasPrivateKey), yesNo(cert.SelfSigned), cert.ChainLength, cert.Format)
				if len(cert.EnvironmentIDs) > 0 {
					fmt.Fprintf(w, "  Environments: %s\n", strings.Join(cert.EnvironmentIDs, ", "))
				}
				if cert.ReplacedBy != "" {
					fmt.Fprintf(w, "  Replaced by: %s on %s\n", cert.ReplacedBy, cert.ReplacedAt.Format("2006-01-02 15:04 MST"))
				}
				for _, u := range uses {
					fmt.Fprintf(w, "  Used by variable %s of %s %s\n", u.Variable, u.Owner, u.OwnerName)
				}
				if len(backups) > 0 {
					fmt.Fprintln(w, "  Previous versions:")
					for _, b := range backups {
						fmt.Fprintf(w, "    %s  thumbprint %s, valid until %s, replaced %s\n", b.ID, b.Thumbprint, b.NotAfter.Format("2006-01-02"), b.ReplacedAt.Format("2006-01-02 15:04 MST"))
					}
				}
			})
		}}

	replace := &cobra.Command{Use: "replace CERTIFICATE FILE", Short: "Replace a certificate's file with a renewed one, keeping its id (the previous one is kept, archived)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cert, err := clientAndFind(a, cmd.Context(), (*client.Client).FindCertificate, args[0])
			if err != nil {
				return err
			}
			file, err := os.ReadFile(args[1])
			if err != nil {
				return fmt.Errorf("read the certificate: %w", err)
			}
			password, err := readPassword(cmd)
			if err != nil {
				return err
			}
			cert, err = c.ReplaceCertificate(cmd.Context(), cert.ID, file, password)
			if err != nil {
				return err
			}
			return a.print(cert, func() {
				fmt.Fprintf(a.stdout, "Replaced certificate %q (%s): thumbprint %s, valid until %s\n", cert.Name, cert.ID, cert.Thumbprint, cert.NotAfter.Format("2006-01-02"))
				if backups, err := c.CertificateBackups(cmd.Context(), cert.ID); err == nil && len(backups) > 0 {
					fmt.Fprintf(a.stdout, "The previous one is kept, archived, as %s (thumbprint %s)\n", backups[0].ID, backups[0].Thumbprint)
				}
			})
		}}
	passwordFlags(replace)

	var restore bool
	archive := &cobra.Command{Use: "archive CERTIFICATE", Short: "Archive a certificate (variables naming it keep working), or bring it back with --restore", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cert, err := clientAndFind(a, cmd.Context(), (*client.Client).FindCertificate, args[0])
			if err != nil {
				return err
			}
			if cert, err = c.ArchiveCertificate(cmd.Context(), cert.ID, !restore); err != nil {
				return err
			}
			return a.print(cert, func() {
				if restore {
					fmt.Fprintf(a.stdout, "Restored certificate %q (%s)\n", cert.Name, cert.ID)
				} else {
					fmt.Fprintf(a.stdout, "Archived certificate %q (%s)\n", cert.Name, cert.ID)
				}
			})
		}}
	archive.Flags().BoolVar(&restore, "restore", false, "bring an archived certificate back")

	del := &cobra.Command{Use: "delete CERTIFICATE", Short: "Delete a certificate no variable uses, with its archived earlier versions", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cert, err := clientAndFind(a, cmd.Context(), (*client.Client).FindCertificate, args[0])
			if err != nil {
				return err
			}
			if err := c.DeleteCertificate(cmd.Context(), cert.ID); err != nil {
				return err
			}
			return a.print(map[string]string{"deleted": cert.ID}, func() { fmt.Fprintf(a.stdout, "Deleted certificate %q (%s)\n", cert.Name, cert.ID) })
		}}

	var newName, newNotes string
	var newEnvs []string
	var allEnvs bool
	update := &cobra.Command{Use: "update CERTIFICATE", Short: "Change a certificate's name, notes or environments (its file changes with replace)", Args: cobra.ExactArgs(1),
		Example: `  pulpo certificate update "Site TLS" --environment Staging --environment Production
  pulpo certificate update "Site TLS" --all-environments --notes "renewed by ops"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cert, err := clientAndFind(a, cmd.Context(), (*client.Client).FindCertificate, args[0])
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("name") {
				cert.Name = newName
			}
			if cmd.Flags().Changed("notes") {
				cert.Notes = newNotes
			}
			if allEnvs && len(newEnvs) > 0 {
				return errors.New("give --environment or --all-environments, not both")
			}
			if allEnvs {
				cert.EnvironmentIDs = nil
			}
			if len(newEnvs) > 0 {
				cert.EnvironmentIDs = nil
				for _, n := range newEnvs {
					e, err := c.FindEnvironment(cmd.Context(), n)
					if err != nil {
						return err
					}
					cert.EnvironmentIDs = append(cert.EnvironmentIDs, e.ID)
				}
			}
			if cert, err = c.UpdateCertificate(cmd.Context(), cert); err != nil {
				return err
			}
			return a.print(cert, func() { fmt.Fprintf(a.stdout, "Updated certificate %q (%s)\n", cert.Name, cert.ID) })
		}}
	update.Flags().StringVar(&newName, "name", "", "a new name")
	update.Flags().StringVar(&newNotes, "notes", "", "new notes")
	update.Flags().StringArrayVar(&newEnvs, "environment", nil, "an environment that may use it (repeat; replaces the list)")
	update.Flags().BoolVar(&allEnvs, "all-environments", false, "let every environment use it")

	download := &cobra.Command{Use: "download CERTIFICATE", Short: "Write the public certificate (PEM, never the key) to standard output", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cert, err := clientAndFind(a, cmd.Context(), (*client.Client).FindCertificate, args[0])
			if err != nil {
				return err
			}
			b, err := c.PublicCertificate(cmd.Context(), cert.ID)
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(b)
			return err
		}}
	cmd.AddCommand(importCmd, list, show, update, replace, archive, del, download)
	return cmd
}

// certificateState says whether a certificate can be used as it is.
func certificateState(c model.Certificate) string {
	switch {
	case c.Archived && c.ReplacedBy != "":
		return "archived, replaced by " + c.ReplacedBy
	case c.Archived:
		return "archived"
	case c.Expired:
		return "EXPIRED"
	case c.ExpiringSoon:
		return "expiring soon"
	}
	return "valid"
}

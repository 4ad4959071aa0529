package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// isTerminal reports whether w is a terminal a progress bar can draw on.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// packageRef finds a package version by feed id or by id and version.
func packageRef(args []string) (string, error) {
	switch len(args) {
	case 1:
		if strings.HasPrefix(args[0], "packages-") {
			return args[0], nil
		}
		return "", fmt.Errorf("give the package as ID VERSION (or its feed id, packages-ID.VERSION)")
	case 2:
		return model.PackageKey(args[0], args[1]), nil
	}
	return "", fmt.Errorf("give the package as ID VERSION")
}

func (a *app) packageCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "package", Aliases: []string{"packages", "pkg"}, Short: "Push, list, download and delete packages in the built-in feed"}
	var opts client.PushOptions
	var noProgress bool
	push := &cobra.Command{Use: "push FILE...", Short: "Push package files to the built-in feed", Args: cobra.MinimumNArgs(1),
		Long: `Push package files (.tar.gz, .tgz, .tar, .zip, .nupkg) to the built-in feed.
The package id and version are read from the file name (myapp.1.4.0.tar.gz is
myapp 1.4.0), or given with --package-id and --version. The upload streams,
and the server keeps nothing of a push that was cut short.`,
		Example: `  pulpo package push myapp.1.4.0.tar.gz
  pulpo package push build/output.zip --package-id myapp --version 1.4.0-beta.2
  pulpo package push myapp.1.4.0.tar.gz --overwrite-mode ignore`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 && (opts.PackageID != "" || opts.Version != "") {
				return fmt.Errorf("--package-id and --version name one package; push one file at a time with them")
			}
			switch strings.ToLower(opts.OverwriteMode) {
			case "", "fail", "failifexists", "overwrite", "overwriteexisting", "ignore", "ignoreifexists":
			default:
				return fmt.Errorf("--overwrite-mode must be fail, overwrite or ignore, not %q", opts.OverwriteMode)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var results []any
			for _, path := range args {
				f, err := os.Open(path)
				if err != nil {
					return fmt.Errorf("open %s: %w", path, err)
				}
				st, err := f.Stat()
				if err != nil {
					f.Close()
					return err
				}
				var body io.Reader = f
				if !noProgress && isTerminal(a.stderr) && a.output == "text" {
					bar := progressbar.NewOptions64(st.Size(), progressbar.OptionSetWriter(a.stderr), progressbar.OptionShowBytes(true),
						progressbar.OptionSetDescription(filepath.Base(path)), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100_000_000))
					r := progressbar.NewReader(f, bar)
					body = &r
				}
				res, err := c.PushPackage(cmd.Context(), filepath.Base(path), body, st.Size(), opts)
				f.Close()
				if err != nil {
					return fmt.Errorf("push %s: %w", path, err)
				}
				results = append(results, res)
				if a.output == "text" {
					p := res.Package
					fmt.Fprintf(a.stdout, "%s %s %s (%s, sha256 %s)\n", strings.ToUpper(res.Outcome[:1])+res.Outcome[1:], p.PackageID, p.Version,
						byteSize(p.SizeBytes), p.SHA256)
					for _, r := range res.Releases {
						fmt.Fprintf(a.stdout, "  a trigger created release %s (%s)\n", r.Version, r.ID)
					}
				}
				for _, problem := range res.TriggerProblems {
					fmt.Fprintf(a.stderr, "Warning: %s\n", problem)
				}
			}
			if a.output == "json" {
				if len(results) == 1 {
					return a.printJSON(results[0])
				}
				return a.printJSON(results)
			}
			return nil
		}}
	push.Flags().StringVar(&opts.PackageID, "package-id", "", "the package id, when the file name does not say it")
	push.Flags().StringVar(&opts.Version, "version", "", "the version, when the file name does not say it")
	push.Flags().StringVar(&opts.OverwriteMode, "overwrite-mode", "fail", "when the version exists: fail, overwrite or ignore")
	push.Flags().BoolVar(&noProgress, "no-progress", false, "no progress bar")

	var packageID string
	list := &cobra.Command{Use: "list", Short: "List packages, each one's newest version first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ps, err := c.Packages(cmd.Context(), client.ListOptions{Filters: map[string]string{"packageId": packageID}})
			if err != nil {
				return err
			}
			return a.print(nonNil(ps), func() {
				var rows [][]string
				for _, p := range ps {
					rows = append(rows, []string{p.PackageID, p.Version, byteSize(p.SizeBytes), p.PublishedAt.Local().Format("2006-01-02 15:04"), p.SHA256[:12]})
				}
				a.table([]string{"PACKAGE", "VERSION", "SIZE", "PUSHED", "SHA256"}, rows)
			})
		}}
	list.Flags().StringVar(&packageID, "package-id", "", "only this package's versions")
	show := &cobra.Command{Use: "show ID VERSION", Short: "Show a package version", Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := packageRef(args)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := c.Package(cmd.Context(), ref)
			if err != nil {
				return err
			}
			return a.print(p, func() {
				a.fields("Id", p.ID, "Package", p.PackageID, "Version", p.Version, "File", p.FileName(), "Size", byteSize(p.SizeBytes),
					"SHA-256", p.SHA256, "Pushed", p.PublishedAt.Local().Format("2006-01-02 15:04:05"), "Pushed by", p.PublishedBy)
			})
		}}
	var outFile string
	download := &cobra.Command{Use: "download ID VERSION", Short: "Download a package version, checking its SHA-256", Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := packageRef(args)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := c.Package(cmd.Context(), ref)
			if err != nil {
				return err
			}
			if outFile == "" {
				outFile = p.FileName()
			}
			tmp := outFile + ".part"
			f, err := os.Create(tmp)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = c.DownloadPackage(cmd.Context(), ref, io.MultiWriter(f, h))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil && hex.EncodeToString(h.Sum(nil)) != p.SHA256 {
				err = fmt.Errorf("the download's SHA-256 does not match the feed's: try again")
			}
			if err != nil {
				os.Remove(tmp)
				return err
			}
			if err := os.Rename(tmp, outFile); err != nil {
				return err
			}
			return a.print(p, func() { fmt.Fprintf(a.stdout, "Downloaded %s (%s, sha256 checked)\n", outFile, byteSize(p.SizeBytes)) })
		}}
	download.Flags().StringVarP(&outFile, "file", "f", "", "where to write it (default the package's file name)")
	del := &cobra.Command{Use: "delete ID VERSION", Short: "Delete a package version from the feed", Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := packageRef(args)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.DeletePackage(cmd.Context(), ref); err != nil {
				return err
			}
			return a.print(map[string]string{"deleted": ref}, func() { fmt.Fprintf(a.stdout, "Deleted %s\n", ref) })
		}}
	cmd.AddCommand(push, list, show, download, del)
	return cmd
}

func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

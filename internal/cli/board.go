package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// parseWorkItems reads --work-item 'ID|Title|URL' values.
func parseWorkItems(specs []string) ([]model.WorkItem, error) {
	var out []model.WorkItem
	for _, spec := range specs {
		parts := strings.SplitN(spec, "|", 3)
		w := model.WorkItem{ID: strings.TrimSpace(parts[0])}
		if len(parts) > 1 {
			w.Title = strings.TrimSpace(parts[1])
		}
		if len(parts) > 2 {
			w.URL = strings.TrimSpace(parts[2])
		}
		if w.ID == "" {
			return nil, fmt.Errorf("--work-item takes 'ID|Title|URL' (title and URL optional), not %q", spec)
		}
		out = append(out, w)
	}
	return out, nil
}

// boardCommand shows the release board and manages its share links.
func (a *app) boardCommand() *cobra.Command {
	var project, group, env string
	cmd := &cobra.Command{Use: "board", Short: "Show the release board: the release live in each environment, since when, who deployed and approved it",
		Long: `Show the release board: per project and environment, the release live there
(the newest successful deployment), when it went live, who deployed it, who
approved its manual interventions, and its work items. A newer deployment
that is under way or failed shows beside it ("1.5.0 deploying").

"pulpo board share create" makes a link that shows the board to people
without an account.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			f := client.BoardFilter{}
			if project != "" {
				p, err := c.FindProject(cmd.Context(), project)
				if err != nil {
					return err
				}
				f.ProjectID = p.ID
			}
			if group != "" {
				g, err := c.FindProjectGroup(cmd.Context(), group)
				if err != nil {
					return err
				}
				f.ProjectGroupID = g.ID
			}
			if env != "" {
				e, err := c.FindEnvironment(cmd.Context(), env)
				if err != nil {
					return err
				}
				f.EnvironmentID = e.ID
			}
			b, err := c.ReleaseBoard(cmd.Context(), f)
			if err != nil {
				return err
			}
			return a.print(b, func() { a.printBoard(b) })
		}}
	cmd.Flags().StringVarP(&project, "project", "p", "", "only this project")
	cmd.Flags().StringVar(&group, "project-group", "", "only this project group's projects")
	cmd.Flags().StringVarP(&env, "environment", "e", "", "only this environment")
	cmd.AddCommand(a.boardShareCommand())
	return cmd
}

// printBoard writes one line per project and environment.
func (a *app) printBoard(b model.Board) {
	var rows [][]string
	for _, g := range b.Groups {
		for _, p := range g.Projects {
			for i, c := range p.Cells {
				env := b.Environments[i].Name
				row := []string{g.Name, p.Name, env, "-", "", "", "", "", ""}
				if l := c.Live; l != nil {
					var items []string
					for _, w := range l.WorkItems {
						items = append(items, w.ID)
					}
					row[3], row[4], row[5], row[6], row[8] = l.Version, l.LiveSince.Local().Format("2006-01-02 15:04"), l.DeployedBy,
						strings.Join(l.ApprovedBy, ", "), strings.Join(items, ", ")
				}
				if n := c.Newer; n != nil {
					row[7] = n.Version + " " + n.Label()
				}
				rows = append(rows, row)
			}
		}
	}
	a.table([]string{"GROUP", "PROJECT", "ENVIRONMENT", "LIVE", "SINCE", "DEPLOYED BY", "APPROVED BY", "NEWER", "WORK ITEMS"}, rows)
}

func (a *app) boardShareCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "share", Short: "Links that show the release board without logging in"}
	var project, group string
	var expires time.Duration
	create := &cobra.Command{Use: "create NAME", Short: "Make a share link (its token is shown once)", Args: cobra.ExactArgs(1),
		Example: `  pulpo board share create "Sales wall screen" --project-group Shop --expires 720h`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			req := wire.CreateBoardShareRequest{Name: args[0]}
			if project != "" {
				p, err := c.FindProject(cmd.Context(), project)
				if err != nil {
					return err
				}
				req.ProjectID = p.ID
			}
			if group != "" {
				g, err := c.FindProjectGroup(cmd.Context(), group)
				if err != nil {
					return err
				}
				req.ProjectGroupID = g.ID
			}
			if expires > 0 {
				t := time.Now().Add(expires).UTC()
				req.ExpiresAt = &t
			}
			s, err := c.CreateBoardShare(cmd.Context(), req)
			if err != nil {
				return err
			}
			return a.print(s, func() {
				fmt.Fprintf(a.stdout, "Created share link %q (%s). Give this address to its readers; it is not shown again:\n%s%s\n",
					s.Share.Name, s.Share.ID, strings.TrimSuffix(c.ServerURL(), "/"), s.Path)
			})
		}}
	create.Flags().StringVarP(&project, "project", "p", "", "show only this project")
	create.Flags().StringVar(&group, "project-group", "", "show only this project group's projects")
	create.Flags().DurationVar(&expires, "expires", 0, "stop working after this long (e.g. 720h); never when omitted")

	list := &cobra.Command{Use: "list", Short: "List share links", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			shares, err := c.BoardShares(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(shares, func() {
				rows := make([][]string, 0, len(shares))
				names := newNamer(cmd.Context(), c)
				for _, s := range shares {
					scope, state := "everything", "active"
					switch {
					case s.ProjectID != "":
						scope = "project " + names.project(s.ProjectID)
					case s.ProjectGroupID != "":
						scope = "project group " + names.group(s.ProjectGroupID)
					}
					expiry := "never"
					if s.ExpiresAt != nil {
						expiry = s.ExpiresAt.Local().Format("2006-01-02 15:04")
						if !s.ExpiresAt.After(time.Now()) {
							state = "expired"
						}
					}
					if s.RevokedAt != nil {
						state = "revoked by " + s.RevokedBy
					}
					rows = append(rows, []string{s.ID, s.Name, scope, expiry, state, s.CreatedBy})
				}
				a.table([]string{"ID", "NAME", "SHOWS", "EXPIRES", "STATE", "CREATED BY"}, rows)
			})
		}}
	revoke := &cobra.Command{Use: "revoke ID", Short: "Revoke a share link: it stops working at once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			s, err := c.RevokeBoardShare(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.print(s, func() { fmt.Fprintf(a.stdout, "Revoked share link %q (%s)\n", s.Name, s.ID) })
		}}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// buildInformationCommand pushes and lists CI build information.
func (a *app) buildInformationCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "build-information", Aliases: []string{"build-info"},
		Short: "Tell Pulpo what a CI build made: build URL, commits and work items of a package version"}
	var b model.BuildInformation
	var file, mode string
	var workItems, commits []string
	push := &cobra.Command{Use: "push", Short: "Record build information for a package version (from flags, or a JSON file)", Args: cobra.NoArgs,
		Long: `Record build information for a package version, as a CI build does after
pushing the package. Releases created later with that version take its work
items; they keep them even if the build information is pushed again.

--file reads the whole record as JSON (packageId, version, buildUrl,
buildNumber, branch, vcsType, vcsRoot, commits [{id, comment, url}],
workItems [{id, title, url}]); flags given beside it win.`,
		Example: `  pulpo build-information push --package-id web --version 1.4.0 --build-url "$CI_JOB_URL" \
      --commit "$GIT_SHA|$(git log -1 --format=%s)" --work-item 'WEB-12|Faster checkout|https://issues.example.com/WEB-12'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			in := model.BuildInformation{}
			if file != "" {
				raw, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("read build information: %w", err)
				}
				if err := json.Unmarshal(raw, &in); err != nil {
					return fmt.Errorf("read build information from %s: %w", file, err)
				}
			}
			for _, set := range []struct{ from, to *string }{{&b.PackageID, &in.PackageID}, {&b.Version, &in.Version}, {&b.BuildURL, &in.BuildURL},
				{&b.BuildNumber, &in.BuildNumber}, {&b.Branch, &in.Branch}, {&b.VcsType, &in.VcsType}, {&b.VcsRoot, &in.VcsRoot}} {
				if *set.from != "" {
					*set.to = *set.from
				}
			}
			items, err := parseWorkItems(workItems)
			if err != nil {
				return err
			}
			in.WorkItems = append(in.WorkItems, items...)
			for _, spec := range commits {
				id, comment, _ := strings.Cut(spec, "|")
				in.Commits = append(in.Commits, model.Commit{ID: strings.TrimSpace(id), Comment: strings.TrimSpace(comment)})
			}
			res, err := c.PushBuildInformation(cmd.Context(), in, mode)
			if err != nil {
				return err
			}
			return a.print(res, func() {
				fmt.Fprintf(a.stdout, "%s build information for %s %s (%s): %d commits, %d work items\n", res.Outcome,
					res.BuildInformation.PackageID, res.BuildInformation.Version, res.BuildInformation.ID,
					len(res.BuildInformation.Commits), len(res.BuildInformation.WorkItems))
			})
		}}
	push.Flags().StringVar(&b.PackageID, "package-id", "", "the package id (required, unless in --file)")
	push.Flags().StringVar(&b.Version, "version", "", "the package version (required, unless in --file)")
	push.Flags().StringVar(&b.BuildURL, "build-url", "", "the build's page on the CI server")
	push.Flags().StringVar(&b.BuildNumber, "build-number", "", "the CI build number")
	push.Flags().StringVar(&b.Branch, "branch", "", "the branch built")
	push.Flags().StringVar(&b.VcsType, "vcs-type", "", "the version control system (Git)")
	push.Flags().StringVar(&b.VcsRoot, "vcs-root", "", "the repository's URL")
	push.Flags().StringArrayVar(&commits, "commit", nil, "a commit, 'ID|comment' (repeat)")
	push.Flags().StringArrayVar(&workItems, "work-item", nil, "a work item, 'ID|Title|URL' (repeat)")
	push.Flags().StringVarP(&file, "file", "f", "", "a JSON file with the build information")
	push.Flags().StringVar(&mode, "overwrite-mode", "", "when the version already has build information: FailIfExists (default), OverwriteExisting or IgnoreIfExists")

	var pkg string
	list := &cobra.Command{Use: "list", Short: "List build information, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			items, err := c.BuildInformation(cmd.Context(), pkg)
			if err != nil {
				return err
			}
			return a.print(items, func() {
				rows := make([][]string, 0, len(items))
				for _, b := range items {
					var ids []string
					for _, w := range b.WorkItems {
						ids = append(ids, w.ID)
					}
					rows = append(rows, []string{b.ID, b.PackageID, b.Version, b.BuildURL, fmt.Sprint(len(b.Commits)), strings.Join(ids, ", ")})
				}
				a.table([]string{"ID", "PACKAGE", "VERSION", "BUILD", "COMMITS", "WORK ITEMS"}, rows)
			})
		}}
	list.Flags().StringVar(&pkg, "package-id", "", "only this package's")
	cmd.AddCommand(push, list)
	return cmd
}

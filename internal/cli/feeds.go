package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// feedCommand manages external feeds.
func (a *app) feedCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "feed", Aliases: []string{"feeds"},
		Short: "External package feeds: Docker/OCI registries, NuGet v3, Maven, Helm, GitHub releases, HTTP folders",
		Long: `External package feeds a release can take its package versions from. The
built-in feed (feeds-builtin) is always there and cannot be changed.

Package ids by type:
  docker  the image without host or tag: team/app (Docker Hub: nginx, bitnami/redis)
  nuget   the NuGet id: Acme.Web; the URL is the v3 service index (.../v3/index.json;
          TeamCity: https://TEAMCITY/httpAuth/app/nuget/feed/PROJECT/FEED/v3/index.json)
  maven   groupId:artifactId, optionally :jar, :war, :ear, :zip or :tar.gz
  helm    the chart's name; the URL is the repository (where index.yaml is)
  github  owner/repo; the URL is the API (https://api.github.com, or
          https://HOST/api/v3), the token goes in the password
  http    a folder of files named ID.VERSION.tar.gz (.zip, .tgz, .nupkg...)`}

	var typ, url, username string
	var passwordStdin bool
	readPassword := func(cmd *cobra.Command) (string, error) {
		if !passwordStdin {
			return "", nil
		}
		lines, err := readStdinLines(cmd, 1, "--password-stdin")
		if err != nil {
			return "", err
		}
		return lines[0], nil
	}
	flags := func(c *cobra.Command) {
		c.Flags().StringVar(&typ, "type", "", "docker, nuget, maven, helm, github or http")
		c.Flags().StringVar(&url, "url", "", "the feed's address (see pulpo feed --help)")
		c.Flags().StringVar(&username, "username", "", "the feed's username")
		c.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the feed's password or token from the first line of standard input")
	}
	printFeed := func(f model.Feed, verb string) error {
		return a.print(f, func() { fmt.Fprintf(a.stdout, "%s feed %q (%s)\n", verb, f.Name, f.ID) })
	}

	create := &cobra.Command{Use: "create NAME", Short: "Add an external feed", Args: cobra.ExactArgs(1),
		Example: `  pulpo feed create Registry --type docker --url https://registry.example.com --username ci --password-stdin < token.txt
  pulpo feed create TeamCity --type nuget --url https://tc.example.com/httpAuth/app/nuget/feed/Web/default/v3/index.json --username ci --password-stdin
  pulpo feed create GitHub --type github`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			pw, err := readPassword(cmd)
			if err != nil {
				return err
			}
			f, err := c.CreateFeed(cmd.Context(), model.Feed{Name: args[0], Type: model.FeedType(typ), URL: url, Username: username, Password: pw})
			if err != nil {
				return err
			}
			return printFeed(f, "Created")
		}}
	flags(create)

	var name string
	update := &cobra.Command{Use: "update FEED", Short: "Change a feed; what is not given stays (the password too, without --password-stdin)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, f, err := clientAndFind(a, cmd.Context(), (*client.Client).FindFeed, args[0])
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			if fl.Changed("name") {
				f.Name = name
			}
			if fl.Changed("type") {
				f.Type = model.FeedType(typ)
			}
			if fl.Changed("url") {
				f.URL = url
			}
			if fl.Changed("username") {
				f.Username = username
			}
			if f.Password, err = readPassword(cmd); err != nil {
				return err
			}
			f, err = c.UpdateFeed(cmd.Context(), f)
			if err != nil {
				return err
			}
			return printFeed(f, "Updated")
		}}
	flags(update)
	update.Flags().StringVar(&name, "name", "", "a new name")

	list := &cobra.Command{Use: "list", Short: "List the feeds, the built-in one first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			feeds, err := c.Feeds(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(feeds, func() {
				rows := make([][]string, 0, len(feeds))
				for _, f := range feeds {
					rows = append(rows, []string{f.ID, f.Name, string(f.Type), f.URL, f.Username, credentialState(f)})
				}
				a.table([]string{"ID", "NAME", "TYPE", "URL", "USERNAME", "PASSWORD"}, rows)
			})
		}}
	show := &cobra.Command{Use: "show FEED", Short: "Show a feed (its password never)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, f, err := clientAndFind(a, cmd.Context(), (*client.Client).FindFeed, args[0])
			if err != nil {
				return err
			}
			return a.print(f, func() {
				fmt.Fprintf(a.stdout, "ID:        %s\nName:      %s\nType:      %s\n", f.ID, f.Name, f.Type)
				if f.Type != model.FeedBuiltIn {
					fmt.Fprintf(a.stdout, "URL:       %s\nUsername:  %s\nPassword:  %s\n", f.URL, f.Username, credentialState(f))
				}
			})
		}}
	del := &cobra.Command{Use: "delete FEED", Short: "Remove an external feed", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, f, err := clientAndFind(a, cmd.Context(), (*client.Client).FindFeed, args[0])
			if err != nil {
				return err
			}
			if err := c.DeleteFeed(cmd.Context(), f.ID); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Deleted feed %q\n", f.Name)
			return nil
		}}
	test := &cobra.Command{Use: "test FEED", Short: "Check that a feed answers and takes its credentials", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, f, err := clientAndFind(a, cmd.Context(), (*client.Client).FindFeed, args[0])
			if err != nil {
				return err
			}
			res, err := c.TestFeed(cmd.Context(), f.ID)
			if err != nil {
				return err
			}
			return a.print(res, func() { fmt.Fprintln(a.stdout, res.Message) })
		}}
	var take int
	search := &cobra.Command{Use: "search FEED [TERM]", Short: "Search a feed's package ids (Maven: give groupId:artifactId exactly)", Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, f, err := clientAndFind(a, cmd.Context(), (*client.Client).FindFeed, args[0])
			if err != nil {
				return err
			}
			term := ""
			if len(args) == 2 {
				term = args[1]
			}
			res, err := c.SearchFeed(cmd.Context(), f.ID, term, take)
			if err != nil {
				return err
			}
			return a.print(res, func() {
				if len(res.Packages) == 0 {
					fmt.Fprintln(a.stdout, "No package matches.")
				}
				fmt.Fprint(a.stdout, feedLines(res.Packages))
			})
		}}
	search.Flags().IntVar(&take, "take", 0, "at most this many (default 30)")
	versions := &cobra.Command{Use: "versions FEED PACKAGE", Short: "List a package's versions in a feed, newest first", Args: cobra.ExactArgs(2),
		Example: `  pulpo feed versions Registry team/web
  pulpo feed versions Nexus org.example:web:war --take 5`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, f, err := clientAndFind(a, cmd.Context(), (*client.Client).FindFeed, args[0])
			if err != nil {
				return err
			}
			res, err := c.FeedVersions(cmd.Context(), f.ID, args[1], take)
			if err != nil {
				return err
			}
			return a.print(res, func() {
				fmt.Fprint(a.stdout, feedLines(res.Versions))
				if res.Total > len(res.Versions) {
					fmt.Fprintf(a.stdout, "(%d of %d versions; --take shows more)\n", len(res.Versions), res.Total)
				}
			})
		}}
	versions.Flags().IntVar(&take, "take", 0, "at most this many (default 100)")
	cmd.AddCommand(create, list, show, update, del, test, search, versions)
	return cmd
}

func credentialState(f model.Feed) string {
	if f.HasPassword {
		return "set"
	}
	if f.Type == model.FeedBuiltIn {
		return ""
	}
	return "none"
}

func feedLines(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return strings.Join(items, "\n") + "\n"
}

package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

const timeLayout = "2006-01-02 15:04"

// userCommand manages users, service accounts and their API keys.
func (a *app) userCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Aliases: []string{"users"},
		Short: "Manage users, service accounts and their API keys",
		Long: `Manage the people and service accounts that act on the server. People log in
with a password (the portal, or "pulpo login"); service accounts have no
password and act only through API keys, for CI jobs and scripts. What either
may do comes from the teams they are in ("pulpo team"), or from being an
administrator.

USER is a user's id or username.`}

	var partial string
	list := &cobra.Command{Use: "list", Short: "List users and service accounts", Args: cobra.NoArgs,
		Example: `  pulpo user list
  pulpo user list --partial-name ci-`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			users, err := c.AllUsers(cmd.Context(), client.ListOptions{PartialName: partial})
			if err != nil {
				return err
			}
			return a.print(nonNil(users), func() {
				rows := make([][]string, 0, len(users))
				for _, u := range users {
					rows = append(rows, []string{u.ID, u.Username, u.DisplayName, userKind(u), yesNo(u.IsAdmin), userState(u)})
				}
				a.table([]string{"ID", "USERNAME", "DISPLAY NAME", "KIND", "ADMIN", "STATE"}, rows)
			})
		}}
	list.Flags().StringVar(&partial, "partial-name", "", "only users whose username contains this")

	show := &cobra.Command{Use: "show USER", Short: "Show a user and the teams they are in", Args: cobra.ExactArgs(1),
		Example: `  pulpo user show alice`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, u, err := clientAndFind(a, cmd.Context(), (*client.Client).FindUser, args[0])
			if err != nil {
				return err
			}
			return a.print(u, func() {
				var teams []string
				if all, err := c.Teams(cmd.Context()); err == nil {
					for _, t := range all {
						if slices.Contains(t.MemberIDs, u.ID) {
							teams = append(teams, t.Name)
						}
					}
				}
				a.fields("ID", u.ID, "Username", u.Username, "Display name", u.DisplayName, "Email", u.EmailAddress,
					"Kind", userKind(u), "Administrator", yesNo(u.IsAdmin), "State", userState(u),
					"Created", u.CreatedAt.Local().Format(timeLayout), "External ID", u.ExternalID,
					"Teams", strings.Join(teams, ", "))
			})
		}}

	var displayName, email string
	var admin, service, passwordStdin bool
	create := &cobra.Command{Use: "create USERNAME", Short: "Create a person (with a password) or a service account", Args: cobra.ExactArgs(1),
		Long: `Create a person, who logs in with a password, or with --service a service
account, which has no password and acts only through API keys.

A person's password is read from the first line of standard input with
--password-stdin, so it stays out of shell history; it must be at least 12
characters. Only administrators may create administrators (--admin).`,
		Example: `  pulpo user create alice --display-name "Alice Smith" --email alice@example.com --password-stdin < password.txt
  pulpo user create ci-deployer --service --display-name "GitHub Actions"
  pulpo user apikey create ci-deployer --purpose "GitHub Actions deploy"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			req := wire.CreateUserRequest{Username: args[0], DisplayName: displayName, EmailAddress: email, IsAdmin: admin, IsService: service}
			switch {
			case service && passwordStdin:
				return errors.New("service accounts have no password: leave out --password-stdin, and create an API key for them with \"pulpo user apikey create\"")
			case !service && !passwordStdin:
				return errors.New("a person needs a password: give it on standard input with --password-stdin (or use --service for an account with API keys only)")
			case passwordStdin:
				lines, err := readStdinLines(cmd, 1, "--password-stdin")
				if err != nil {
					return err
				}
				req.Password = lines[0]
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			u, err := c.CreateUser(cmd.Context(), req)
			if err != nil {
				return err
			}
			return a.print(u, func() {
				fmt.Fprintf(a.stdout, "Created %s %s (%s)\n", userKind(u), u.Username, u.ID)
			})
		}}
	create.Flags().StringVar(&displayName, "display-name", "", "the name people see")
	create.Flags().StringVar(&email, "email", "", "email address")
	create.Flags().BoolVar(&admin, "admin", false, "make them an administrator: every permission everywhere")
	create.Flags().BoolVar(&service, "service", false, "a service account: no password, API keys only")
	create.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input (required for people)")

	disable := &cobra.Command{Use: "disable USER", Short: "Disable a user: their sessions end and their API keys are revoked at once", Args: cobra.ExactArgs(1),
		Long: `Disable a user. They can no longer log in, their open sessions end and every
API key of theirs is revoked at once; enabling them again does not bring the
keys back. Only administrators may disable administrators.`,
		Example: `  pulpo user disable bob`,
		RunE:    func(cmd *cobra.Command, args []string) error { return a.setDisabled(cmd, args[0], true) }}
	enable := &cobra.Command{Use: "enable USER", Short: "Enable a disabled user again", Args: cobra.ExactArgs(1),
		Long:    `Enable a disabled user again. Their old API keys stay revoked: create new ones.`,
		Example: `  pulpo user enable bob`,
		RunE:    func(cmd *cobra.Command, args []string) error { return a.setDisabled(cmd, args[0], false) }}

	var newPasswordStdin bool
	setPassword := &cobra.Command{Use: "set-password USER", Short: "Set a user's password (read from standard input)", Args: cobra.ExactArgs(1),
		Long: `Set a user's password, read from standard input with --password-stdin.

For someone else (which needs the UserEdit permission) standard input holds
one line: the new password. For yourself it holds two lines: your current
password, then the new one. Either way the user's other sessions end.`,
		Example: `  printf '%s\n' "$NEW" | pulpo user set-password bob --password-stdin
  printf '%s\n%s\n' "$CURRENT" "$NEW" | pulpo user set-password alice --password-stdin   # alice herself`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !newPasswordStdin {
				return errors.New("give the password on standard input with --password-stdin (for yourself: the current password, then the new one, one per line)")
			}
			c, u, err := clientAndFind(a, cmd.Context(), (*client.Client).FindUser, args[0])
			if err != nil {
				return err
			}
			me, err := c.Me(cmd.Context())
			if err != nil {
				return err
			}
			var current, next string
			if me.ID == u.ID {
				lines, err := readStdinLines(cmd, 2, "--password-stdin (your own password: the current one, then the new one)")
				if err != nil {
					return err
				}
				current, next = lines[0], lines[1]
			} else {
				lines, err := readStdinLines(cmd, 1, "--password-stdin")
				if err != nil {
					return err
				}
				next = lines[0]
			}
			if err := c.SetPassword(cmd.Context(), u.ID, next, current); err != nil {
				return err
			}
			return a.print(map[string]string{"userId": u.ID, "username": u.Username}, func() {
				fmt.Fprintf(a.stdout, "Set the password of %s; their other sessions have ended\n", u.Username)
			})
		}}
	setPassword.Flags().BoolVar(&newPasswordStdin, "password-stdin", false, "read the new password (for yourself: current, then new, one per line) from standard input")

	cmd.AddCommand(list, show, create, disable, enable, setPassword, a.apiKeyCommand())
	return cmd
}

func (a *app) setDisabled(cmd *cobra.Command, user string, disabled bool) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	u, err := c.FindUser(cmd.Context(), user)
	if err != nil {
		return err
	}
	u, err = c.UpdateUser(cmd.Context(), u.ID, wire.UpdateUserRequest{DisplayName: u.DisplayName, EmailAddress: u.EmailAddress,
		IsAdmin: u.IsAdmin, Disabled: disabled})
	if err != nil {
		return err
	}
	return a.print(u, func() {
		if disabled {
			fmt.Fprintf(a.stdout, "Disabled %s (%s): their sessions have ended and their API keys are revoked\n", u.Username, u.ID)
		} else {
			fmt.Fprintf(a.stdout, "Enabled %s (%s)\n", u.Username, u.ID)
		}
	})
}

// apiKeyCommand manages a user's API keys.
func (a *app) apiKeyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Aliases: []string{"apikeys", "api-key"},
		Short: "Manage a user's API keys",
		Long: `Manage the API keys a user (or service account) acts through. The server keeps
only a hash of each key: a key is shown once, when it is created.`}

	var purpose, expires string
	create := &cobra.Command{Use: "create USER", Short: "Create an API key for a user; the key is shown this once", Args: cobra.ExactArgs(1),
		Long: `Create an API key for a user: yourself, or anyone with the UserEdit permission.
The key alone is written to standard output (its details and a reminder to
standard error), so a script may capture it; it cannot be read again later.

--expires takes a span such as 90d or 12h, or a time (RFC 3339 or
"YYYY-MM-DD HH:MM" local time); without it the key does not expire.`,
		Example: `  pulpo user apikey create ci-deployer --purpose "GitHub Actions deploy" --expires 90d
  KEY=$(pulpo user apikey create ci-deployer --purpose nightly --expires 2027-01-01T00:00:00Z)`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if purpose == "" {
				return errors.New("give --purpose: what the key is for, e.g. \"GitHub Actions deploy\"")
			}
			exp, err := parseExpires("--expires", expires, time.Now())
			if err != nil {
				return err
			}
			c, u, err := clientAndFind(a, cmd.Context(), (*client.Client).FindUser, args[0])
			if err != nil {
				return err
			}
			k, err := c.CreateAPIKey(cmd.Context(), u.ID, wire.CreateAPIKeyRequest{Purpose: purpose, ExpiresAt: exp})
			if err != nil {
				return err
			}
			return a.print(k, func() {
				fmt.Fprintf(a.stderr, "Created API key %s for %s (%q, %s). Copy it now: it is not shown again.\n",
					k.Key.ID, u.Username, k.Key.Purpose, expiryText(k.Key.ExpiresAt))
				fmt.Fprintln(a.stdout, k.APIKey)
			})
		}}
	create.Flags().StringVar(&purpose, "purpose", "", "what the key is for (required)")
	create.Flags().StringVar(&expires, "expires", "", "when it expires: a span (90d, 12h) or a time (RFC 3339, \"YYYY-MM-DD HH:MM\"); never when empty")

	list := &cobra.Command{Use: "list USER", Short: "List a user's API keys (never the keys themselves)", Args: cobra.ExactArgs(1),
		Example: `  pulpo user apikey list ci-deployer`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, u, err := clientAndFind(a, cmd.Context(), (*client.Client).FindUser, args[0])
			if err != nil {
				return err
			}
			keys, err := c.APIKeys(cmd.Context(), u.ID)
			if err != nil {
				return err
			}
			return a.print(nonNil(keys), func() {
				rows := make([][]string, 0, len(keys))
				for _, k := range keys {
					last := "never"
					if k.LastUsedAt != nil {
						last = k.LastUsedAt.Local().Format(timeLayout)
					}
					expiry := "never"
					if k.ExpiresAt != nil {
						expiry = k.ExpiresAt.Local().Format(timeLayout)
						if k.ExpiresAt.Before(time.Now()) {
							expiry += " (expired)"
						}
					}
					rows = append(rows, []string{k.ID, k.Purpose, k.CreatedAt.Local().Format(timeLayout), expiry, last})
				}
				a.table([]string{"ID", "PURPOSE", "CREATED", "EXPIRES", "LAST USED"}, rows)
			})
		}}

	revoke := &cobra.Command{Use: "revoke USER KEY-ID", Short: "Revoke a user's API key at once", Args: cobra.ExactArgs(2),
		Long:    `Revoke one of a user's API keys, named by the id "pulpo user apikey list" shows.`,
		Example: `  pulpo user apikey revoke ci-deployer APIKeys-12`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, u, err := clientAndFind(a, cmd.Context(), (*client.Client).FindUser, args[0])
			if err != nil {
				return err
			}
			if err := c.RevokeAPIKey(cmd.Context(), u.ID, args[1]); err != nil {
				return err
			}
			return a.print(map[string]string{"userId": u.ID, "keyId": args[1]}, func() {
				fmt.Fprintf(a.stdout, "Revoked API key %s of %s\n", args[1], u.Username)
			})
		}}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// loginCommand trades a password for an API key of the CLI's own.
func (a *app) loginCommand() *cobra.Command {
	var username, purpose, expires string
	var passwordStdin bool
	cmd := &cobra.Command{Use: "login", Short: "Log in with a password and create an API key for this CLI", Args: cobra.NoArgs,
		Long: `Log in to the server with a username and password, create an API key for
yourself for this CLI, end the login session again, and print the settings
the other commands read as shell export lines:

  export PULPO_SERVER=...
  export PULPO_API_KEY=...

The password is read from the first line of standard input (--password-stdin).
The key is not stored anywhere: evaluate the output in your shell, or keep it
in your secret store. With -o json the values are printed as JSON instead.
Revoke the key with "pulpo user apikey revoke" when you are done.`,
		Example: `  pulpo login --server https://pulpo.example.com --username alice --password-stdin < ~/.pulpo-password
  eval "$(pass pulpo | pulpo login --server http://localhost:8080 --username alice --password-stdin --expires 30d)"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if username == "" {
				return errors.New("give --username")
			}
			if !passwordStdin {
				return errors.New("give the password on standard input with --password-stdin")
			}
			exp, err := parseExpires("--expires", expires, time.Now())
			if err != nil {
				return err
			}
			if purpose == "" {
				host, _ := os.Hostname()
				purpose = "pulpo CLI on " + orID(host, "this machine")
			}
			lines, err := readStdinLines(cmd, 1, "--password-stdin")
			if err != nil {
				return err
			}
			server, thumbprint := a.serverSettings()
			c, err := client.NewWithOptions(server, "", client.Options{Thumbprint: thumbprint})
			if err != nil {
				return err
			}
			u, k, err := c.LoginAndCreateKey(cmd.Context(), username, lines[0], purpose, exp)
			if err != nil {
				return err
			}
			server = strings.TrimSuffix(server, "/")
			out := map[string]any{"server": server, "apiKey": k.APIKey, "user": u, "key": k.Key}
			if thumbprint != "" {
				out["serverThumbprint"] = thumbprint
			}
			return a.print(out, func() {
				fmt.Fprintf(a.stderr, "# Logged in as %s and created API key %s (%q, %s); it is not shown again.\n",
					u.Username, k.Key.ID, k.Key.Purpose, expiryText(k.Key.ExpiresAt))
				fmt.Fprintf(a.stdout, "export PULPO_SERVER=%s\n", shellQuote(server))
				fmt.Fprintf(a.stdout, "export PULPO_API_KEY=%s\n", shellQuote(k.APIKey))
				if thumbprint != "" {
					fmt.Fprintf(a.stdout, "export PULPO_SERVER_THUMBPRINT=%s\n", shellQuote(thumbprint))
				}
			})
		}}
	cmd.Flags().StringVar(&username, "username", "", "your username (required)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input (required)")
	cmd.Flags().StringVar(&purpose, "purpose", "", `the new API key's purpose (default "pulpo CLI on HOST")`)
	cmd.Flags().StringVar(&expires, "expires", "", "when the key expires: a span (30d, 12h) or a time (RFC 3339); never when empty")
	return cmd
}

// whoamiCommand shows the caller and what they may do.
func (a *app) whoamiCommand() *cobra.Command {
	return &cobra.Command{Use: "whoami", Short: "Show who the API key acts as and what they may do", Args: cobra.NoArgs,
		Long: `Show the user the API key belongs to, their teams, and each role they hold
through those teams with its scope: the projects (or project groups) and
environments it reaches, "all" when unlimited. Administrators may do
everything everywhere.`,
		Example: `  pulpo whoami
  pulpo whoami -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			u, err := c.Me(cmd.Context())
			if err != nil {
				return err
			}
			perms, err := c.MyPermissions(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(map[string]any{"user": u, "permissions": perms}, func() {
				teams := make([]string, 0, len(perms.Teams))
				for _, t := range perms.Teams {
					teams = append(teams, t.Name)
				}
				admin := yesNo(perms.IsAdmin)
				if perms.IsAdmin {
					admin = "yes: every permission, everywhere"
				}
				a.fields("User", fmt.Sprintf("%s (%s)", u.Username, u.ID), "Display name", u.DisplayName,
					"Kind", userKind(u), "Administrator", admin, "Teams", orNone(teams))
				if len(perms.Grants) == 0 {
					if !perms.IsAdmin {
						fmt.Fprintln(a.stdout, "\nNo team gives you a role: you may read only yourself.")
					}
					return
				}
				fmt.Fprintln(a.stdout)
				n := newNamer(cmd.Context(), c)
				rows := make([][]string, 0, len(perms.Grants))
				for _, g := range perms.Grants {
					projects, envs := grantScope(model.RoleGrant{ProjectIDs: g.ProjectIDs, ProjectGroupIDs: g.ProjectGroupIDs, EnvironmentIDs: g.EnvironmentIDs}, n)
					rows = append(rows, []string{g.Role, g.Team, projects, envs, strconv.Itoa(len(g.Permissions))})
				}
				a.table([]string{"ROLE", "TEAM", "PROJECTS", "ENVIRONMENTS", "PERMISSIONS"}, rows)
			})
		}}
}

// teamCommand manages teams: who holds which roles where.
func (a *app) teamCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "team", Aliases: []string{"teams"},
		Short: "Manage teams: their members and the roles they hold, and where",
		Long: `A team gives its members roles, each within a scope: some projects (or
project groups) and some environments, or all of them when none are given.
A member may do what any of their teams' roles allows within its scope.

TEAM is a team's id or name, ROLE a role's id or name, USER a user's id or
username.`}

	list := &cobra.Command{Use: "list", Short: "List teams", Args: cobra.NoArgs,
		Example: `  pulpo team list`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			teams, err := c.Teams(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(nonNil(teams), func() {
				roles := roleNames(cmd.Context(), c)
				rows := make([][]string, 0, len(teams))
				for _, t := range teams {
					var rs []string
					for _, g := range t.Roles {
						if name := orID(roles[g.RoleID], g.RoleID); !slices.Contains(rs, name) {
							rs = append(rs, name)
						}
					}
					rows = append(rows, []string{t.ID, t.Name, strconv.Itoa(len(t.MemberIDs)), orNone(rs)})
				}
				a.table([]string{"ID", "NAME", "MEMBERS", "ROLES"}, rows)
			})
		}}

	show := &cobra.Command{Use: "show TEAM", Short: "Show a team's members and role grants", Args: cobra.ExactArgs(1),
		Example: `  pulpo team show "Web deployers"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := clientAndFind(a, cmd.Context(), (*client.Client).FindTeam, args[0])
			if err != nil {
				return err
			}
			return a.print(t, func() {
				users := userNames(cmd.Context(), c)
				members := make([]string, 0, len(t.MemberIDs))
				for _, id := range t.MemberIDs {
					members = append(members, orID(users[id], id))
				}
				a.fields("ID", t.ID, "Name", t.Name, "Description", t.Description, "Members", orNone(members))
				if len(t.Roles) == 0 {
					fmt.Fprintln(a.stdout, "\nThe team holds no role yet: give it one with \"pulpo team grant\".")
					return
				}
				fmt.Fprintln(a.stdout)
				roles := roleNames(cmd.Context(), c)
				n := newNamer(cmd.Context(), c)
				rows := make([][]string, 0, len(t.Roles))
				for _, g := range t.Roles {
					projects, envs := grantScope(g, n)
					rows = append(rows, []string{orID(roles[g.RoleID], g.RoleID), projects, envs})
				}
				a.table([]string{"ROLE", "PROJECTS", "ENVIRONMENTS"}, rows)
			})
		}}

	var description string
	var members []string
	create := &cobra.Command{Use: "create NAME", Short: "Create a team", Args: cobra.ExactArgs(1),
		Long: `Create a team, with members if given. Give it roles with "pulpo team grant".`,
		Example: `  pulpo team create "Web deployers" --description "Deploy the web site" --member alice --member bob
  pulpo team grant "Web deployers" "Project deployer" --project web --environment Dev --environment Test`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			t := model.Team{Name: args[0], Description: description, MemberIDs: []string{}, Roles: []model.RoleGrant{}}
			for _, m := range members {
				u, err := c.FindUser(cmd.Context(), m)
				if err != nil {
					return err
				}
				t.MemberIDs = append(t.MemberIDs, u.ID)
			}
			t, err = c.CreateTeam(cmd.Context(), t)
			if err != nil {
				return err
			}
			return a.print(t, func() {
				fmt.Fprintf(a.stdout, "Created team %s (%s) with %d member(s)\n", t.Name, t.ID, len(t.MemberIDs))
			})
		}}
	create.Flags().StringVar(&description, "description", "", "what the team is for")
	create.Flags().StringArrayVar(&members, "member", nil, "a member, by username or id (repeat)")

	del := deleteCommand(a, "TEAM", "Delete a team (its members lose what it gave them)", "team",
		(*client.Client).FindTeam, (*client.Client).DeleteTeam, func(t model.Team) (string, string) { return t.ID, t.Name })
	del.Example = `  pulpo team delete "Web deployers"`

	addMember := &cobra.Command{Use: "add-member TEAM USER", Short: "Add a user to a team", Args: cobra.ExactArgs(2),
		Example: `  pulpo team add-member "Web deployers" carol`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := clientAndFind(a, cmd.Context(), (*client.Client).FindTeam, args[0])
			if err != nil {
				return err
			}
			u, err := c.FindUser(cmd.Context(), args[1])
			if err != nil {
				return err
			}
			if slices.Contains(t.MemberIDs, u.ID) {
				return a.print(t, func() { fmt.Fprintf(a.stdout, "%s is already a member of %s\n", u.Username, t.Name) })
			}
			t.MemberIDs = append(t.MemberIDs, u.ID)
			if t, err = c.UpdateTeam(cmd.Context(), t); err != nil {
				return err
			}
			return a.print(t, func() { fmt.Fprintf(a.stdout, "Added %s to %s\n", u.Username, t.Name) })
		}}

	removeMember := &cobra.Command{Use: "remove-member TEAM USER", Short: "Remove a user from a team", Args: cobra.ExactArgs(2),
		Example: `  pulpo team remove-member "Web deployers" carol`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := clientAndFind(a, cmd.Context(), (*client.Client).FindTeam, args[0])
			if err != nil {
				return err
			}
			id, name := args[1], args[1]
			if u, err := c.FindUser(cmd.Context(), args[1]); err == nil {
				id, name = u.ID, u.Username
			} else if !slices.Contains(t.MemberIDs, args[1]) {
				return err
			}
			i := slices.Index(t.MemberIDs, id)
			if i < 0 {
				return fmt.Errorf("%s is not a member of %s", name, t.Name)
			}
			t.MemberIDs = slices.Delete(t.MemberIDs, i, i+1)
			if t, err = c.UpdateTeam(cmd.Context(), t); err != nil {
				return err
			}
			return a.print(t, func() { fmt.Fprintf(a.stdout, "Removed %s from %s\n", name, t.Name) })
		}}

	var projects, groups, envs []string
	grant := &cobra.Command{Use: "grant TEAM ROLE", Short: "Give a team a role, on some projects and environments or all", Args: cobra.ExactArgs(2),
		Long: `Give a team a role, limited to the projects (--project), project groups
(--project-group) and environments (--environment) given; a kind not given
is not limited. Each grant is added to those the team already holds; take
a role away again with "pulpo team revoke". You can only grant what you hold.`,
		Example: `  pulpo team grant "Web deployers" "Project deployer" --project web --environment Dev --environment Test
  pulpo team grant Auditors "Project viewer"
  pulpo team grant Platform "Environment manager" --environment Production`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			t, err := c.FindTeam(ctx, args[0])
			if err != nil {
				return err
			}
			r, err := c.FindRole(ctx, args[1])
			if err != nil {
				return err
			}
			g := model.RoleGrant{RoleID: r.ID}
			for _, p := range projects {
				v, err := c.FindProject(ctx, p)
				if err != nil {
					return err
				}
				g.ProjectIDs = append(g.ProjectIDs, v.ID)
			}
			for _, p := range groups {
				v, err := c.FindProjectGroup(ctx, p)
				if err != nil {
					return err
				}
				g.ProjectGroupIDs = append(g.ProjectGroupIDs, v.ID)
			}
			for _, e := range envs {
				v, err := c.FindEnvironment(ctx, e)
				if err != nil {
					return err
				}
				g.EnvironmentIDs = append(g.EnvironmentIDs, v.ID)
			}
			t.Roles = append(t.Roles, g)
			if t, err = c.UpdateTeam(ctx, t); err != nil {
				return err
			}
			return a.print(t, func() {
				p, e := grantScope(g, newNamer(ctx, c))
				fmt.Fprintf(a.stdout, "Team %s now holds %s on projects: %s; environments: %s\n", t.Name, r.Name, p, e)
			})
		}}
	grant.Flags().StringArrayVar(&projects, "project", nil, "a project the role reaches, by name or id (repeat; all when no project or group)")
	grant.Flags().StringArrayVar(&groups, "project-group", nil, "a project group the role reaches (repeat)")
	grant.Flags().StringArrayVar(&envs, "environment", nil, "an environment the role reaches (repeat; all when none)")

	revoke := &cobra.Command{Use: "revoke TEAM ROLE", Short: "Take a role away from a team (every grant of it)", Args: cobra.ExactArgs(2),
		Example: `  pulpo team revoke "Web deployers" "Project deployer"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := clientAndFind(a, cmd.Context(), (*client.Client).FindTeam, args[0])
			if err != nil {
				return err
			}
			roleID, roleName := args[1], args[1]
			if r, err := c.FindRole(cmd.Context(), args[1]); err == nil {
				roleID, roleName = r.ID, r.Name
			} else if !slices.ContainsFunc(t.Roles, func(g model.RoleGrant) bool { return g.RoleID == args[1] }) {
				return err
			}
			before := len(t.Roles)
			t.Roles = slices.DeleteFunc(t.Roles, func(g model.RoleGrant) bool { return g.RoleID == roleID })
			removed := before - len(t.Roles)
			if removed == 0 {
				return fmt.Errorf("team %s does not hold the role %s", t.Name, roleName)
			}
			if t, err = c.UpdateTeam(cmd.Context(), t); err != nil {
				return err
			}
			return a.print(t, func() {
				fmt.Fprintf(a.stdout, "Took %s away from team %s (%d grant(s))\n", roleName, t.Name, removed)
			})
		}}

	cmd.AddCommand(list, show, create, del, addMember, removeMember, grant, revoke)
	return cmd
}

// roleCommand manages roles: named sets of permissions.
func (a *app) roleCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "role", Aliases: []string{"roles"},
		Short: "Manage roles: named sets of permissions that teams hold",
		Long: `A role is a named set of permissions; teams hold roles within a scope
("pulpo team grant"). The built-in roles cannot be changed or deleted; make
your own with "pulpo role create". "pulpo permission list" lists the
permissions. ROLE is a role's id or name.`}

	list := &cobra.Command{Use: "list", Short: "List roles, built-in and custom", Args: cobra.NoArgs,
		Example: `  pulpo role list`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			roles, err := c.Roles(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(nonNil(roles), func() {
				rows := make([][]string, 0, len(roles))
				for _, r := range roles {
					rows = append(rows, []string{r.ID, r.Name, yesNo(r.BuiltIn), strconv.Itoa(len(r.Permissions)), firstLine(r.Description)})
				}
				a.table([]string{"ID", "NAME", "BUILT-IN", "PERMISSIONS", "DESCRIPTION"}, rows)
			})
		}}

	show := &cobra.Command{Use: "show ROLE", Short: "Show a role and its permissions", Args: cobra.ExactArgs(1),
		Example: `  pulpo role show "Project deployer"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, r, err := clientAndFind(a, cmd.Context(), (*client.Client).FindRole, args[0])
			if err != nil {
				return err
			}
			return a.print(r, func() {
				a.fields("ID", r.ID, "Name", r.Name, "Built-in", yesNo(r.BuiltIn), "Description", r.Description)
				fmt.Fprintln(a.stdout, "Permissions:")
				for _, p := range r.Permissions {
					fmt.Fprintf(a.stdout, "  %s\n", p)
				}
			})
		}}

	var description string
	var perms []string
	create := &cobra.Command{Use: "create NAME", Short: "Create a custom role", Args: cobra.ExactArgs(1),
		Long: `Create a custom role from permissions ("pulpo permission list" lists them).
Give --permission once per permission, or several separated by commas.`,
		Example: `  pulpo role create "Variable editor" --permission ProjectView,VariableView,VariableEdit --description "Edits variables only"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(perms) == 0 {
				return errors.New(`give at least one --permission; "pulpo permission list" lists them`)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			r := model.Role{Name: args[0], Description: description}
			for _, p := range perms {
				if p = strings.TrimSpace(p); p != "" {
					r.Permissions = append(r.Permissions, model.Permission(p))
				}
			}
			r, err = c.CreateRole(cmd.Context(), r)
			if err != nil {
				return err
			}
			return a.print(r, func() {
				fmt.Fprintf(a.stdout, "Created role %s (%s) with %d permission(s)\n", r.Name, r.ID, len(r.Permissions))
			})
		}}
	create.Flags().StringVar(&description, "description", "", "what the role is for")
	create.Flags().StringSliceVar(&perms, "permission", nil, "a permission it gives (repeat, or separate with commas)")

	del := deleteCommand(a, "ROLE", "Delete a custom role", "role",
		(*client.Client).FindRole, (*client.Client).DeleteRole, func(r model.Role) (string, string) { return r.ID, r.Name })
	del.Example = `  pulpo role delete "Variable editor"`

	cmd.AddCommand(list, show, create, del)
	return cmd
}

// permissionCommand lists the permissions roles are made of.
func (a *app) permissionCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "permission", Aliases: []string{"permissions"},
		Short: "List the permissions roles are made of"}
	list := &cobra.Command{Use: "list", Short: "List every permission and the scopes that limit it", Args: cobra.NoArgs,
		Long: `List every permission: what it allows, and which parts of a team's scope limit
it (project, environment). Server-wide permissions are not limited by scope.`,
		Example: `  pulpo permission list`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			perms, err := c.Permissions(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(nonNil(perms), func() {
				rows := make([][]string, 0, len(perms))
				for _, p := range perms {
					scoped := strings.Join(p.ScopedBy, ", ")
					if scoped == "" {
						scoped = "server-wide"
					}
					rows = append(rows, []string{string(p.Name), scoped, p.Description})
				}
				a.table([]string{"NAME", "SCOPED BY", "DESCRIPTION"}, rows)
			})
		}}
	cmd.AddCommand(list)
	return cmd
}

// auditFlags are the audit log's filters.
type auditFlags struct {
	actor, project, environment, object, action string
	since, from, to                             string
}

func (f *auditFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.actor, "actor", "", "who acted: username or user id")
	fl.StringVar(&f.project, "project", "", "a project, by name or id")
	fl.StringVar(&f.environment, "environment", "", "an environment, by name or id")
	fl.StringVar(&f.object, "object", "", "the id of the thing changed")
	fl.StringVar(&f.action, "action", "", "create, update, delete, deploy, login, login-failed, logout, action or trust-changed")
	fl.StringVar(&f.since, "since", "", "only the last span of time: 30m, 24h, 7d")
	fl.StringVar(&f.from, "from", "", `from this time (RFC 3339 or "YYYY-MM-DD HH:MM" local time), inclusive`)
	fl.StringVar(&f.to, "to", "", "until this time (same forms), exclusive")
}

func (f *auditFlags) query(ctx context.Context, c *client.Client) (client.AuditQuery, error) {
	q := client.AuditQuery{Actor: f.actor, ObjectID: f.object, Action: f.action}
	now := time.Now()
	if f.since != "" {
		if f.from != "" {
			return q, errors.New("give --since or --from, not both")
		}
		d, err := parseSpan(f.since)
		if err != nil || d <= 0 {
			return q, fmt.Errorf("--since %q: give a span such as 30m, 24h or 7d", f.since)
		}
		from := now.Add(-d)
		q.From = &from
	}
	var err error
	if f.from != "" {
		if q.From, err = parseWhen("--from", f.from, now); err != nil {
			return q, err
		}
	}
	if q.To, err = parseWhen("--to", f.to, now); err != nil {
		return q, err
	}
	// A deleted project or environment is still in the log: an id that
	// no longer resolves is used as given.
	if f.project != "" {
		q.ProjectID = f.project
		if p, err := c.FindProject(ctx, f.project); err == nil {
			q.ProjectID = p.ID
		} else if !client.IsNotFound(err) {
			return q, err
		}
	}
	if f.environment != "" {
		q.EnvironmentID = f.environment
		if e, err := c.FindEnvironment(ctx, f.environment); err == nil {
			q.EnvironmentID = e.ID
		} else if !client.IsNotFound(err) {
			return q, err
		}
	}
	return q, nil
}

// auditCommand reads the audit log.
func (a *app) auditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit",
		Short: "Read the audit log: who changed what and when",
		Long: `Read the audit log: every change, deployment, login and trust change, with
who did it and when, newest first. You see the records of what you may see
(the AuditView permission, within your scope).`}

	var lf auditFlags
	var skip, take int
	list := &cobra.Command{Use: "list", Short: "List audit records, newest first", Args: cobra.NoArgs,
		Example: `  pulpo audit list --since 24h
  pulpo audit list --actor alice --project web --action deploy --take 20
  pulpo audit list --from "2026-11-01 00:00" --to "2026-12-01 00:00" -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			q, err := lf.query(cmd.Context(), c)
			if err != nil {
				return err
			}
			q.Skip, q.Take = skip, take
			p, err := c.Audit(cmd.Context(), q)
			if err != nil {
				return err
			}
			return a.print(p, func() {
				rows := make([][]string, 0, len(p.Items))
				for _, ev := range p.Items {
					rows = append(rows, []string{ev.OccurredAt.Local().Format("2006-01-02 15:04:05"), ev.Actor, ev.Action, ev.Summary})
				}
				a.table([]string{"TIME", "ACTOR", "ACTION", "SUMMARY"}, rows)
				if shown := p.Skip + len(p.Items); shown < p.Total {
					fmt.Fprintf(a.stderr, "Showing %d-%d of %d; see more with --skip %d, or all with \"pulpo audit export\"\n",
						p.Skip+1, shown, p.Total, shown)
				}
			})
		}}
	lf.add(list)
	list.Flags().IntVar(&take, "take", 50, "how many records to show")
	list.Flags().IntVar(&skip, "skip", 0, "how many of the newest records to skip")

	var ef auditFlags
	export := &cobra.Command{Use: "export", Short: "Export audit records as JSON lines, newest first", Args: cobra.NoArgs,
		Long: `Export every audit record that matches the filters to standard output, one
JSON object a line (with each change's before and after), newest first.`,
		Example: `  pulpo audit export > audit.jsonl
  pulpo audit export --since 30d --project web > web-audit.jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			q, err := ef.query(cmd.Context(), c)
			if err != nil {
				return err
			}
			return c.ExportAudit(cmd.Context(), q, a.stdout)
		}}
	ef.add(export)

	cmd.AddCommand(list, export)
	return cmd
}

// serverSettings are the server URL and pinned thumbprint from flags or
// the environment.
func (a *app) serverSettings() (server, thumbprint string) {
	server, thumbprint = a.server, a.serverThumbprint
	if server == "" {
		server = a.getenv("PULPO_SERVER")
	}
	if thumbprint == "" {
		thumbprint = a.getenv("PULPO_SERVER_THUMBPRINT")
	}
	return server, thumbprint
}

// readStdinLines reads n lines from standard input, refusing empty ones.
func readStdinLines(cmd *cobra.Command, n int, flag string) ([]string, error) {
	r := bufio.NewReader(cmd.InOrStdin())
	out := make([]string, 0, n)
	for len(out) < n {
		line, err := r.ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			if err == io.EOF {
				return nil, fmt.Errorf("%s: standard input ended after %d of %d line(s)", flag, len(out), n)
			}
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return nil, fmt.Errorf("%s: line %d of standard input is empty", flag, len(out)+1)
		}
		out = append(out, line)
	}
	return out, nil
}

// parseSpan reads a Go duration (90m, 12h) or a number of days (30d).
func parseSpan(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// parseExpires reads an expiry: a span from now (30d, 12h) or a time;
// nil when empty.
func parseExpires(flag, s string, now time.Time) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var at *time.Time
	if d, err := parseSpan(s); err == nil {
		t := now.Add(d)
		at = &t
	} else if at, err = parseWhen(flag, s, now); err != nil {
		return nil, fmt.Errorf(`%s %q: give a span such as 30d or 12h, or a time (RFC 3339 or "YYYY-MM-DD HH:MM" local time)`, flag, s)
	}
	if !at.After(now) {
		return nil, fmt.Errorf("%s %q is not in the future", flag, s)
	}
	return at, nil
}

func expiryText(t *time.Time) string {
	switch {
	case t == nil:
		return "never expires"
	case t.Before(time.Now()):
		return "expired " + t.Local().Format(timeLayout)
	default:
		return "expires " + t.Local().Format(timeLayout)
	}
}

func userKind(u model.User) string {
	if u.IsService {
		return "service account"
	}
	return "person"
}

func userState(u model.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "active"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// grantScope describes where a role grant reaches: its projects (and
// project groups) and its environments, "all" when not limited.
func grantScope(g model.RoleGrant, n *namer) (projects, envs string) {
	var ps []string
	for _, id := range g.ProjectIDs {
		ps = append(ps, n.project(id))
	}
	for _, id := range g.ProjectGroupIDs {
		ps = append(ps, "group "+n.group(id))
	}
	if len(ps) == 0 {
		projects = "all"
	} else {
		projects = strings.Join(ps, ", ")
	}
	es := make([]string, 0, len(g.EnvironmentIDs))
	for _, id := range g.EnvironmentIDs {
		es = append(es, n.environment(id))
	}
	if len(es) == 0 {
		envs = "all"
	} else {
		envs = strings.Join(es, ", ")
	}
	return projects, envs
}

// roleNames maps role ids to names; empty when they cannot be read.
func roleNames(ctx context.Context, c *client.Client) map[string]string {
	m := map[string]string{}
	if roles, err := c.Roles(ctx); err == nil {
		for _, r := range roles {
			m[r.ID] = r.Name
		}
	}
	return m
}

// userNames maps user ids to usernames; empty when they cannot be read.
func userNames(ctx context.Context, c *client.Client) map[string]string {
	m := map[string]string{}
	if users, err := c.AllUsers(ctx, client.ListOptions{}); err == nil {
		for _, u := range users {
			m[u.ID] = u.Username
		}
	}
	return m
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

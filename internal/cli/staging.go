package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
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

// stagingCommand manages stagings: short-lived, per-feature copies of a
// project's stack that the project's staging template creates, updates,
// archives, restores and cleans up.
func (a *app) stagingCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "staging", Aliases: []string{"stagings"},
		Short: "Create, update and retire stagings: per-feature environments a project's control scripts run",
		Long: `A staging is a short-lived copy of a project's stack for one feature or
branch. Anyone allowed creates one by name with a few settings; the control
scripts of the project's staging template (written once, by someone who
knows the infrastructure) create, update, check, archive, restore and clean
it up. Every action is a task with a live log.

Settings are KEY=VALUE pairs at two levels: application settings
("app.tag", "app.featureFlag"; a bare "tag" is an application setting) and
deployment settings ("deployment.replicas"). A staging keeps only its
differences from the template's defaults.

A staging nobody changes for the template's idle expiry is archived by
Pulpo; an archived one is cleaned up after the template's archive retention.
--keep-until and "pulpo staging keep" hold one back from idle expiry.

With --wait, create, update, upsert, archive, restore and cleanup follow
the action's log and exit non-zero unless it succeeds. With -o json and
--wait they print one JSON object a line: {"event":"queued"} with the
API's answer, the log's events as "pulpo task watch -o json" prints them,
then {"event":"staging"} with the staging as it is after the action (null
once cleaned up).`,
		Example: `  pulpo staging template set --project web -f staging-template.yaml
  pulpo staging create feature-login --project web --set app.tag=ab12cd --wait
  pulpo staging list --project web
  pulpo staging info feature-login --project web`}
	var project string
	cmd.PersistentFlags().StringVarP(&project, "project", "p", "", "project (name or id)")

	// create
	var createCh changeFlags
	create := &cobra.Command{Use: "create NAME", Short: "Create a staging: the config check runs first, then the create script", Args: cobra.ExactArgs(1),
		Long: `Create a staging of a project. The template's config_check script (when
there is one) looks at the configuration first: when it refuses, nothing is
created and its words are the error. Then the create script is queued as a
task; with --wait its live log follows and the command exits non-zero when
it fails.`,
		Example: `  pulpo staging create feature-login --project web --set app.tag=ab12cd
  pulpo staging create feature-login -p web --set app.tag=ab12cd --set deployment.replicas=2 --keep-until 72h --wait`,
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := createCh.request()
			if err != nil {
				return err
			}
			c, p, err := a.stagingProject(cmd, project)
			if err != nil {
				return err
			}
			req.ProjectID, req.Name = p.ID, args[0]
			res, err := c.CreateStaging(cmd.Context(), req)
			if err != nil {
				return err
			}
			return a.stagingStarted(cmd, c, p, res, "Creating", createCh.wait)
		}}
	createCh.add(create, false)

	// update
	var updateCh changeFlags
	update := &cobra.Command{Use: "update NAME", Short: "Change a staging's settings and run its update script", Args: cobra.ExactArgs(1),
		Long: `Change a staging's settings and run its update script. --set changes or adds
a setting, --unset removes one (a default becomes absent), --reset puts one
back to the template's default. The config check (when the template has
one) runs first and may refuse. A staging that is busy with another action
is refused: wait for it, or cancel its task.`,
		Example: `  pulpo staging update feature-login --project web --set app.tag=ef34gh --wait
  pulpo staging update feature-login -p web --unset app.debug --reset deployment.replicas
  pulpo staging update feature-login -p web --keep-until 2026-12-31`,
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := updateCh.request()
			if err != nil {
				return err
			}
			c, p, st, err := a.findStaging(cmd, project, args[0])
			if err != nil {
				return err
			}
			res, err := c.UpdateStaging(cmd.Context(), st.ID, req)
			if err != nil {
				return err
			}
			return a.stagingStarted(cmd, c, p, res, "Updating", updateCh.wait)
		}}
	updateCh.add(update, true)

	// upsert
	var upsertCh changeFlags
	var upsertName string
	upsert := &cobra.Command{Use: "upsert [NAME]", Short: "Create the staging, or update it (restoring it when archived): one idempotent command for CI", Args: cobra.MaximumNArgs(1),
		Long: `Create the staging when the project has none of this name, or else update
it with the settings given; an archived staging is restored with them. The
same command works for a branch's first push and every push after, which
makes it the one a CI pipeline runs. With --wait the action's log follows
and the command exits non-zero when it fails, so the pipeline fails too.`,
		Example: `  # In CI, on every push of a feature branch:
  pulpo staging upsert --project web --name "$BRANCH" --set app.tag="$GIT_SHA" --wait

  pulpo staging upsert feature-login -p web --set app.tag=ab12cd --set deployment.replicas=2`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := upsertName
			if len(args) == 1 {
				if name != "" && name != args[0] {
					return fmt.Errorf("give the name once: as an argument or with --name")
				}
				name = args[0]
			}
			if strings.TrimSpace(name) == "" {
				return fmt.Errorf("which staging? give its name with --name (or as an argument)")
			}
			req, err := upsertCh.request()
			if err != nil {
				return err
			}
			c, p, err := a.stagingProject(cmd, project)
			if err != nil {
				return err
			}
			req.ProjectID, req.Name = p.ID, name
			res, err := c.UpsertStaging(cmd.Context(), req)
			// Two pushes close together: with --wait, the second waits for
			// the first's action instead of failing the pipeline.
			for attempt := 0; upsertCh.wait && busy(err) && attempt < 20; attempt++ {
				st, ferr := c.FindStaging(cmd.Context(), p.ID, name)
				if ferr != nil {
					return err
				}
				if st.TaskID != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "Staging %s is busy with task %s; waiting for it to end\n", st.Name, st.TaskID)
					if werr := waitTaskEnd(cmd.Context(), c, st.TaskID); werr != nil {
						return werr
					}
				}
				res, err = c.UpsertStaging(cmd.Context(), req)
			}
			if err != nil {
				return err
			}
			verb := "Updating"
			switch {
			case res.Created:
				verb = "Creating"
			case res.Staging.State == model.StagingCreatePending:
				verb = "Restoring"
			}
			return a.stagingStarted(cmd, c, p, res, verb, upsertCh.wait)
		}}
	upsert.Flags().StringVar(&upsertName, "name", "", "the staging's name (or give it as the argument)")
	upsertCh.add(upsert, true)

	// list
	var archived bool
	list := &cobra.Command{Use: "list", Short: "List stagings, of one project or of every project you may see", Args: cobra.NoArgs,
		Example: `  pulpo staging list
  pulpo staging list --project web --archived=false`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			o := client.StagingListOptions{WithoutArchived: !archived}
			if project != "" {
				p, err := c.FindProject(cmd.Context(), project)
				if err != nil {
					return err
				}
				o.ProjectID = p.ID
			}
			list, err := c.Stagings(cmd.Context(), o)
			if err != nil {
				return err
			}
			return a.print(nonNil(list), func() {
				names := newNamer(cmd.Context(), c)
				rows := make([][]string, 0, len(list))
				for _, st := range list {
					var links []string
					for _, l := range st.Links {
						if !stagingDown(st.State) {
							links = append(links, l.URL)
						}
					}
					rows = append(rows, []string{st.Name, names.project(st.ProjectID), stagingState(st), orDash(strings.Join(links, " ")),
						st.UpdatedAt.Local().Format("2006-01-02 15:04"), stagingExpires(st)})
				}
				a.table([]string{"NAME", "PROJECT", "STATE", "LINKS", "UPDATED", "EXPIRES"}, rows)
			})
		}}
	list.Flags().BoolVar(&archived, "archived", true, "include archived stagings (--archived=false leaves them out)")

	// info
	info := &cobra.Command{Use: "info NAME", Aliases: []string{"show"}, Short: "Show a staging: state, links, configuration, expiry and action history", Args: cobra.ExactArgs(1),
		Example: `  pulpo staging info feature-login --project web
  pulpo staging info feature-login -p web -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, st, err := a.findStaging(cmd, project, args[0])
			if err != nil {
				return err
			}
			d, err := c.Staging(cmd.Context(), st.ID)
			if err != nil {
				return err
			}
			return a.print(d, func() { a.stagingInfo(p, d) })
		}}

	// logs
	var actionSel, taskSel string
	var follow bool
	logs := &cobra.Command{Use: "logs NAME", Aliases: []string{"log"}, Short: "Print the log of a staging's latest action, or of one chosen", Args: cobra.ExactArgs(1),
		Long: `Print the log of a staging's latest action. --action chooses another: its
number in the history "pulpo staging info" shows (1 is the first action), or
an action's name for the latest of that kind (create, update, archive,
restore, cleanup). --task chooses it by task id. With --follow a running
action's log is followed to its end.`,
		Example: `  pulpo staging logs feature-login --project web
  pulpo staging logs feature-login -p web --action 1
  pulpo staging logs feature-login -p web --action create
  pulpo staging logs feature-login -p web --follow`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if actionSel != "" && taskSel != "" {
				return fmt.Errorf("choose the action with --action or --task, not both")
			}
			c, _, st, err := a.findStaging(cmd, project, args[0])
			if err != nil {
				return err
			}
			d, err := c.Staging(cmd.Context(), st.ID)
			if err != nil {
				return err
			}
			n, rec, err := pickStagingAction(d.Actions, actionSel, taskSel)
			if err != nil {
				return fmt.Errorf("staging %s: %w", d.Name, err)
			}
			if a.output == "text" {
				fmt.Fprintf(a.stdout, "Action %d of %s: %s by %s at %s, task %s (%s)\n", n, d.Name, rec.Action, rec.By,
					rec.At.Local().Format("2006-01-02 15:04:05"), rec.TaskID, rec.State)
			}
			if follow {
				return a.watch(cmd, c, rec.TaskID)
			}
			return a.printTaskLog(cmd, c, rec.TaskID, 0)
		}}
	logs.Flags().StringVar(&actionSel, "action", "", "the action: its number in the history (1 is the first), or create, update, archive, restore or cleanup for the latest of that kind")
	logs.Flags().StringVar(&taskSel, "task", "", "the action whose task has this id")
	logs.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log until the action ends; exit non-zero unless it succeeds")

	// archive, restore, cleanup
	var actions []*cobra.Command
	for _, act := range []struct {
		action       model.StagingAction
		verb         string
		short, long  string
		example      string
		wait         bool
		cleanupGoing bool
	}{
		{action: model.StagingArchive, verb: "Archiving", short: "Archive a staging: its archive script stops what it runs",
			long: `Archive a staging: the archive script stops what the staging runs and frees
what it holds, keeping what a restore needs. When the template has an
archive_check script, the staging is Archived once that check passes;
ArchivePending until then. The template's archive retention cleans an
archived staging up after a while.`,
			example: `  pulpo staging archive feature-login --project web --wait`},
		{action: model.StagingRestore, verb: "Restoring", short: "Bring an archived staging back (config check, then the restore script)",
			long: `Bring an archived staging back with the settings it had: the config check
runs first, then the restore script (the create script when the template
has no restore script).`,
			example: `  pulpo staging restore feature-login --project web --wait`},
		{action: model.StagingCleanup, verb: "Cleaning up", short: "Clean an archived staging up: the cleanup script removes what is left, then the staging is gone",
			long: `Run the cleanup script of an archived staging, or again after a cleanup
failed (CleanupFailed). When it succeeds the staging is gone. To forget a
staging whose resources are already gone, without running any script, use
"pulpo staging delete".`,
			example: `  pulpo staging cleanup feature-login --project web --wait`},
	} {
		var wait bool
		c := &cobra.Command{Use: string(act.action) + " NAME", Short: act.short, Long: act.long, Example: act.example, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, p, st, err := a.findStaging(cmd, project, args[0])
				if err != nil {
					return err
				}
				res, err := c.StagingAction(cmd.Context(), st.ID, act.action)
				if err != nil {
					return err
				}
				return a.stagingStarted(cmd, c, p, res, act.verb, wait)
			}}
		addWaitFlag(c, &wait)
		actions = append(actions, c)
	}

	// cancel
	cancel := &cobra.Command{Use: "cancel NAME", Short: "Stop the staging's action under way (a hung script); the staging shows Failure", Args: cobra.ExactArgs(1),
		Example: `  pulpo staging cancel feature-login --project web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, st, err := a.findStaging(cmd, project, args[0])
			if err != nil {
				return err
			}
			t, err := c.CancelStaging(cmd.Context(), st.ID)
			if err != nil {
				return err
			}
			return a.print(t, func() {
				fmt.Fprintf(a.stdout, "Canceling task %s of staging %s of %s (%s)\n", t.ID, st.Name, p.Name, t.State)
			})
		}}

	// delete
	del := &cobra.Command{Use: "delete NAME", Short: "Forget a staging without running any script (for one whose resources are already gone)", Args: cobra.ExactArgs(1),
		Long: `Forget a staging without running any of its scripts. Whatever it still runs
stays running: use this for a staging whose resources are gone already, or
were removed by hand. To remove a staging's resources, archive it and clean
it up ("pulpo staging archive", then "pulpo staging cleanup").`,
		Example: `  pulpo staging delete feature-login --project web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, st, err := a.findStaging(cmd, project, args[0])
			if err != nil {
				return err
			}
			if err := c.DeleteStaging(cmd.Context(), st.ID); err != nil {
				return err
			}
			return a.print(st, func() {
				fmt.Fprintf(a.stdout, "Deleted staging %s of %s (%s); no script ran\n", st.Name, p.Name, st.ID)
			})
		}}

	// keep
	var until string
	keep := &cobra.Command{Use: "keep NAME", Short: "Keep a staging from being archived for idleness until a time, or for good", Args: cobra.ExactArgs(1),
		Long: `Keep a staging from idle expiry until a time: a duration from now (72h, 7d),
a date (2026-12-31: kept through that day, UTC), an RFC 3339 time, or never. "default"
puts it back under the template's idle expiry.`,
		Example: `  pulpo staging keep feature-login --project web --until 72h
  pulpo staging keep feature-login -p web --until never
  pulpo staging keep feature-login -p web --until 2026-12-31
  pulpo staging keep feature-login -p web --until default`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var value string
			if !strings.EqualFold(strings.TrimSpace(until), "default") {
				v, err := parseKeepUntil("--until", until, time.Now())
				if err != nil {
					return err
				}
				if v == "" {
					return fmt.Errorf(`--until is required: a duration such as 72h or 7d, a date (2026-12-31), an RFC 3339 time, never, or default`)
				}
				value = v
			}
			c, _, st, err := a.findStaging(cmd, project, args[0])
			if err != nil {
				return err
			}
			st, err = c.KeepStaging(cmd.Context(), st.ID, value)
			if err != nil {
				return err
			}
			return a.print(st, func() {
				switch {
				case st.KeepUntil == nil:
					fmt.Fprintf(a.stdout, "Staging %s follows the template's idle expiry again\n", st.Name)
				case isNever(*st.KeepUntil):
					fmt.Fprintf(a.stdout, "Staging %s is never archived for idleness\n", st.Name)
				default:
					fmt.Fprintf(a.stdout, "Staging %s is kept until %s\n", st.Name, st.KeepUntil.Local().Format("2006-01-02 15:04"))
				}
				if st.ExpiresAt != nil {
					fmt.Fprintf(a.stdout, "If nobody changes it, it is archived at %s\n", st.ExpiresAt.Local().Format("2006-01-02 15:04"))
				}
			})
		}}
	keep.Flags().StringVar(&until, "until", "", "72h, 7d, 2026-12-31, an RFC 3339 time, never, or default (required)")
	keep.MarkFlagRequired("until")

	// promote
	var promoteVersion, promoteChannel, promoteNotes string
	promote := &cobra.Command{Use: "promote NAME", Short: "Turn a staging into a release: its tag becomes every package's version", Args: cobra.ExactArgs(1),
		Long: `Turn a staging into a release of its project. The value of the template's
tag key (app.tag unless the template says otherwise) becomes the version of
every package the process deploys, and the release number unless --version
is given; a tag that is no release number (a commit hash) needs --version.
The release then follows the project's lifecycle like any other.`,
		Example: `  pulpo staging promote feature-login --project web
  pulpo staging promote feature-login -p web --version 1.5.0 --channel Hotfix --notes "Login page"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, st, err := a.findStaging(cmd, project, args[0])
			if err != nil {
				return err
			}
			r, err := c.PromoteStaging(cmd.Context(), st.ID, wire.PromoteStagingRequest{Version: promoteVersion, Channel: promoteChannel, Notes: promoteNotes})
			if err != nil {
				return err
			}
			return a.print(r, func() {
				fmt.Fprintf(a.stdout, "Promoted staging %s to release %s of %s (%s)\n", st.Name, r.Version, p.Name, r.ID)
				for _, pkg := range r.Packages {
					fmt.Fprintf(a.stdout, "  %s %s\n", pkg.PackageID, pkg.Version)
				}
				names := newNamer(cmd.Context(), c)
				for _, d := range r.AutomaticDeployments {
					fmt.Fprintf(a.stdout, "The lifecycle deploys it to %s by itself: deployment %s, task %s\n", names.environment(d.EnvironmentID), d.ID, d.TaskID)
				}
			})
		}}
	promote.Flags().StringVar(&promoteVersion, "version", "", "release version (default the staging's tag)")
	promote.Flags().StringVar(&promoteChannel, "channel", "", "the channel the release follows (name or id; default as for pulpo release create)")
	promote.Flags().StringVar(&promoteNotes, "notes", "", "release notes (the staging's name and tag are added)")

	cmd.AddCommand(create, update, upsert, list, info, logs)
	cmd.AddCommand(actions...)
	cmd.AddCommand(cancel, del, keep, promote, a.stagingTemplateCommand(&project))
	return cmd
}

// changeFlags are the settings flags of create, update and upsert.
type changeFlags struct {
	set, unset, reset []string
	keepUntil         string
	wait              bool
}

func (f *changeFlags) add(cmd *cobra.Command, withReset bool) {
	cmd.Flags().StringArrayVar(&f.set, "set", nil, `KEY=VALUE: set a setting, "app.KEY" or "deployment.KEY" (a bare KEY is app.KEY); repeat; given twice, the last wins`)
	cmd.Flags().StringArrayVar(&f.unset, "unset", nil, "KEY: remove a setting, even one the template's defaults give (repeat)")
	if withReset {
		cmd.Flags().StringArrayVar(&f.reset, "reset", nil, "KEY: put a setting back to the template's default (repeat)")
	}
	cmd.Flags().StringVar(&f.keepUntil, "keep-until", "", "keep it from idle expiry until: a duration (72h, 7d), a date (2026-12-31), an RFC 3339 time, or never")
	addWaitFlag(cmd, &f.wait)
}

// addWaitFlag adds --wait, and --watch as the other commands call it.
func addWaitFlag(cmd *cobra.Command, wait *bool) {
	cmd.Flags().BoolVar(wait, "wait", false, "follow the action's log until it ends; exit non-zero unless it succeeds")
	cmd.Flags().BoolVar(wait, "watch", false, "the same as --wait")
	cmd.Flags().MarkHidden("watch")
}

func (f *changeFlags) request() (wire.StagingRequest, error) {
	var req wire.StagingRequest
	var err error
	if req.Set, req.Unset, req.Reset, err = parseStagingChange(f.set, f.unset, f.reset); err != nil {
		return req, err
	}
	req.KeepUntil, err = parseKeepUntil("--keep-until", f.keepUntil, time.Now())
	return req, err
}

// parseStagingChange reads --set KEY=VALUE, --unset KEY and --reset KEY.
// Keys go to the server as given; they are checked here only to fail
// early, and so that one key is not both set and removed ("tag" and
// "app.tag" are the same key).
func parseStagingChange(sets, unsets, resets []string) (map[string]string, []string, []string, error) {
	canonical := func(flag, key string) (string, error) {
		if strings.TrimSpace(key) == "" {
			return "", fmt.Errorf("%s: the key is empty", flag)
		}
		level, k, err := model.SplitStagingKey(key)
		if err != nil {
			return "", fmt.Errorf("%s: %w", flag, err)
		}
		return level + "." + k, nil
	}
	var set map[string]string
	setBy := map[string]string{} // canonical key → the spelling given
	for _, kv := range sets {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, nil, nil, fmt.Errorf("--set takes KEY=VALUE, not %q", kv)
		}
		ck, err := canonical("--set "+kv, key)
		if err != nil {
			return nil, nil, nil, err
		}
		if set == nil {
			set = map[string]string{}
		}
		if prev, ok := setBy[ck]; ok {
			delete(set, prev) // given twice: the last wins
		}
		set[key], setBy[ck] = value, key
	}
	removed := map[string]string{} // canonical key → flag
	collect := func(flag string, keys []string) ([]string, error) {
		var out []string
		for _, key := range keys {
			ck, err := canonical(flag+" "+key, key)
			if err != nil {
				return nil, err
			}
			if given, ok := setBy[ck]; ok {
				return nil, fmt.Errorf("%s %s: --set %s sets it too; give one or the other", flag, key, given)
			}
			if other, ok := removed[ck]; ok {
				if other != flag {
					return nil, fmt.Errorf("%s %s: %s names it too; give one or the other", flag, key, other)
				}
				continue // the same flag twice
			}
			removed[ck] = flag
			out = append(out, key)
		}
		return out, nil
	}
	unset, err := collect("--unset", unsets)
	if err != nil {
		return nil, nil, nil, err
	}
	reset, err := collect("--reset", resets)
	if err != nil {
		return nil, nil, nil, err
	}
	return set, unset, reset, nil
}

var daysPattern = regexp.MustCompile(`^(\d+)d(.*)$`)

// parseKeepUntil reads --keep-until for the API's keepUntil: "never", a
// duration from now (the server counts it, from its clock; "7d" and
// "1d12h" are days), a date or an RFC 3339 time as given, or a local
// "YYYY-MM-DD HH:MM" made RFC 3339. "" is not given.
func parseKeepUntil(flag, s string, now time.Time) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", nil
	case strings.EqualFold(s, "never"):
		return "never", nil
	}
	bad := fmt.Errorf("%s %q is not a time: give a duration such as 72h or 7d, a date (2026-12-31), an RFC 3339 time, or never", flag, s)
	var d time.Duration
	var isDuration bool
	if m := daysPattern.FindStringSubmatch(s); m != nil {
		days, err := strconv.Atoi(m[1])
		if err != nil || days > 100*365 {
			return "", bad
		}
		d, isDuration = time.Duration(days)*24*time.Hour, true
		if m[2] != "" {
			rest, err := time.ParseDuration(m[2])
			if err != nil || strings.HasPrefix(m[2], "-") {
				return "", bad
			}
			d += rest
		}
	} else if v, err := time.ParseDuration(s); err == nil {
		d, isDuration = v, true
	}
	if isDuration {
		if d <= 0 {
			return "", fmt.Errorf("%s %q: give a duration longer than nothing, such as 72h", flag, s)
		}
		return d.String(), nil
	}
	var t time.Time
	var err error
	out := s
	if t, err = time.Parse(time.RFC3339, s); err != nil {
		if t, err = time.Parse(time.DateOnly, s); err != nil {
			for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04"} {
				if t, err = time.ParseInLocation(layout, s, time.Local); err == nil {
					out = t.Format(time.RFC3339)
					break
				}
			}
		}
	}
	if err != nil {
		return "", bad
	}
	if !t.After(now) {
		return "", fmt.Errorf("%s %s is in the past", flag, s)
	}
	return out, nil
}

// stagingProject is the client and the --project every staging command
// but list needs.
func (a *app) stagingProject(cmd *cobra.Command, project string) (*client.Client, model.Project, error) {
	if project == "" {
		return nil, model.Project{}, fmt.Errorf("which project? give it with --project")
	}
	return a.project(cmd, project)
}

// findStaging finds a project's staging by name (or id).
func (a *app) findStaging(cmd *cobra.Command, project, name string) (*client.Client, model.Project, model.Staging, error) {
	c, p, err := a.stagingProject(cmd, project)
	if err != nil {
		return nil, p, model.Staging{}, err
	}
	st, err := c.FindStaging(cmd.Context(), p.ID, name)
	if client.IsNotFound(err) {
		err = fmt.Errorf("project %s has no staging %q; see pulpo staging list --project %s", p.Name, name, p.Name)
	}
	return c, p, st, err
}

// stagingStarted reports an action that was queued and, with wait,
// follows its task to the end and shows where the staging is then.
func (a *app) stagingStarted(cmd *cobra.Command, c *client.Client, p model.Project, res wire.StagingResult, verb string, wait bool) error {
	st := res.Staging
	if !wait || res.TaskID == "" {
		return a.print(res, func() {
			fmt.Fprintf(a.stdout, "%s staging %s of %s: task %s\n", verb, st.Name, p.Name, res.TaskID)
			fmt.Fprintf(a.stdout, "Follow it with: pulpo staging logs %s --project %s --follow\n", st.Name, p.Name)
		})
	}
	if a.output == "text" {
		fmt.Fprintf(a.stdout, "%s staging %s of %s: task %s\n", verb, st.Name, p.Name, res.TaskID)
	} else if err := json.NewEncoder(a.stdout).Encode(map[string]any{"event": "queued", "result": res}); err != nil {
		return err
	}
	if err := a.watch(cmd, c, res.TaskID); err != nil {
		return err
	}
	d, err := c.Staging(cmd.Context(), st.ID)
	if client.IsNotFound(err) {
		if a.output == "json" {
			return json.NewEncoder(a.stdout).Encode(map[string]any{"event": "staging", "staging": nil})
		}
		fmt.Fprintf(a.stdout, "Staging %s is gone\n", st.Name)
		return nil
	}
	if err != nil {
		return err
	}
	if a.output == "json" {
		return json.NewEncoder(a.stdout).Encode(map[string]any{"event": "staging", "staging": d})
	}
	fmt.Fprintf(a.stdout, "Staging %s is %s", d.Name, stagingState(d.Staging))
	switch d.State {
	case model.StagingCreatePending, model.StagingUpdatePending:
		fmt.Fprint(a.stdout, ": its check script says when it is up")
	case model.StagingArchivePending:
		fmt.Fprint(a.stdout, ": its archive check says when it is archived")
	}
	fmt.Fprintln(a.stdout)
	if d.Message != "" {
		fmt.Fprintln(a.stdout, d.Message)
	}
	if !stagingDown(d.State) {
		for _, l := range d.Links {
			fmt.Fprintf(a.stdout, "  %s  %s\n", l.Name, l.URL)
		}
	}
	return nil
}

// stagingInfo prints a staging for people.
func (a *app) stagingInfo(p model.Project, d wire.StagingDetail) {
	stamp := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		if isNever(*t) {
			return "never"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	}
	by := func(t time.Time, who string) string {
		s := t.Local().Format("2006-01-02 15:04:05")
		if who != "" {
			s += " by " + who
		}
		return s
	}
	busy := ""
	if d.TaskID != "" {
		busy = d.TaskID + " (an action is under way)"
	}
	check := ""
	if d.LastCheckAt != nil {
		check = stamp(d.LastCheckAt)
		if d.LastCheckCode != nil {
			check += fmt.Sprintf(" (exit code %d)", *d.LastCheckCode)
		}
	}
	keep := stamp(d.KeepUntil)
	expires := stamp(d.ExpiresAt)
	if expires == "" && (d.State == model.StagingRunning || d.State == model.StagingFailure) {
		expires = "never"
	}
	// A message of several lines (a script's output) goes below the fields.
	message, longMessage := d.Message, ""
	if strings.Contains(message, "\n") {
		message, longMessage = "(below)", d.Message
	}
	a.fields("Name", d.Name, "ID", d.ID, "Project", p.Name, "State", stagingState(d.Staging), "Message", message, "Task", busy,
		"Created", by(d.CreatedAt, d.CreatedBy), "Updated", by(d.UpdatedAt, d.UpdatedBy),
		"Keep until", keep, "Expires", expires, "Archived", stamp(d.ArchivedAt), "Cleanup", stamp(d.CleanupAt), "Last check", check)
	if longMessage != "" {
		fmt.Fprintln(a.stdout, "\nMessage:")
		for _, line := range strings.Split(strings.TrimRight(longMessage, "\n"), "\n") {
			fmt.Fprintln(a.stdout, "  "+line)
		}
	}

	if len(d.Links) > 0 {
		if stagingDown(d.State) {
			fmt.Fprintln(a.stdout, "\nLinks (while it ran):")
		} else {
			fmt.Fprintln(a.stdout, "\nLinks:")
		}
		rows := make([][]string, 0, len(d.Links))
		for _, l := range d.Links {
			rows = append(rows, []string{"  " + l.Name, l.URL})
		}
		a.tableNoHeader(rows)
	}

	fmt.Fprintln(a.stdout, "\nConfiguration:")
	var rows [][]string
	for _, lv := range []struct {
		name      string
		effective map[string]string
		overrides map[string]*string
	}{{"app", d.Effective.App, d.Overrides.App}, {"deployment", d.Effective.Deployment, d.Overrides.Deployment}} {
		keys := slices.Sorted(maps.Keys(lv.effective))
		for k, v := range lv.overrides {
			if v == nil && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			value, from := lv.effective[k], "default"
			if v, ok := lv.overrides[k]; ok {
				from = "override"
				if v == nil {
					value = "(removed)"
				}
			}
			rows = append(rows, []string{lv.name + "." + k, value, from})
		}
	}
	if len(rows) == 0 {
		fmt.Fprintln(a.stdout, "  (none)")
	} else {
		a.table([]string{"  KEY", "VALUE", "FROM"}, indent(rows))
	}

	fmt.Fprintln(a.stdout, "\nHistory:")
	if len(d.Actions) == 0 {
		fmt.Fprintln(a.stdout, "  (none)")
		return
	}
	rows = rows[:0]
	for i, rec := range d.Actions {
		rows = append(rows, []string{strconv.Itoa(len(d.Actions) - i), string(rec.Action), rec.By, string(rec.State), rec.TaskID,
			rec.At.Local().Format("2006-01-02 15:04:05"), orDash(rec.Summary)})
	}
	a.table([]string{"  #", "ACTION", "BY", "STATE", "TASK", "WHEN", "CHANGES"}, indent(rows))
}

// tableNoHeader writes aligned columns without a header line.
func (a *app) tableNoHeader(rows [][]string) {
	if len(rows) == 0 {
		return
	}
	a.table(rows[0], rows[1:])
}

func indent(rows [][]string) [][]string {
	for _, r := range rows {
		if len(r) > 0 {
			r[0] = "  " + r[0]
		}
	}
	return rows
}

// pickStagingAction chooses an action of a history (newest first) by its
// number (1 is the first), its kind (the latest of it), or its task; the
// latest when neither is given. It returns the action's number too.
func pickStagingAction(actions []model.StagingActionRecord, action, task string) (int, model.StagingActionRecord, error) {
	if len(actions) == 0 {
		return 0, model.StagingActionRecord{}, errors.New("it has no actions yet")
	}
	number := func(i int) int { return len(actions) - i }
	switch {
	case task != "":
		for i, rec := range actions {
			if strings.EqualFold(rec.TaskID, task) {
				return number(i), rec, nil
			}
		}
		return 0, model.StagingActionRecord{}, fmt.Errorf("task %s is none of its actions (pulpo staging info lists them)", task)
	case action == "":
		return number(0), actions[0], nil
	}
	if n, err := strconv.Atoi(action); err == nil {
		if n < 1 || n > len(actions) {
			return 0, model.StagingActionRecord{}, fmt.Errorf("it has no action %d: its actions are numbered 1 to %d", n, len(actions))
		}
		i := len(actions) - n
		return n, actions[i], nil
	}
	kind := model.StagingAction(strings.ToLower(action))
	if kind == "clean-up" {
		kind = model.StagingCleanup
	}
	for i, rec := range actions {
		if rec.Action == kind {
			return number(i), rec, nil
		}
	}
	switch kind {
	case model.StagingCreate, model.StagingUpdate, model.StagingArchive, model.StagingRestore, model.StagingCleanup:
		return 0, model.StagingActionRecord{}, fmt.Errorf("it has had no %s action", kind)
	}
	return 0, model.StagingActionRecord{}, fmt.Errorf("--action %q is neither a number nor create, update, archive, restore or cleanup", action)
}

// stagingState is a staging's state with its failure reason.
func stagingState(st model.Staging) string {
	s := string(st.State)
	if st.Reason != "" {
		s += " (" + string(st.Reason) + ")"
	}
	return s
}

// stagingExpires says when a staging is archived for idleness, or when
// an archived one is cleaned up.
func stagingExpires(st model.Staging) string {
	switch {
	case st.ExpiresAt != nil:
		return st.ExpiresAt.Local().Format("2006-01-02 15:04")
	case st.CleanupAt != nil:
		return "cleanup " + st.CleanupAt.Local().Format("2006-01-02 15:04")
	case st.State == model.StagingRunning || st.State == model.StagingFailure:
		return "never"
	}
	return "-"
}

// stagingDown reports whether a staging's links lead nowhere: it is
// archived, or on its way to be.
func stagingDown(s model.StagingState) bool {
	return s == model.StagingArchived || s == model.StagingArchivePending || s == model.StagingCleanupFailed
}

// isNever reports whether a keep-until time is the API's "never".
func isNever(t time.Time) bool { return t.Year() >= 9999 }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// busy reports whether the server refused an action because the staging
// is busy (409).
func busy(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Status == http.StatusConflict && strings.Contains(ce.Message, "busy")
}

// waitTaskEnd waits until a task has ended, whatever its outcome.
func waitTaskEnd(ctx context.Context, c *client.Client, taskID string) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		t, err := c.Task(ctx, taskID)
		if err != nil {
			return fmt.Errorf("wait for task %s: %w", taskID, err)
		}
		if t.CompletedAt != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

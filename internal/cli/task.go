package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

func (a *app) taskCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "task", Aliases: []string{"tasks"}, Short: "Follow, inspect and cancel tasks"}
	var state, project string
	list := &cobra.Command{Use: "list", Short: "List tasks, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			filters := map[string]string{"state": state}
			if project != "" {
				p, err := c.FindProject(cmd.Context(), project)
				if err != nil {
					return err
				}
				filters["projectId"] = p.ID
			}
			page, err := c.Tasks(cmd.Context(), client.ListOptions{Take: 100, Filters: filters})
			if err != nil {
				return err
			}
			return a.print(page, func() {
				var rows [][]string
				for _, t := range page.Items {
					rows = append(rows, []string{t.ID, string(t.State), t.Description, t.QueuedAt.Local().Format("2006-01-02 15:04"), duration(t)})
				}
				a.table([]string{"ID", "STATE", "DESCRIPTION", "QUEUED", "DURATION"}, rows)
			})
		}}
	list.Flags().StringVar(&state, "state", "", "only tasks in these states, comma-separated (Queued, Executing, Success, Failed, Canceled…)")
	list.Flags().StringVar(&project, "project", "", "only this project's tasks")
	show := &cobra.Command{Use: "show TASK", Short: "Show a task and its steps", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			l, err := c.TaskLog(cmd.Context(), args[0], 1<<62)
			if err != nil {
				return err
			}
			out := struct {
				model.Task
				Activities []model.Activity `json:"activities"`
			}{l.Task, l.Activities}
			return a.print(out, func() {
				t := l.Task
				a.fields("ID", t.ID, "Description", t.Description, "State", string(t.State), "Error", t.Error,
					"Queued", t.QueuedAt.Local().Format("2006-01-02 15:04:05"), "Duration", duration(t))
				if len(l.Activities) > 0 {
					fmt.Fprintln(a.stdout)
				}
				// Steps in order, each with its targets under it.
				children := map[int][]model.Activity{}
				for _, act := range l.Activities {
					children[act.ParentID] = append(children[act.ParentID], act)
				}
				var walk func(parent int, indent string)
				walk = func(parent int, indent string) {
					for _, act := range children[parent] {
						code := ""
						if act.ExitCode != nil {
							code = fmt.Sprintf(" (exit code %d)", *act.ExitCode)
						}
						fmt.Fprintf(a.stdout, "%s%-9s %s%s\n", indent, act.State, act.Name, code)
						walk(act.ID, indent+"  ")
					}
				}
				walk(0, "")
			})
		}}
	var since int64
	logCmd := &cobra.Command{Use: "log TASK", Short: "Print a task's log as it is now", Args: cobra.ExactArgs(1),
		Long: `Print a task's log as it is now, under headings for its steps and targets.

With -o json it prints one JSON object per line, one for each log line, so a
script can read the log a line at a time:

  {"seq":12,"activityId":3,"time":"2026-11-25T10:00:00Z","level":"info","text":"..."}

activityId is the step or target the line belongs to (pulpo task show -o json
lists them), and --since SEQ prints only the lines after that one.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			return a.printTaskLog(cmd, c, args[0], since)
		}}
	logCmd.Flags().Int64Var(&since, "since", 0, "only lines after this sequence number")
	watch := &cobra.Command{Use: "watch TASK", Short: "Follow a task's live log; exit non-zero unless it succeeds", Args: cobra.ExactArgs(1),
		Long: `Follow a task's live log until the task ends, and exit non-zero unless it
succeeded.

With -o json it prints one JSON object per line, one for each event as it
arrives, so a script can act on each before the task ends:

  {"event":"task","task":{...}}              the task, whenever it changes
  {"event":"activities","activities":[...]}  its steps and targets, whenever they change
  {"event":"line","line":{"seq":12,...}}     a log line, as pulpo task log -o json prints it
  {"event":"end","task":{...}}               the task has ended: always the last line`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			return a.watch(cmd, c, args[0])
		}}
	cancel := &cobra.Command{Use: "cancel TASK", Short: "Cancel a task", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			t, err := c.CancelTask(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.print(t, func() {
				if t.State == model.TaskCanceled {
					fmt.Fprintf(a.stdout, "Canceled %s\n", t.ID)
				} else {
					fmt.Fprintf(a.stdout, "Canceling %s: its scripts are being stopped\n", t.ID)
				}
			})
		}}
	artifacts := &cobra.Command{Use: "artifacts TASK", Short: "List the files a task's scripts handed over (new_octopusartifact)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			list, err := c.Artifacts(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.print(nonNil(list), func() {
				var rows [][]string
				for _, art := range list {
					rows = append(rows, []string{strconv.Itoa(art.ID), art.Name, byteSize(art.SizeBytes), art.SHA256[:12]})
				}
				a.table([]string{"#", "NAME", "SIZE", "SHA256"}, rows)
			})
		}}
	var artifactOut string
	artifact := &cobra.Command{Use: "artifact TASK N", Short: "Download one of a task's artifacts", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil {
				return fmt.Errorf("artifact number %q is not a number", args[1])
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var w io.Writer = a.stdout
			if artifactOut != "" {
				f, err := os.Create(artifactOut)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			_, err = c.DownloadArtifact(cmd.Context(), args[0], n, w)
			return err
		}}
	artifact.Flags().StringVarP(&artifactOut, "file", "f", "", "write it to this file (default standard output)")
	var watchRerun bool
	rerun := &cobra.Command{Use: "rerun TASK", Short: "Run a finished deployment or runbook run again (same release, environment, options)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			d, err := c.RerunTask(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if watchRerun {
				return a.watch(cmd, c, d.TaskID)
			}
			return a.print(d, func() { fmt.Fprintf(a.stdout, "Queued %s again as %s (task %s)\n", args[0], d.ID, d.TaskID) })
		}}
	rerun.Flags().BoolVar(&watchRerun, "watch", false, "follow the new task's log to its end")
	cmd.AddCommand(list, show, logCmd, watch, cancel, rerun, artifacts, artifact)
	return cmd
}

// printTaskLog prints a task's log as it is now, from after since.
func (a *app) printTaskLog(cmd *cobra.Command, c *client.Client, taskID string, since int64) error {
	r := newLogRenderer(a)
	for {
		l, err := c.TaskLog(cmd.Context(), taskID, since)
		if err != nil {
			return err
		}
		r.activities(l.Activities)
		for _, ln := range l.Lines {
			r.line(ln)
		}
		since = l.LastSeq
		if !l.More {
			return nil
		}
	}
}

// watch follows a task's log to its end and fails unless it succeeded.
func (a *app) watch(cmd *cobra.Command, c *client.Client, taskID string) error {
	r := newLogRenderer(a)
	var end model.Task
	err := c.FollowLog(cmd.Context(), taskID, 0, func(ev client.Event) error {
		if a.output == "json" {
			return json.NewEncoder(a.stdout).Encode(eventJSON(ev))
		}
		switch ev.Kind {
		case "activities":
			r.activities(ev.Activities)
		case "line":
			r.line(ev.Line)
		case "end":
			end = ev.Task
		}
		return nil
	})
	if err != nil {
		return err
	}
	if end.ID == "" {
		if end, err = c.Task(cmd.Context(), taskID); err != nil {
			return err
		}
	}
	if a.output == "text" {
		fmt.Fprintf(a.stdout, "Task %s: %s after %s\n", end.ID, end.State, duration(end))
	}
	switch end.State {
	case model.TaskSuccess:
		return nil
	case model.TaskCanceled:
		return &ExitError{Code: 1, Msg: fmt.Sprintf("Task %s was canceled", end.ID)}
	}
	return &ExitError{Code: 1, Msg: fmt.Sprintf("Task %s failed: %s", end.ID, end.Error)}
}

// eventJSON is the machine-readable form of a live log event.
func eventJSON(ev client.Event) any {
	switch ev.Kind {
	case "line":
		return map[string]any{"event": "line", "line": ev.Line}
	case "activities":
		return map[string]any{"event": "activities", "activities": ev.Activities}
	}
	return map[string]any{"event": ev.Kind, "task": ev.Task}
}

// logRenderer prints log lines for people, with a heading each time the
// lines move to another step or target.
type logRenderer struct {
	a       *app
	acts    map[int]model.Activity
	current int
}

func newLogRenderer(a *app) *logRenderer {
	return &logRenderer{a: a, acts: map[int]model.Activity{}, current: -1}
}

func (r *logRenderer) activities(acts []model.Activity) {
	for _, act := range acts {
		r.acts[act.ID] = act
	}
}

func (r *logRenderer) line(ln model.LogLine) {
	if r.a.output == "json" {
		json.NewEncoder(r.a.stdout).Encode(ln)
		return
	}
	if ln.ActivityID != r.current {
		r.current = ln.ActivityID
		if act, ok := r.acts[ln.ActivityID]; ok {
			path := act.Name
			if parent, ok := r.acts[act.ParentID]; ok && act.ParentID != 0 {
				path = parent.Name + " › " + act.Name
			}
			fmt.Fprintf(r.a.stdout, "== %s\n", path)
		}
	}
	prefix := ""
	switch ln.Level {
	case model.LevelWarning:
		prefix = "warning: "
	case model.LevelError:
		prefix = "error: "
	}
	indent := ""
	if ln.ActivityID != 0 {
		indent = "  "
	}
	for _, text := range strings.Split(ln.Text, "\n") {
		fmt.Fprintf(r.a.stdout, "%s %s%s%s\n", ln.Time.Local().Format("15:04:05"), indent, prefix, text)
	}
}

func duration(t model.Task) string {
	if t.StartedAt == nil {
		return ""
	}
	d := t.Duration(time.Now())
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

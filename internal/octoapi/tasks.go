package octoapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// Octopus calls tasks ServerTasks-N and pipelines grep for that; Pulpo's
// are Tasks-N. Both forms are accepted; answers use Octopus's.
const (
	pulpoTaskPrefix   = "Tasks-"
	octopusTaskPrefix = "ServerTasks-"
)

func serverTaskID(id string) string {
	if rest, ok := strings.CutPrefix(id, pulpoTaskPrefix); ok {
		return octopusTaskPrefix + rest
	}
	return id
}

func pulpoTaskID(id string) string {
	if rest, ok := strings.CutPrefix(id, octopusTaskPrefix); ok {
		return pulpoTaskPrefix + rest
	}
	return id
}

type task struct {
	ID                         string            `json:"Id"`
	Name                       string            `json:"Name"`
	Description                string            `json:"Description"`
	State                      string            `json:"State"`
	IsCompleted                *bool             `json:"IsCompleted"`
	FinishedSuccessfully       *bool             `json:"FinishedSuccessfully"`
	HasWarningsOrErrors        bool              `json:"HasWarningsOrErrors"`
	HasPendingInterruptions    bool              `json:"HasPendingInterruptions"`
	HasBeenPickedUpByProcessor bool              `json:"HasBeenPickedUpByProcessor"`
	CanRerun                   bool              `json:"CanRerun"`
	QueueTime                  *time.Time        `json:"QueueTime"`
	QueueTimeExpiry            *time.Time        `json:"QueueTimeExpiry"`
	StartTime                  *time.Time        `json:"StartTime"`
	CompletedTime              *time.Time        `json:"CompletedTime"`
	LastUpdatedTime            *time.Time        `json:"LastUpdatedTime"`
	Completed                  string            `json:"Completed"`
	Duration                   string            `json:"Duration"`
	ErrorMessage               string            `json:"ErrorMessage"`
	ServerNode                 string            `json:"ServerNode"`
	SpaceID                    string            `json:"SpaceId"`
	Arguments                  map[string]any    `json:"Arguments"`
	Links                      map[string]string `json:"Links"`
}

// taskState names a task state as Octopus does: a task waiting for an
// answer is executing with an interruption pending.
func taskState(s model.TaskState) string {
	switch s {
	case model.TaskCanceling:
		return "Cancelling"
	case model.TaskWaiting:
		return "Executing"
	}
	return string(s)
}

// pulpoStates maps Octopus's state filter to Pulpo's states.
func pulpoStates(states []string) ([]string, error) {
	var out []string
	for _, s := range states {
		switch strings.ToLower(s) {
		case "queued":
			out = append(out, string(model.TaskQueued))
		case "executing":
			out = append(out, string(model.TaskExecuting), string(model.TaskWaiting))
		case "cancelling", "canceling":
			out = append(out, string(model.TaskCanceling))
		case "success":
			out = append(out, string(model.TaskSuccess))
		case "failed":
			out = append(out, string(model.TaskFailed))
		case "canceled", "cancelled":
			out = append(out, string(model.TaskCanceled))
		case "timedout":
			// Pulpo fails an expired task instead; none is TimedOut.
		default:
			return nil, badRequest("states: %q is not a task state; use Queued, Executing, Cancelling, Canceled, Failed, TimedOut or Success", s)
		}
	}
	return out, nil
}

func taskOf(t model.Task) task {
	id := serverTaskID(t.ID)
	done := t.State.Finished()
	success := t.State == model.TaskSuccess
	// A scheduled deployment's queue time is when it may start, as in
	// Octopus.
	queued := t.QueuedAt
	if t.NotBefore != nil {
		queued = *t.NotBefore
	}
	out := task{ID: id, Name: string(t.Kind), Description: t.Description, State: taskState(t.State),
		IsCompleted: &done, FinishedSuccessfully: &success, HasWarningsOrErrors: t.State == model.TaskFailed,
		HasPendingInterruptions: t.State == model.TaskWaiting, HasBeenPickedUpByProcessor: t.StartedAt != nil,
		CanRerun: done && t.DeploymentID != "", QueueTime: &queued, QueueTimeExpiry: t.NotAfter, StartTime: t.StartedAt,
		CompletedTime: t.CompletedAt, ErrorMessage: t.Error, ServerNode: t.Node, SpaceID: SpaceID,
		Arguments: map[string]any{}, Links: map[string]string{"Self": spacePath + "/tasks/" + id,
			"Details": "/api/tasks/" + id + "/details", "Raw": "/api/tasks/" + id + "/raw", "Cancel": spacePath + "/tasks/" + id + "/cancel"}}
	if !done {
		// Until it ends, "finished successfully" is unknown, not false.
		out.FinishedSuccessfully = nil
	}
	if t.DeploymentID != "" {
		out.Arguments["DeploymentId"] = t.DeploymentID
	}
	last := t.QueuedAt
	for _, at := range []*time.Time{t.StartedAt, t.CompletedAt} {
		if at != nil && at.After(last) {
			last = *at
		}
	}
	out.LastUpdatedTime = &last
	if t.CompletedAt != nil {
		out.Completed = t.CompletedAt.UTC().Format(time.RFC1123)
	}
	if t.StartedAt != nil {
		end := time.Now()
		if t.CompletedAt != nil {
			end = *t.CompletedAt
		}
		out.Duration = humanDuration(end.Sub(*t.StartedAt))
	}
	return out
}

// humanDuration writes a duration as Octopus's portal does.
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return "less than a second"
	case d < time.Minute:
		return plural(int(d.Seconds()), "second")
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute")
	}
	return plural(int(d.Hours()), "hour")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// tasks serves /api/tasks… and /api/Spaces-1/tasks…
func (h *Handler) tasks(c *call, segs []string) error {
	switch {
	case len(segs) == 0:
		return c.get(h.listTasks)
	case len(segs) == 1:
		return c.get(func(c *call) error { return getOne(c, "/tasks/"+url.PathEscape(pulpoTaskID(segs[0])), taskOf) })
	case len(segs) == 2 && strings.EqualFold(segs[1], "details"):
		return c.get(func(c *call) error { return h.taskDetails(c, pulpoTaskID(segs[0])) })
	case len(segs) == 2 && strings.EqualFold(segs[1], "raw"):
		return c.get(func(c *call) error { return h.rawLog(c, pulpoTaskID(segs[0])) })
	case len(segs) == 2 && strings.EqualFold(segs[1], "cancel"):
		if c.r.Method != http.MethodPost {
			return methodNotAllowed(c.r)
		}
		var t model.Task
		if err := c.sendJSON(http.MethodPost, "/tasks/"+url.PathEscape(pulpoTaskID(segs[0]))+"/cancel", nil, &t); err != nil {
			return err
		}
		return c.ok(taskOf(t))
	}
	return c.unserved("")
}

func (h *Handler) listTasks(c *call) error {
	p, err := pagingOf(c.r)
	if err != nil {
		return err
	}
	q := c.r.URL.Query()
	inner := url.Values{}
	if ids := queryList(q, "ids"); len(ids) > 0 {
		for i := range ids {
			ids[i] = pulpoTaskID(ids[i])
		}
		inner.Set("ids", strings.Join(ids, ","))
	}
	states := queryList(q, "states")
	if strings.EqualFold(q.Get("active"), "true") || strings.EqualFold(q.Get("running"), "true") {
		states = append(states, "Queued", "Executing", "Cancelling")
	}
	if len(states) > 0 {
		st, err := pulpoStates(states)
		if err != nil {
			return err
		}
		if len(st) == 0 {
			return c.ok(pageItems[task](c.r, "Task", nil, 0, p, false))
		}
		inner.Set("state", strings.Join(st, ","))
	}
	if v := q.Get("project"); v != "" {
		inner.Set("projectId", v)
	}
	if v := q.Get("environment"); v != "" {
		inner.Set("environmentId", v)
	}
	items, total, err := innerRange[model.Task](c, "/tasks", inner, p)
	if err != nil {
		return err
	}
	list := make([]task, 0, len(items))
	for _, t := range items {
		list = append(list, taskOf(t))
	}
	return c.ok(pageItems(c.r, "Task", list, total, p, true))
}

// taskLog reads a task's whole log tree and lines.
func taskLog(c *call, id string) (wire.TaskLog, error) {
	var all wire.TaskLog
	for since := int64(0); ; {
		var part wire.TaskLog
		q := url.Values{"since": {strconv.FormatInt(since, 10)}, "take": {"10000"}}
		if err := c.getJSON("/tasks/"+url.PathEscape(id)+"/log", q, &part); err != nil {
			return all, err
		}
		all.Task, all.Activities = part.Task, part.Activities
		all.Lines = append(all.Lines, part.Lines...)
		if !part.More || part.LastSeq == since {
			return all, nil
		}
		since = part.LastSeq
	}
}

// Task details: the task and its activity tree, each node with its lines.

type taskDetails struct {
	Task            task              `json:"Task"`
	ActivityLogs    []*activity       `json:"ActivityLogs"`
	PhysicalLogSize int64             `json:"PhysicalLogSize"`
	Progress        taskProgress      `json:"Progress"`
	Links           map[string]string `json:"Links"`
}

type activity struct {
	ID                 string        `json:"Id"`
	Name               string        `json:"Name"`
	Started            *time.Time    `json:"Started"`
	Ended              *time.Time    `json:"Ended"`
	Status             string        `json:"Status"`
	ShowAtSummaryLevel bool          `json:"ShowAtSummaryLevel"`
	ProgressPercentage int           `json:"ProgressPercentage"`
	Children           []*activity   `json:"Children"`
	LogElements        []*logElement `json:"LogElements"`
}

type logElement struct {
	OccurredAt  time.Time `json:"OccurredAt"`
	Category    string    `json:"Category"`
	MessageText string    `json:"MessageText"`
	Number      int64     `json:"Number"`
}

type taskProgress struct {
	ProgressPercentage     int    `json:"ProgressPercentage"`
	EstimatedTimeRemaining string `json:"EstimatedTimeRemaining"`
}

// category names a log level as Octopus does.
func category(l model.LogLevel) string {
	switch l {
	case model.LevelVerbose:
		return "Verbose"
	case model.LevelHighlight:
		return "Highlight"
	case model.LevelWarning:
		return "Warning"
	case model.LevelError:
		return "Error"
	}
	return "Info"
}

func (h *Handler) taskDetails(c *call, id string) error {
	l, err := taskLog(c, id)
	if err != nil {
		return err
	}
	octoID := serverTaskID(l.Task.ID)
	nodes := map[int]*activity{}
	var roots []*activity
	for _, a := range l.Activities {
		nodes[a.ID] = &activity{ID: fmt.Sprintf("%s_%d", octoID, a.ID), Name: a.Name, Started: a.StartedAt, Ended: a.EndedAt,
			Status: string(a.State), ShowAtSummaryLevel: a.Kind != model.ActivityTarget, Children: []*activity{}, LogElements: []*logElement{}}
	}
	for _, a := range l.Activities {
		n := nodes[a.ID]
		if parent, ok := nodes[a.ParentID]; ok && a.ParentID != a.ID {
			parent.Children = append(parent.Children, n)
		} else {
			roots = append(roots, n)
		}
	}
	var size int64
	for _, line := range l.Lines {
		size += int64(len(line.Text)) + 1
		if n, ok := nodes[line.ActivityID]; ok {
			n.LogElements = append(n.LogElements, &logElement{OccurredAt: line.Time, Category: category(line.Level), MessageText: line.Text, Number: line.Seq})
		}
	}
	// Progress: the share of steps that have ended.
	steps, ended := 0, 0
	for _, a := range l.Activities {
		if a.Kind == model.ActivityStep {
			steps++
			if a.State.Finished() {
				ended++
			}
		}
	}
	pct := 0
	switch {
	case l.Task.State.Finished():
		pct = 100
	case steps > 0:
		pct = ended * 100 / steps
	}
	for _, a := range l.Activities {
		if a.State.Finished() {
			nodes[a.ID].ProgressPercentage = 100
		}
	}
	// Octopus's tree has the task at its root and the steps under it;
	// Pulpo's log starts at the steps.
	if len(roots) != 1 || len(l.Activities) == 0 || l.Activities[0].Kind != model.ActivityTask {
		root := &activity{ID: octoID, Name: l.Task.Description, Started: l.Task.StartedAt, Ended: l.Task.CompletedAt,
			Status: rootStatus(l.Task.State), ShowAtSummaryLevel: true, Children: roots, LogElements: []*logElement{}}
		if root.Children == nil {
			root.Children = []*activity{}
		}
		if l.Task.State.Finished() {
			root.ProgressPercentage = 100
		}
		roots = []*activity{root}
	}
	return c.ok(taskDetails{Task: taskOf(l.Task), ActivityLogs: roots, PhysicalLogSize: size,
		Progress: taskProgress{ProgressPercentage: pct}, Links: map[string]string{"Self": "/api/tasks/" + octoID + "/details"}})
}

// rootStatus is the status of the task's own activity.
func rootStatus(s model.TaskState) string {
	switch s {
	case model.TaskQueued:
		return string(model.ActivityPending)
	case model.TaskSuccess, model.TaskFailed, model.TaskCanceled:
		return string(s)
	}
	return string(model.ActivityRunning)
}

// rawLog answers the task's log as plain text, one line per log line.
func (h *Handler) rawLog(c *call, id string) error {
	l, err := taskLog(c, id)
	if err != nil {
		return err
	}
	names := map[int]string{}
	for _, a := range l.Activities {
		names[a.ID] = a.Name
	}
	var b strings.Builder
	for _, line := range l.Lines {
		fmt.Fprintf(&b, "%s %-9s %s | %s\n", line.Time.UTC().Format("15:04:05"), category(line.Level), names[line.ActivityID], line.Text)
	}
	c.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	c.w.WriteHeader(http.StatusOK)
	c.w.Write([]byte(b.String()))
	return nil
}

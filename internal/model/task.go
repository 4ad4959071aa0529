package model

import "time"

// TaskState is where a task is in its life. The names match Octopus's, so
// people and scripts moving over read them the same way.
type TaskState string

// Task states.
const (
	TaskQueued    TaskState = "Queued"
	TaskExecuting TaskState = "Executing"
	TaskCanceling TaskState = "Canceling"
	// TaskWaiting: the task asked people something (a manual intervention,
	// guided failure) and holds no slot until they answer.
	TaskWaiting  TaskState = "Waiting"
	TaskSuccess  TaskState = "Success"
	TaskFailed   TaskState = "Failed"
	TaskCanceled TaskState = "Canceled"
)

// Finished reports whether the state is final.
func (s TaskState) Finished() bool {
	return s == TaskSuccess || s == TaskFailed || s == TaskCanceled
}

// TaskKind says what a task does.
type TaskKind string

// Task kinds.
const (
	TaskDeploy TaskKind = "Deploy"
	// TaskStaging runs a staging's control script (create, update, …).
	TaskStaging TaskKind = "Staging"
)

// Task is a unit of work the server runs in the background, with a log.
type Task struct {
	ID           string    `json:"id"`
	Kind         TaskKind  `json:"kind"`
	Description  string    `json:"description"`
	State        TaskState `json:"state"`
	DeploymentID string    `json:"deploymentId,omitempty"`
	ProjectID    string    `json:"projectId,omitempty"`
	// EnvironmentID is set for deployments, so tasks can be filtered by it.
	EnvironmentID string     `json:"environmentId,omitempty"`
	QueuedAt      time.Time  `json:"queuedAt"`
	StartedAt     *time.Time `json:"startedAt,omitempty"`
	CompletedAt   *time.Time `json:"completedAt,omitempty"`
	// Error says why a task failed, in one line.
	Error string `json:"error,omitempty"`
	// CancelRequested is set when someone asked to cancel a running task.
	CancelRequested bool `json:"cancelRequested,omitempty"`
	// NotBefore delays the start (a scheduled deployment); NotAfter is the
	// expiry after which a task that has not started fails instead.
	NotBefore *time.Time `json:"notBefore,omitempty"`
	NotAfter  *time.Time `json:"notAfter,omitempty"`
	// ParentTaskID is the task that started this one (a parent
	// deployment); canceling the parent cancels it.
	ParentTaskID string `json:"parentTaskId,omitempty"`
	// Priority orders the queue (higher first); see PriorityProduction.
	Priority int `json:"priority"`
	// Node is the server node that holds the task, or held it last.
	Node string `json:"node,omitempty"`
}

// Duration is how long the task ran, or has run so far.
func (t *Task) Duration(now time.Time) time.Duration {
	if t.StartedAt == nil {
		return 0
	}
	end := now
	if t.CompletedAt != nil {
		end = *t.CompletedAt
	}
	return end.Sub(*t.StartedAt)
}

// ActivityKind says what a node of the task log tree stands for.
type ActivityKind string

// Activity kinds: the log is a tree task → step → target.
const (
	ActivityTask   ActivityKind = "task"
	ActivityStep   ActivityKind = "step"
	ActivityTarget ActivityKind = "target"
)

// ActivityState is the progress of one node of the log tree.
type ActivityState string

// Activity states.
const (
	ActivityPending  ActivityState = "Pending"
	ActivityRunning  ActivityState = "Running"
	ActivitySuccess  ActivityState = "Success"
	ActivityFailed   ActivityState = "Failed"
	ActivitySkipped  ActivityState = "Skipped"
	ActivityCanceled ActivityState = "Canceled"
)

// Finished reports whether the state is final.
func (s ActivityState) Finished() bool {
	return s == ActivitySuccess || s == ActivityFailed || s == ActivitySkipped || s == ActivityCanceled
}

// Activity is a node of a task's log tree. The target nodes also hold what is
// needed to find a running script again after a restart.
type Activity struct {
	TaskID    string        `json:"-"`
	ID        int           `json:"id"`
	ParentID  int           `json:"parentId,omitempty"`
	Kind      ActivityKind  `json:"kind"`
	Name      string        `json:"name"`
	State     ActivityState `json:"state"`
	StepID    string        `json:"stepId,omitempty"`
	StartedAt *time.Time    `json:"startedAt,omitempty"`
	EndedAt   *time.Time    `json:"endedAt,omitempty"`
	// ScriptTicket identifies the script run on the target; starting a
	// ticket twice is harmless, so it is recorded before the script starts.
	ScriptTicket string `json:"-"`
	// NextScriptLogSeq is the first line of the script's output the task log
	// does not hold yet.
	NextScriptLogSeq int64 `json:"-"`
	ExitCode         *int  `json:"exitCode,omitempty"`
	// MachineID is the machine a target node ran on; empty for the
	// server's built-in worker.
	MachineID string `json:"machineId,omitempty"`
	// Outputs are the output variables the script set (sensitive values
	// sealed); not shown through the API.
	Outputs []OutputVariable `json:"-"`
}

// OutputVariable is a value a script handed to later steps.
type OutputVariable struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// LogLevel grades a log line.
type LogLevel string

// Log levels, lowest first.
const (
	LevelVerbose   LogLevel = "verbose"
	LevelInfo      LogLevel = "info"
	LevelHighlight LogLevel = "highlight"
	LevelWarning   LogLevel = "warning"
	LevelError     LogLevel = "error"
)

// LogLine is one line of a task's log. Seq orders all lines of a task.
type LogLine struct {
	Seq        int64     `json:"seq"`
	ActivityID int       `json:"activityId"`
	Time       time.Time `json:"time"`
	Level      LogLevel  `json:"level"`
	Text       string    `json:"text"`
}

// Artifact is a file a script handed over, kept with its task.
type Artifact struct {
	TaskID     string    `json:"taskId"`
	ID         int       `json:"id"`
	ActivityID int       `json:"activityId"`
	Name       string    `json:"name"`
	SizeBytes  int64     `json:"sizeBytes"`
	SHA256     string    `json:"sha256"`
	CreatedAt  time.Time `json:"createdAt"`
	// File is where the server keeps it, relative to its artifacts folder.
	File string `json:"-"`
}

// Task priorities: when more work is queued than nodes have slots,
// deployments to the last environment (production, in most setups) go
// first, then other deployments, then runbook runs.
const (
	PriorityRunbook    = 0
	PriorityDeployment = 1
	PriorityProduction = 2
)

// Node is a server node as its heartbeats describe it.
type Node struct {
	Name           string    `json:"name"`
	Version        string    `json:"version"`
	StartedAt      time.Time `json:"startedAt"`
	LastSeenAt     time.Time `json:"lastSeenAt"`
	Slots          int       `json:"slots"`
	Running        int       `json:"running"`
	Draining       bool      `json:"draining"`
	APIURL         string    `json:"apiUrl,omitempty"`
	PollingAddress string    `json:"pollingAddress,omitempty"`
	// Alive says the node's heartbeat is recent.
	Alive bool `json:"alive"`
	// Tasks are the ids of the tasks it holds now.
	Tasks []string `json:"tasks"`
}

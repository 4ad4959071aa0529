// Package contract is what the server asks of a place that runs work: the
// built-in worker today, agents and SSH targets later. The engine talks to
// every target through these interfaces and never learns how it is reached.
package contract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"
)

// Target is somewhere steps run.
type Target interface {
	// Name is shown in task logs.
	Name() string
	// Scripts runs scripts on the target.
	Scripts() ScriptService
	// Files moves files to and from the target.
	Files() FileService
	// Capabilities says what the target offers; it is also the cheapest
	// call that proves the target is reachable and trusts us.
	Capabilities(ctx context.Context) (Capabilities, error)
}

// FileService streams files to and from a target. Relative paths are under
// the target's home folder. Every transfer is checked at the end by length
// and SHA-256, so a cut connection never leaves a file that looks whole.
type FileService interface {
	// UploadFile writes size bytes from r to path. The target first checks it
	// has room for them, writes to a temporary file, checks length and hash,
	// and only then renames it into place.
	UploadFile(ctx context.Context, path string, size int64, r io.Reader) (FileInfo, error)
	// DownloadFile writes the file at path to w and describes what it sent.
	DownloadFile(ctx context.Context, path string, w io.Writer) (FileInfo, error)
	// StatFile describes the file at path, its hash included, or returns
	// an error wrapping ErrFileNotFound.
	StatFile(ctx context.Context, path string) (FileInfo, error)
	// PartialUpload reports how many bytes of a resumable upload of the
	// content with this SHA-256 to path the target already holds.
	PartialUpload(ctx context.Context, path, sha256 string) (int64, error)
	// UploadFrom continues a resumable upload: r holds the content from
	// offset on (offset at most what PartialUpload reported). The target
	// checks it has room for the rest before any of r is read. What arrived
	// stays on the target if the transfer is cut short; once whole, the file
	// is checked against size and sha256 and moved into place.
	UploadFrom(ctx context.Context, path string, size int64, sha256 string, offset int64, r io.Reader) (FileInfo, error)
}

// ErrFileNotFound is returned (wrapped) for a file a target does not have.
var ErrFileNotFound = errors.New("no such file on the target")

// FileInfo describes a file a transfer wrote or read.
type FileInfo struct {
	// Path is where the file is on the target, made absolute.
	Path   string `json:"path"`
	Length int64  `json:"length"`
	// SHA256 is the hex digest of the content.
	SHA256 string `json:"sha256"`
}

// Capabilities is what a target reports about itself.
type Capabilities struct {
	// Services lists the services it offers, e.g. "scripts/v1", "files/v1".
	Services []string `json:"services"`
	// Version is the Pulpo version of the agent or remote runner.
	Version string `json:"version"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	// Home is the target's folder for workspaces and relative file paths.
	Home string `json:"home,omitempty"`
	// RunnerSHA256 is the hash of the pulpo binary scripts reach as
	// $PULPO_RUNNER, so the server can tell whether the target's runner is
	// its own or must be sent; empty from targets that do not say.
	RunnerSHA256 string `json:"runnerSha256,omitempty"`
}

// Service names reported in Capabilities.
const (
	ServiceScripts = "scripts/v1"
	ServiceFiles   = "files/v1"
)

// Answered is implemented by errors that came back from the target itself:
// the call arrived and was refused, so repeating it will not help. Other
// errors (a refused or dropped connection) are worth retrying, because every
// script call is idempotent by its ticket.
type Answered interface {
	error
	Answered() bool
}

// IsAnswered reports whether err is a target's own answer.
func IsAnswered(err error) bool {
	var a Answered
	return errors.As(err, &a) && a.Answered()
}

// ErrNotEnoughSpace is returned (wrapped) when a target lacks room for an upload.
var ErrNotEnoughSpace = errors.New("not enough free disk space")

// ScriptService runs scripts under tickets the caller chooses. Starting a
// ticket twice is harmless (the second call reports the first run), the log
// is read by sequence number from any position, and the service keeps no
// state about its callers, so a restarted server, or another server node,
// picks up a script where the last reader left it.
type ScriptService interface {
	StartScript(ctx context.Context, cmd StartScriptCommand) (ScriptStatus, error)
	GetStatus(ctx context.Context, req StatusRequest) (ScriptStatus, error)
	// CancelScript asks the script to stop; its status turns Complete once
	// it has. Call GetStatus (or CancelScript again) until it does.
	CancelScript(ctx context.Context, req StatusRequest) (ScriptStatus, error)
	// CompleteScript forgets a finished script and removes its workspace.
	CompleteScript(ctx context.Context, ticket string) error
}

// StartScriptCommand describes one script run.
type StartScriptCommand struct {
	Ticket string `json:"ticket"`
	// Syntax is the interpreter: "bash", "sh" or "python" (python3).
	Syntax string `json:"syntax"`
	Body   string `json:"body"`
	// Bootstrap is shell code run before the script, in the same shell
	// (functions such as set_octopusvariable); the script keeps its own
	// file, so its line numbers in error messages stay its own. For
	// python it is a Python program, run as "python3 -u bootstrap.py
	// script.py", that defines the functions and runs the script.
	Bootstrap string `json:"bootstrap,omitempty"`
	// Modules are Python script modules, name to body, written as
	// NAME.py beside a python script so it can import them.
	Modules map[string]string `json:"modules,omitempty"`
	// TaskID labels the run for people looking at the target.
	TaskID string `json:"taskId,omitempty"`
	// Isolated scripts run one at a time on a target; later ones wait
	// (Pending) for the one before to end. Deployment steps are isolated,
	// health checks are not.
	Isolated bool `json:"isolated,omitempty"`
	// Wait lets a short script finish within the start call; the reply
	// comes when the script completes or Wait has passed.
	Wait time.Duration `json:"wait,omitempty"`
}

// StatusRequest asks about a script run.
type StatusRequest struct {
	Ticket string `json:"ticket"`
	// FromLogSeq is the first log sequence number the caller has not seen.
	FromLogSeq int64 `json:"fromLogSeq"`
	// Wait holds the reply until there are new lines, the script completes,
	// or Wait has passed, so callers need not poll in a tight loop.
	Wait time.Duration `json:"wait,omitempty"`
}

// ScriptState is where a script run is.
type ScriptState string

// Script states.
const (
	ScriptPending  ScriptState = "Pending"
	ScriptRunning  ScriptState = "Running"
	ScriptComplete ScriptState = "Complete"
)

// Exit codes the service reports when the script's own code is not known.
const (
	// ExitCanceled: the script was stopped because cancellation was asked for.
	ExitCanceled = -43
	// ExitUnknownTicket: the service has no record of the ticket.
	ExitUnknownTicket = -45
	// ExitUnknownResult: the process that watched the script died before
	// recording how it ended.
	ExitUnknownResult = -46
)

// DescribeExitCode says in words what a special exit code means.
func DescribeExitCode(code int) string {
	switch code {
	case ExitCanceled:
		return "canceled"
	case ExitUnknownTicket:
		return "the target has no record of this script run"
	case ExitUnknownResult:
		return "the process watching the script stopped before recording its result"
	}
	return fmt.Sprintf("exit code %d", code)
}

// OutputSource says which stream a line came from.
type OutputSource string

// Output sources.
const (
	Stdout OutputSource = "stdout"
	Stderr OutputSource = "stderr"
	// Diagnostic lines come from the service itself, not the script.
	Diagnostic OutputSource = "diagnostic"
)

// OutputLine is one line a script wrote.
type OutputLine struct {
	Seq    int64        `json:"s"`
	Time   time.Time    `json:"t"`
	Source OutputSource `json:"o"`
	Text   string       `json:"m"`
}

// ScriptStatus is the answer to every script call.
type ScriptStatus struct {
	Ticket   string       `json:"ticket"`
	State    ScriptState  `json:"state"`
	ExitCode int          `json:"exitCode"`
	Logs     []OutputLine `json:"logs,omitempty"`
	// NextLogSeq is the FromLogSeq of the next request.
	NextLogSeq int64 `json:"nextLogSeq"`
}

var ticketPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidTicket reports whether a ticket is safe to use as a folder name.
func ValidTicket(ticket string) error {
	if !ticketPattern.MatchString(ticket) {
		return fmt.Errorf("script ticket %q is not valid: use letters, digits, '.', '_' and '-', at most 128", ticket)
	}
	return nil
}

// Package scriptsvc runs scripts under tickets, each in a workspace folder:
// the script, a state file and a sequenced output log. A small supervisor
// process (the same binary, "pulpo supervise") runs the script detached from
// the caller and records its output and exit code, so a script outlives a
// crash of the process that started it and its result is never lost. The
// built-in worker and agents both serve contract.ScriptService from here.
package scriptsvc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

// Files of a workspace.
const (
	commandFile = "command.json"    // what to run, written before the supervisor starts
	stateFile   = "state.json"      // progress, written atomically
	outputFile  = "output.log"      // JSON lines of contract.OutputLine
	lockFile    = "supervisor.lock" // held (flock) by the live supervisor
)

// command is what the supervisor reads.
type command struct {
	Syntax     string `json:"syntax"`
	ScriptFile string `json:"scriptFile"`
	// Script is the user's script a Python bootstrap (ScriptFile) runs.
	Script   string `json:"script,omitempty"`
	TaskID   string `json:"taskId,omitempty"`
	Isolated bool   `json:"isolated,omitempty"`
}

// state is the workspace's progress. The service writes Pending; from then
// on only the supervisor writes.
type state struct {
	State         contract.ScriptState `json:"state"`
	CreatedAt     time.Time            `json:"createdAt"`
	SupervisorPID int                  `json:"supervisorPid,omitempty"`
	ProcessGroup  int                  `json:"processGroup,omitempty"`
	StartedAt     *time.Time           `json:"startedAt,omitempty"`
	CompletedAt   *time.Time           `json:"completedAt,omitempty"`
	ExitCode      int                  `json:"exitCode"`
	Canceled      bool                 `json:"canceled,omitempty"`
}

func readState(dir string) (state, error) {
	var s state
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("read %s: %w", filepath.Join(dir, stateFile), err)
	}
	return s, nil
}

// writeState replaces the state file atomically: a reader sees the old
// state or the new one, never half of either, even if a process dies. Only
// the final state is also flushed to disk (finishState): a power cut ends
// the script anyway, but an exit code once reported must not be lost.
// Flushing every step cost more than running a short script.
func writeState(dir string, s state) error {
	return writeStateFile(dir, s, false)
}

// finishState writes the final state durably.
func finishState(dir string, s state) error {
	return writeStateFile(dir, s, true)
}

func writeStateFile(dir string, s state, durable bool) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), b, durable)
}

func writeFileAtomic(path string, data []byte, durable bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil && durable {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !durable {
		return nil
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// cursor remembers where in the output file a sequence number starts, so a
// reader following a long log does not rescan it from the top.
type cursor struct {
	seq    int64
	offset int64
}

// maxReadLines bounds one reply, so a flood of output travels in pieces.
const maxReadLines = 5000

// readOutput returns complete lines with Seq >= from, at most maxReadLines,
// and the cursor after the last line returned. A line still being written
// (no newline yet) is left for the next read.
func readOutput(dir string, from int64, hint cursor) ([]contract.OutputLine, cursor, error) {
	f, err := os.Open(filepath.Join(dir, outputFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, hint, nil
	}
	if err != nil {
		return nil, hint, err
	}
	defer f.Close()
	pos := cursor{}
	if hint.seq <= from {
		pos = hint
	}
	if _, err := f.Seek(pos.offset, io.SeekStart); err != nil {
		return nil, hint, err
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var out []contract.OutputLine
	for len(out) < maxReadLines {
		raw, err := r.ReadBytes('\n')
		if err != nil { // io.EOF: a partial line or nothing more
			break
		}
		if pos.seq >= from {
			var ln contract.OutputLine
			if err := json.Unmarshal(bytes.TrimSpace(raw), &ln); err != nil {
				return nil, hint, fmt.Errorf("read output line %d of %s: %w", pos.seq, dir, err)
			}
			out = append(out, ln)
		}
		pos.seq++
		pos.offset += int64(len(raw))
	}
	return out, pos, nil
}

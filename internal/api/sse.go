package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

func intParam(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s must be a whole number from %d to %d, not %q", name, lo, hi, s)
	}
	return n, nil
}

// streamRecheck is how often a stream looks at the store without a signal:
// the safety net for changes made by other server nodes.
const streamRecheck = time.Second

// heartbeat keeps idle streams open through proxies.
const heartbeat = 15 * time.Second

// streamLog follows a task's log as Server-Sent Events until the task ends
// and every line has been sent. Each line's event id is its sequence
// number, so a reconnecting client resumes with Last-Event-ID.
func (a *API) streamLog(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	since, err := intParam(r, "since", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		if n, err := strconv.ParseInt(last, 10, 64); err == nil && n >= 0 {
			since = n
		}
	}
	if _, err := a.Store.Read().GetTask(r.Context(), id); err != nil {
		return err
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("streaming is not supported by this connection")
	}
	signal, stop := a.Broker.Subscribe(id)
	defer stop()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	var lastTask, lastActs []byte
	recheck := time.NewTicker(streamRecheck)
	defer recheck.Stop()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		l, err := a.taskLog(r.Context(), id, since, 1000)
		if err != nil {
			return nil // the client is gone or the store failed; the stream just ends
		}
		taskJSON, _ := json.Marshal(l.Task)
		if string(taskJSON) != string(lastTask) {
			fmt.Fprintf(w, "event: task\ndata: %s\n\n", taskJSON)
			lastTask = taskJSON
		}
		actsJSON, _ := json.Marshal(l.Activities)
		if string(actsJSON) != string(lastActs) {
			fmt.Fprintf(w, "event: activities\ndata: %s\n\n", actsJSON)
			lastActs = actsJSON
		}
		for _, ln := range l.Lines {
			b, _ := json.Marshal(ln)
			fmt.Fprintf(w, "id: %d\nevent: line\ndata: %s\n\n", ln.Seq, b)
		}
		since = l.LastSeq
		// The task's state was read before its lines, so a finished task
		// with nothing more to send has really sent everything.
		if l.Task.State.Finished() && !l.More && len(l.Lines) == 0 {
			fmt.Fprintf(w, "event: end\ndata: %s\n\n", taskJSON)
			flusher.Flush()
			return nil
		}
		flusher.Flush()
		if l.More || len(l.Lines) > 0 {
			continue // drain before waiting
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-signal:
		case <-recheck.C:
		case <-beat.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			flusher.Flush()
		}
	}
}

package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// jsonLines decodes output that must hold one JSON object per line.
func jsonLines(t *testing.T, command, out string) []map[string]json.RawMessage {
	t.Helper()
	var objects []map[string]json.RawMessage
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var o map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("%s -o json: line %d is not one JSON object (%v): %q\nwhole output:\n%s", command, i+1, err, line, out)
		}
		objects = append(objects, o)
	}
	return objects
}

// TestTaskLogAndWatchPrintOneJSONObjectPerLine checks what their --help
// promises scripts: with -o json, every line of output is one JSON object,
// a log line for task log, an event for task watch, ending with "end".
func TestTaskLogAndWatchPrintOneJSONObjectPerLine(t *testing.T) {
	s := startCLIServer(t)
	for _, command := range []string{"log", "watch"} {
		help := s.ok("task", command, "--help")
		if !strings.Contains(strings.Join(strings.Fields(help), " "), "With -o json it prints one JSON object per line") {
			t.Errorf("pulpo task %s --help does not say -o json prints one JSON object per line:\n%s", command, help)
		}
	}

	ctx := context.Background()
	dev, err := s.c.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.c.CreateProject(ctx, model.Project{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Greet",
		Script: &model.ScriptAction{Syntax: "bash", Body: "echo first line\necho second line"}}}}); err != nil {
		t.Fatal(err)
	}
	rel, err := s.c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID, Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.c.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: rel.ID, EnvironmentID: dev.ID})
	if err != nil {
		t.Fatal(err)
	}

	// watch follows the task to its end, so log then reads the whole of it.
	var events []string
	var watchedLines []model.LogLine
	for i, o := range jsonLines(t, "pulpo task watch", s.ok("task", "watch", d.TaskID, "-o", "json")) {
		var kind string
		if err := json.Unmarshal(o["event"], &kind); err != nil {
			t.Fatalf("task watch -o json: object %d has no event name: %v", i+1, o)
		}
		events = append(events, kind)
		switch kind {
		case "line":
			var ln model.LogLine
			if err := json.Unmarshal(o["line"], &ln); err != nil {
				t.Fatalf("task watch -o json: a line event without its line: %v", err)
			}
			watchedLines = append(watchedLines, ln)
		case "end":
			var task model.Task
			if err := json.Unmarshal(o["task"], &task); err != nil || task.ID != d.TaskID || task.State != model.TaskSuccess {
				t.Fatalf("task watch -o json: the end event should carry the succeeded task %s, got %s (%v)", d.TaskID, o["task"], err)
			}
		}
	}
	if len(events) == 0 || events[len(events)-1] != "end" || !containsText(watchedLines, "second line") {
		t.Fatalf("task watch -o json: want the script's lines and then end, got events %v", events)
	}

	var logged []model.LogLine
	for _, o := range jsonLines(t, "pulpo task log", s.ok("task", "log", d.TaskID, "-o", "json")) {
		raw, _ := json.Marshal(o)
		var ln model.LogLine
		if err := json.Unmarshal(raw, &ln); err != nil || ln.Seq == 0 {
			t.Fatalf("task log -o json: %s is not a log line: %v", raw, err)
		}
		logged = append(logged, ln)
	}
	if len(logged) != len(watchedLines) || !containsText(logged, "first line") || !containsText(logged, "second line") {
		t.Fatalf("task log -o json printed %d lines, watch %d; both should hold the script's output: %+v", len(logged), len(watchedLines), logged)
	}
}

func containsText(lines []model.LogLine, text string) bool {
	for _, ln := range lines {
		if strings.Contains(ln.Text, text) {
			return true
		}
	}
	return false
}

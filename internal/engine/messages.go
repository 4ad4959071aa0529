package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
)

// serviceMessage acts on a script's message other than setVariable and
// returns the log line it becomes, if any.
func (h deployHandler) serviceMessage(run *tasks.Run, p placement, m serviceMessage) (model.LogLine, bool) {
	target := p.act
	kind := strings.ToLower(m.kind)
	if level, ok := strings.CutPrefix(kind, "stdout-"); ok {
		lv := model.LevelInfo
		switch level {
		case "verbose":
			lv = model.LevelVerbose
		case "highlight":
			lv = model.LevelHighlight
		case "warning":
			lv = model.LevelWarning
		case "error":
			lv = model.LevelError
		}
		h.e.levels.Store(levelKey(run.Task.ID, target.ID), lv)
		return model.LogLine{}, false
	}
	switch kind {
	case "progress":
		text := "Progress: " + m.attrs["percentage"] + "%"
		if msg := m.attrs["message"]; msg != "" {
			text += " " + msg
		}
		return model.LogLine{Level: model.LevelInfo, Text: text}, true
	case "resultmessage":
		return model.LogLine{Level: model.LevelError, Text: m.attrs["message"]}, true
	case "createartifact":
		return h.collectArtifact(run, p, m.attrs["path"], m.attrs["name"]), true
	}
	return model.LogLine{Level: model.LevelVerbose, Text: fmt.Sprintf("Unknown service message %q ignored", m.kind)}, true
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// collectArtifact copies a file the script names from the target to the
// server, where it is kept with the task.
func (h deployHandler) collectArtifact(run *tasks.Run, p placement, path, name string) model.LogLine {
	target := p.act
	if h.e.cfg.ArtifactsDir == "" {
		return model.LogLine{Level: model.LevelWarning, Text: "This server keeps no artifacts; " + name + " was not collected"}
	}
	if name == "" {
		name = filepath.Base(path)
	}
	if p.target == nil {
		return model.LogLine{Level: model.LevelWarning, Text: "Artifact " + name + " not collected: the target is not reachable"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := filepath.Join(h.e.cfg.ArtifactsDir, run.Task.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return model.LogLine{Level: model.LevelWarning, Text: fmt.Sprintf("Artifact %s not collected: %v", name, err)}
	}
	file := fmt.Sprintf("%d-%s", time.Now().UnixNano(), unsafeName.ReplaceAllString(name, "_"))
	f, err := os.Create(filepath.Join(dir, file))
	if err != nil {
		return model.LogLine{Level: model.LevelWarning, Text: fmt.Sprintf("Artifact %s not collected: %v", name, err)}
	}
	info, err := p.target.Files().DownloadFile(ctx, path, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(filepath.Join(dir, file))
		return model.LogLine{Level: model.LevelWarning, Text: fmt.Sprintf("Artifact %s not collected: %v", name, err)}
	}
	a := model.Artifact{ActivityID: target.ID, Name: name, File: filepath.Join(run.Task.ID, file), SizeBytes: info.Length, SHA256: info.SHA256,
		CreatedAt: run.Store().Now().UTC()}
	if err := run.Tx(ctx, func(q *store.Queries) error { return q.AddArtifact(ctx, run.Lease, &a) }); err != nil {
		return model.LogLine{Level: model.LevelWarning, Text: fmt.Sprintf("Artifact %s not recorded: %v", name, err)}
	}
	return model.LogLine{Level: model.LevelInfo, Text: fmt.Sprintf("Collected artifact %s (%d bytes)", name, info.Length)}
}

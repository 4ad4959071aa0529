// Package agentrpc carries the target contract over comms: the agent serves
// a local target's script and file services under method names, and the
// server calls them through a contract.Target that does not care whether the
// agent listens or polls.
package agentrpc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path/filepath"

	"github.com/pulpo-deploy/pulpo/internal/comms"
	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/filesvc"
	"github.com/pulpo-deploy/pulpo/internal/localtarget"
)

// Method names. A new version of a call gets a new name; old ones stay.
const (
	MethodCapabilities = "capabilities/v1"
	MethodStartScript  = "scripts/v1.start"
	MethodGetStatus    = "scripts/v1.status"
	MethodCancelScript = "scripts/v1.cancel"
	MethodComplete     = "scripts/v1.complete"
	MethodPrepare      = "files/v1.prepare"
	MethodUpload       = "files/v1.upload"
	MethodDownload     = "files/v1.download"
	MethodStat         = "files/v1.stat"
	MethodPartial      = "files/v1.partial"
	MethodUploadFrom   = "files/v1.uploadFrom"
	// MethodServers tells a polling agent every node's polling address, so
	// it connects to each and whichever node runs a task reaches it.
	MethodServers = "agent/v1.servers"
)

// codeNotFound marks contract.ErrFileNotFound on the wire.
const codeNotFound = "file_not_found"

// codeNoSpace marks contract.ErrNotEnoughSpace on the wire.
const codeNoSpace = "not_enough_space"

type ticketParams struct {
	Ticket string `json:"ticket"`
}

type fileParams struct {
	Path   string `json:"path"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Offset int64  `json:"offset,omitempty"`
}

// NewMux serves t's services: what an agent runs.
func NewMux(t *localtarget.Target) *comms.Mux {
	m := comms.NewMux()
	m.Handle(MethodCapabilities, func(ctx context.Context, c *comms.ServerCall) (any, error) {
		return t.Capabilities(ctx)
	})
	m.Handle(MethodStartScript, func(ctx context.Context, c *comms.ServerCall) (any, error) {
		var cmd contract.StartScriptCommand
		if err := c.Decode(&cmd); err != nil {
			return nil, err
		}
		return t.ScriptSvc.StartScript(ctx, cmd)
	})
	m.Handle(MethodGetStatus, func(ctx context.Context, c *comms.ServerCall) (any, error) {
		var req contract.StatusRequest
		if err := c.Decode(&req); err != nil {
			return nil, err
		}
		return t.ScriptSvc.GetStatus(ctx, req)
	})
	m.Handle(MethodCancelScript, func(ctx context.Context, c *comms.ServerCall) (any, error) {
		var req contract.StatusRequest
		if err := c.Decode(&req); err != nil {
			return nil, err
		}
		return t.ScriptSvc.CancelScript(ctx, req)
	})
	m.Handle(MethodComplete, func(ctx context.Context, c *comms.ServerCall) (any, error) {
		var p ticketParams
		if err := c.Decode(&p); err != nil {
			return nil, err
		}
		return struct{}{}, t.ScriptSvc.CompleteScript(ctx, p.Ticket)
	})
	m.Handle(MethodPrepare, func(ctx context.Context, c *comms.ServerCall) (any, error) {
		var p fileParams
		if err := c.Decode(&p); err != nil {
			return nil, err
		}
		dest, err := t.FileSvc.CheckSpace(p.Path, p.Size)
		return contract.FileInfo{Path: dest}, coded(err)
	})
	m.Handle(MethodUpload, func(ctx context.Context, c *comms.ServerCall) (any, error) {
		var p fileParams
		if err := c.Decode(&p); err != nil {
			return nil, err
		}
		if c.Body == nil {
			return nil, errors.New("upload: no file content came with the call")
		}
		info, err := t.FileSvc.UploadFile(ctx, p.Path, p.Size, c.Body)
		return info, coded(err)
	})
	m.Handle(MethodStat, func(ctx context.Context, c *comms.ServerCall) (any, error) {
		var p fileParams
		if err := c.Decode(&p); err != nil {
			return nil, err
		}
		info, err := t.FileSvc.StatFile(ctx, p.Path)
		return info, coded(err)
	})
	m.Handle(MethodPartial, func(ctx context.Context, c *comms.ServerCall) (any, error) {
		var p fileParams
		if err := c.Decode(&p); err != nil {
			return nil, err
		}
		n, err := t.FileSvc.PartialUpload(ctx, p.Path, p.SHA256)
		return fileParams{Path: p.Path, Offset: n}, err
	})
	m.Handle(MethodUploadFrom, func(ctx context.Context, c *comms.ServerCall) (any, error) {
		var p fileParams
		if err := c.Decode(&p); err != nil {
			return nil, err
		}
		if c.Body == nil {
			return nil, errors.New("upload: no file content came with the call")
		}
		info, err := t.FileSvc.UploadFrom(ctx, p.Path, p.Size, p.SHA256, p.Offset, c.Body)
		return info, coded(err)
	})
	m.Handle(MethodDownload, func(ctx context.Context, c *comms.ServerCall) (any, error) {
		var p fileParams
		if err := c.Decode(&p); err != nil {
			return nil, err
		}
		return download(t.FileSvc, c, p.Path)
	})
	return m
}

func download(files *filesvc.Service, c *comms.ServerCall, path string) (contract.FileInfo, error) {
	f, size, err := files.Open(path)
	if err != nil {
		return contract.FileInfo{}, err
	}
	defer f.Close()
	h := sha256.New()
	if err := c.SendBody(size, io.TeeReader(f, h)); err != nil {
		return contract.FileInfo{}, fmt.Errorf("download %s: %w", f.Name(), err)
	}
	return contract.FileInfo{Path: filepath.Clean(f.Name()), Length: size, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func coded(err error) error {
	switch {
	case errors.Is(err, contract.ErrNotEnoughSpace):
		return &comms.CodedError{Code: codeNoSpace, Err: err}
	case errors.Is(err, contract.ErrFileNotFound):
		return &comms.CodedError{Code: codeNotFound, Err: err}
	}
	return err
}

// uncoded turns a wire error back into the contract's.
func uncoded(err error) error {
	var re *comms.RemoteError
	if errors.As(err, &re) && re.Code == codeNoSpace {
		return fmt.Errorf("%w: %s", contract.ErrNotEnoughSpace, re.Message)
	}
	if errors.As(err, &re) && re.Code == codeNotFound {
		return fmt.Errorf("%w: %s", contract.ErrFileNotFound, re.Message)
	}
	return err
}

// ConnFunc returns a live connection to the agent, dialling or waiting for
// it to poll in as needed.
type ConnFunc func(ctx context.Context) (*comms.Conn, error)

// Target is an agent as the engine sees it.
type Target struct {
	name string
	conn ConnFunc
}

var _ contract.Target = (*Target)(nil)

// NewTarget makes a target that reaches the agent through conn.
func NewTarget(name string, conn ConnFunc) *Target { return &Target{name: name, conn: conn} }

// Name is shown in task logs.
func (t *Target) Name() string { return t.name }

// Scripts returns the agent's script service.
func (t *Target) Scripts() contract.ScriptService { return scripts{t} }

// Files returns the agent's file service.
func (t *Target) Files() contract.FileService { return files{t} }

// Capabilities asks the agent what it offers.
func (t *Target) Capabilities(ctx context.Context) (contract.Capabilities, error) {
	var c contract.Capabilities
	return c, t.call(ctx, MethodCapabilities, struct{}{}, &c, nil)
}

func (t *Target) call(ctx context.Context, method string, params, result any, opts *comms.CallOptions) error {
	conn, err := t.conn(ctx)
	if err != nil {
		return &comms.NotSentError{Err: fmt.Errorf("reach %s: %w", t.name, err)}
	}
	return uncoded(conn.Call(ctx, method, params, result, opts))
}

type scripts struct{ t *Target }

func (s scripts) StartScript(ctx context.Context, cmd contract.StartScriptCommand) (contract.ScriptStatus, error) {
	var st contract.ScriptStatus
	return st, s.t.call(ctx, MethodStartScript, cmd, &st, nil)
}

func (s scripts) GetStatus(ctx context.Context, req contract.StatusRequest) (contract.ScriptStatus, error) {
	var st contract.ScriptStatus
	return st, s.t.call(ctx, MethodGetStatus, req, &st, nil)
}

func (s scripts) CancelScript(ctx context.Context, req contract.StatusRequest) (contract.ScriptStatus, error) {
	var st contract.ScriptStatus
	return st, s.t.call(ctx, MethodCancelScript, req, &st, nil)
}

func (s scripts) CompleteScript(ctx context.Context, ticket string) error {
	return s.t.call(ctx, MethodComplete, ticketParams{Ticket: ticket}, nil, nil)
}

type files struct{ t *Target }

// UploadFile checks for room first, then streams, then compares what the
// agent stored with what was sent.
func (f files) UploadFile(ctx context.Context, path string, size int64, r io.Reader) (contract.FileInfo, error) {
	if err := f.t.call(ctx, MethodPrepare, fileParams{Path: path, Size: size}, nil, nil); err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s to %s: %w", path, f.t.name, err)
	}
	h := sha256.New()
	var info contract.FileInfo
	err := f.t.call(ctx, MethodUpload, fileParams{Path: path, Size: size}, &info,
		&comms.CallOptions{Body: io.TeeReader(r, h), BodyLength: size})
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s to %s: %w", path, f.t.name, err)
	}
	return info, verify(h, size, info, "upload", path, f.t.name)
}

// DownloadFile streams a file from the agent and checks it arrived whole.
func (f files) DownloadFile(ctx context.Context, path string, w io.Writer) (contract.FileInfo, error) {
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, h)}
	var info contract.FileInfo
	if err := f.t.call(ctx, MethodDownload, fileParams{Path: path}, &info, &comms.CallOptions{Sink: cw}); err != nil {
		return contract.FileInfo{}, fmt.Errorf("download %s from %s: %w", path, f.t.name, err)
	}
	return info, verify(h, cw.n, info, "download", path, f.t.name)
}

func verify(h hash.Hash, n int64, info contract.FileInfo, what, path, target string) error {
	got := hex.EncodeToString(h.Sum(nil))
	if n != info.Length || got != info.SHA256 {
		return fmt.Errorf("%s %s on %s: the two ends disagree (%d bytes, sha256 %s here; %d bytes, sha256 %s there)",
			what, path, target, n, got, info.Length, info.SHA256)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// StatFile describes a file on the agent.
func (f files) StatFile(ctx context.Context, path string) (contract.FileInfo, error) {
	var info contract.FileInfo
	return info, f.t.call(ctx, MethodStat, fileParams{Path: path}, &info, nil)
}

// PartialUpload asks how much of a resumable upload the agent holds.
func (f files) PartialUpload(ctx context.Context, path, sha string) (int64, error) {
	var out fileParams
	err := f.t.call(ctx, MethodPartial, fileParams{Path: path, SHA256: sha}, &out, nil)
	return out.Offset, err
}

// UploadFrom checks for room for the rest of a resumable upload, then
// streams it. The check is a call of its own because a call's body goes out
// whole before its reply is read: a refusal inside the upload call would
// come only after the whole package had crossed the network.
func (f files) UploadFrom(ctx context.Context, path string, size int64, sha string, offset int64, r io.Reader) (contract.FileInfo, error) {
	if offset >= 0 && offset < size {
		if err := f.t.call(ctx, MethodPrepare, fileParams{Path: path, Size: size - offset}, nil, nil); err != nil {
			return contract.FileInfo{}, fmt.Errorf("upload %s to %s: %w", path, f.t.name, err)
		}
	}
	var info contract.FileInfo
	err := f.t.call(ctx, MethodUploadFrom, fileParams{Path: path, Size: size, SHA256: sha, Offset: offset}, &info,
		&comms.CallOptions{Body: r, BodyLength: size - offset})
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s to %s: %w", path, f.t.name, err)
	}
	return info, nil
}

// ServersRequest lists the polling addresses of a server's live nodes.
type ServersRequest struct {
	Addresses []string `json:"addresses"`
}

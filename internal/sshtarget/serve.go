package sshtarget

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/localtarget"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
)

// RunIfRemoteCall serves and exits when the binary was started on a machine
// as one of
//
//	pulpo remote-serve --home HOME        the agent protocol on stdin and stdout, until stdin closes
//	pulpo remote-call --home HOME METHOD  one call: a JSON request on stdin, the reply on stdout
//
// (the first by an SSH target's server); otherwise it returns at once. Call
// it first thing in main.
func RunIfRemoteCall(version string) {
	if len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case remoteServeCommand:
		os.Exit(serveRemote(os.Args[2:], version))
	case remoteCallCommand:
		os.Exit(serveRemoteCall(os.Args[2:], version))
	}
}

// serveRemoteCall reads the request from stdin and writes the reply to
// stdout. It returns the process exit code: 0 whenever a reply was written,
// errors included.
func serveRemoteCall(args []string, version string) int {
	out, err := takeStdout()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulpo %s: %v\n", remoteCallCommand, err)
		return 1
	}
	flags := flag.NewFlagSet(remoteCallCommand, flag.ContinueOnError)
	flags.SetOutput(os.Stderr)
	home := flags.String("home", "", "the folder of workspaces and relative file paths")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *home == "" || flags.NArg() != 1 {
		fmt.Fprintf(os.Stderr, "usage: pulpo %s --home HOME METHOD < request.json\n", remoteCallCommand)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dec := json.NewDecoder(os.Stdin)
	var request json.RawMessage
	if err := dec.Decode(&request); err != nil {
		err = fmt.Errorf("read the request: %w", err)
		return writeReply(out, nil, err)
	}
	// The caller keeps stdin open while it waits for the reply; its end
	// means the caller gave up (or its connection died).
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	result, err := serveMethod(ctx, *home, version, flags.Arg(0), request)
	return writeReply(out, result, err)
}

func writeReply(out io.Writer, result any, err error) int {
	if werr := encodeReply(out, result, err); werr != nil {
		fmt.Fprintf(os.Stderr, "pulpo %s: write the reply: %v\n", remoteCallCommand, werr)
		return 1
	}
	return 0
}

// takeStdout keeps stdout for the reply alone: it returns a copy of it and
// points file descriptor 1 at stderr, so nothing else this process (or a
// library, or a child) prints can spoil the reply.
func takeStdout() (*os.File, error) {
	// Close-on-exec: a supervisor started from here must not hold the SSH
	// session's stdout open, or the session would not end with this process.
	fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("keep stdout for the reply: %w", err)
	}
	if err := unix.Dup2(2, 1); err != nil {
		return nil, fmt.Errorf("point stdout at stderr: %w", err)
	}
	return os.NewFile(uintptr(fd), "reply"), nil
}

// serveMethod runs one method on the machine's local services.
func serveMethod(ctx context.Context, home, version, method string, request json.RawMessage) (any, error) {
	target, err := localtarget.New("ssh", home, version, scriptsvc.Options{NoSpare: true})
	if err != nil {
		return nil, err
	}
	switch method {
	case methodCapabilities:
		return target.Capabilities(ctx)
	case methodStartScript:
		var cmd contract.StartScriptCommand
		if err := decodeRequest(request, &cmd); err != nil {
			return nil, err
		}
		return startScript(ctx, target, cmd)
	case methodGetStatus:
		var req contract.StatusRequest
		if err := decodeRequest(request, &req); err != nil {
			return nil, err
		}
		return target.ScriptSvc.GetStatus(ctx, req)
	case methodCancelScript:
		var req contract.StatusRequest
		if err := decodeRequest(request, &req); err != nil {
			return nil, err
		}
		return cancelScript(ctx, target, req)
	case methodCompleteScript:
		var req ticketRequest
		if err := decodeRequest(request, &req); err != nil {
			return nil, err
		}
		return nil, withWorkspacesLocked(ctx, target, func() error {
			return target.ScriptSvc.CompleteScript(ctx, req.Ticket)
		})
	case methodPrepareUpload:
		var req prepareUploadRequest
		if err := decodeRequest(request, &req); err != nil {
			return nil, err
		}
		return prepareUpload(target, req)
	case methodHashFile:
		var req pathRequest
		if err := decodeRequest(request, &req); err != nil {
			return nil, err
		}
		return hashFile(ctx, target, req)
	case methodResolvePath:
		var req pathRequest
		if err := decodeRequest(request, &req); err != nil {
			return nil, err
		}
		p, err := target.FileSvc.Resolve(req.Path)
		return pathResult{Path: p}, err
	}
	return nil, fmt.Errorf("unknown remote call %q", method)
}

func decodeRequest(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("read the request: %w", err)
	}
	return nil
}

package sshtarget

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"golang.org/x/sys/unix"

	"github.com/pulpo-deploy/pulpo/internal/agentrpc"
	"github.com/pulpo-deploy/pulpo/internal/comms"
	"github.com/pulpo-deploy/pulpo/internal/localtarget"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
)

// serveRemote answers the agent protocol's calls on stdin and stdout until
// stdin closes, with the machine's local services, as an agent would. It
// returns the process exit code. Scripts it started run on under their
// supervisors when it ends; the next remote-serve finds them by ticket.
func serveRemote(args []string, version string) int {
	in, out, err := takeStdio()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulpo %s: %v\n", remoteServeCommand, err)
		return 1
	}
	flags := flag.NewFlagSet(remoteServeCommand, flag.ContinueOnError)
	flags.SetOutput(os.Stderr)
	home := flags.String("home", "", "the folder of workspaces and relative file paths")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *home == "" || flags.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "usage: pulpo %s --home HOME\n", remoteServeCommand)
		return 2
	}
	// This process serves many calls, so a spare supervisor pays off here,
	// unlike in a one-shot remote call.
	target, err := localtarget.New("ssh", *home, version, scriptsvc.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulpo %s: %v\n", remoteServeCommand, err)
		return 1
	}
	defer target.ScriptSvc.Close()
	if _, err := io.WriteString(out, serveReady+"\n"); err != nil {
		fmt.Fprintf(os.Stderr, "pulpo %s: say it is ready: %v\n", remoteServeCommand, err)
		return 1
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := comms.ServeStream(context.Background(), stdio{in: in, out: out}, agentrpc.NewMux(target), logger); err != nil {
		fmt.Fprintf(os.Stderr, "pulpo %s: %v\n", remoteServeCommand, err)
		return 1
	}
	return 0
}

// stdio is the process's standard input and output as one stream.
type stdio struct{ in, out *os.File }

func (s stdio) Read(p []byte) (int, error)  { return s.in.Read(p) }
func (s stdio) Write(p []byte) (int, error) { return s.out.Write(p) }
func (s stdio) Close() error                { return errors.Join(s.in.Close(), s.out.Close()) }

// takeStdio returns copies of stdin and stdout for the frames alone and
// points file descriptor 1 at stderr, so nothing else this process (or a
// library) prints can spoil them. The copies are non-blocking, so closing
// them ends reads and writes in progress.
func takeStdio() (in, out *os.File, err error) {
	if in, err = pollableCopy(0, "stdin"); err != nil {
		return nil, nil, err
	}
	if out, err = pollableCopy(1, "stdout"); err != nil {
		in.Close()
		return nil, nil, err
	}
	if err := unix.Dup2(2, 1); err != nil {
		in.Close()
		out.Close()
		return nil, nil, fmt.Errorf("point stdout at stderr: %w", err)
	}
	return in, out, nil
}

func pollableCopy(fd int, name string) (*os.File, error) {
	// Close-on-exec: a supervisor started from here must not hold the SSH
	// session's pipes open, or the session would not end with this process.
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("take %s: %w", name, err)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return nil, fmt.Errorf("take %s: %w", name, err)
	}
	return os.NewFile(uintptr(dup), name), nil
}

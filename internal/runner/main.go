package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes of `pulpo run-package`.
const (
	exitOK     = 0
	exitFailed = 1 // the deployment failed; the output says where
	exitUsage  = 2 // no usable manifest
)

// Main runs `pulpo run-package MANIFEST.json`; args are what follows the
// subcommand and version the runner's own. SIGTERM or SIGINT stops the
// running script and the deployment (without DeployFailed, which needs a
// live deployment).
func Main(args []string, version string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: pulpo run-package MANIFEST.json")
		return exitUsage
	}
	m, err := ReadManifest(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "run-package: %v\n", err)
		return exitUsage
	}
	ctx, stop := signalContext()
	defer stop()
	pruneRunners(stderr)
	if err := Run(ctx, m, Options{Version: version}, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "Deployment failed: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// signalContext ends on SIGTERM or SIGINT: the supervisor's cancel.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
}

// RunIfRunner makes a binary serve as the runner when invoked as one
// ("run-package", "run-script-package" or "fetch-packages" first). Test binaries that stand
// in for pulpo call it in TestMain, so package steps on their built-in
// worker run the real runner rather than the tests again.
func RunIfRunner(version string) {
	if len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case "run-package":
		os.Exit(Main(os.Args[2:], version, os.Stdout, os.Stderr))
	case "run-script-package":
		os.Exit(MainScript(os.Args[2:], version, os.Stdout, os.Stderr))
	case "fetch-packages":
		os.Exit(MainFetch(os.Args[2:], version, os.Stdout, os.Stderr))
	}
}

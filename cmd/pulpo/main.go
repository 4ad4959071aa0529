// Command pulpo is the Pulpo server, its command-line client, and the
// script supervisor the server starts, in one binary.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pulpo-deploy/pulpo/internal/cli"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
	"github.com/pulpo-deploy/pulpo/internal/sshtarget"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	// A supervisor must start fast and touch nothing else.
	scriptsvc.RunIfSupervisor()
	sshtarget.RunIfRemoteCall(version)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv, version)
	stop()
	os.Exit(code)
}

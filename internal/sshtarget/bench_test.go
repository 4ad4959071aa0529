package sshtarget_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/sshtarget"
	"github.com/pulpo-deploy/pulpo/internal/testutil/sshdtest"
)

// BenchmarkEchoOKStep does what one deployment step does on an SSH target
// that is already connected and has the binary: start "echo ok", read its
// status until it completes, and complete it.
func BenchmarkEchoOKStep(b *testing.B) {
	m := machine{srv: sshdtest.Start(b), home: filepath.Join(b.TempDir(), "remote-home")}
	tg, err := sshtarget.New(m.config())
	if err != nil {
		b.Fatal(err)
	}
	defer tg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// The first call connects and sends the binary; a step does not.
	if _, err := tg.Capabilities(ctx); err != nil {
		b.Fatal(err)
	}
	scripts := tg.Scripts()
	for i := 0; b.Loop(); i++ {
		if err := runScript(ctx, scripts, fmt.Sprintf("bench-%d", i), "echo ok", 2*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

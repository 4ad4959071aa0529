package main

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/comms"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// randomTar writes a plain tar holding size bytes that do not compress.
func randomTar(path string, size int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Name: "blob.bin", Mode: 0o644, Size: int64(size)}); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, rand.Reader, int64(size)); err != nil {
		return err
	}
	return tw.Close()
}

// loopbackTLS measures how fast one TLS 1.3 connection moves bytes over
// loopback on this machine: the physical limit of a transfer.
func loopbackTLS(size int64) (float64, error) {
	a, err := comms.NewIdentity("a")
	if err != nil {
		return 0, err
	}
	b, _ := comms.NewIdentity("b")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", comms.ListenerTLS(a, func(string) bool { return true }))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(io.Discard, c)
		done <- err
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), comms.DialerTLS(b, a.Thumbprint))
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := io.CopyN(c, zeroReader{}, size); err != nil {
		return 0, err
	}
	c.Close()
	if err := <-done; err != nil {
		return 0, err
	}
	return float64(size) / (1 << 20) / time.Since(start).Seconds(), nil
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// packageScenarios times pushing a 200 MiB package and deploying a 50 MiB
// one to n agents, against loopback TLS throughput.
func packageScenarios(ctx context.Context, agents int) ([]Result, error) {
	b, err := startTargetBench(ctx)
	if err != nil {
		return nil, err
	}
	defer b.close()
	var results []Result
	limit, err := loopbackTLS(1 << 30)
	if err != nil {
		return nil, err
	}
	results = append(results, Result{Database: "-", Scenario: fmt.Sprintf("loopback TLS throughput, one connection: %.0f MiB/s", limit), Runs: 1, PerSec: limit})

	big := filepath.Join(b.dir, "big.1.0.0.tar")
	if err := randomTar(big, 200<<20); err != nil {
		return nil, err
	}
	var times []time.Duration
	for i := 0; i < 3; i++ {
		f, _ := os.Open(big)
		st, _ := f.Stat()
		start := time.Now()
		_, err := b.c.PushPackage(ctx, "big.1.0.0.tar", f, st.Size(), client.PushOptions{OverwriteMode: "overwrite"})
		f.Close()
		if err != nil {
			return nil, err
		}
		times = append(times, time.Since(start))
	}
	r := summarize(times)
	r.Database, r.Scenario = "sqlite", fmt.Sprintf("push a 200 MiB package (%.0f MiB/s median)", 200/(float64(r.MedianMs)/1000))
	results = append(results, r)

	env, err := b.c.CreateEnvironment(ctx, model.Environment{Name: "Bench"})
	if err != nil {
		return nil, err
	}
	for i := 0; i < agents; i++ {
		if err := b.startAgent(ctx, fmt.Sprintf("pkg-%02d", i), "listening", env.ID, "pkg"); err != nil {
			return nil, err
		}
	}
	pkg := filepath.Join(b.dir, "app50.1.0.0.tar")
	if err := randomTar(pkg, 50<<20); err != nil {
		return nil, err
	}
	f, _ := os.Open(pkg)
	st, _ := f.Stat()
	_, err = b.c.PushPackage(ctx, "app50.1.0.0.tar", f, st.Size(), client.PushOptions{})
	f.Close()
	if err != nil {
		return nil, err
	}
	p, err := b.c.CreateProject(ctx, model.Project{Name: "pkg"})
	if err != nil {
		return nil, err
	}
	if _, err := b.c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Install", TargetRoles: []string{"pkg"},
		Package: &model.PackageAction{PackageID: "app50"}}}}); err != nil {
		return nil, err
	}
	rel, err := b.c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID, Version: "1.0.0"})
	if err != nil {
		return nil, err
	}
	_, took, err := b.deployAndWait(ctx, rel.ID, env.ID)
	if err != nil {
		return nil, err
	}
	sent := float64(agents) * 50
	r = summarize([]time.Duration{took})
	r.Database, r.Scenario = "sqlite", fmt.Sprintf("deploy a 50 MiB package to %d agents: %.0f MiB sent, %.0f MiB/s", agents, sent, sent/took.Seconds())
	results = append(results, r)
	_, again, err := b.deployAndWait(ctx, rel.ID, env.ID)
	if err != nil {
		return nil, err
	}
	r = summarize([]time.Duration{again})
	r.Database, r.Scenario = "sqlite", fmt.Sprintf("deploy the same 50 MiB package again to %d agents: 0 bytes sent", agents)
	results = append(results, r)
	return results, nil
}

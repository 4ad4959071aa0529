package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The many-agents scenario at its smallest: 2 agent processes and 20
// simulated agents connect, reconnect after a restart, and are all found
// healthy, with sane figures.
func TestManyAgentsSmallest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds pulpo and runs a server and agents")
	}
	t.Chdir("..") // the bench builds ./cmd/pulpo from the repository root
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	rs, err := manyAgents(ctx, manyAgentsOptions{Processes: 2, Simulated: 20, Idle: 2 * time.Second, Restarts: 1, HealthWorkers: 4, Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("took %s", time.Since(start))
	if len(rs) != 4 {
		t.Fatalf("%d results, want 4 (idle, reconnect, health one by one, health at once): %+v", len(rs), rs)
	}
	for _, r := range rs {
		t.Logf("%s | runs %d, median %.1f ms, max %.1f ms | %s", r.Scenario, r.Runs, r.MedianMs, r.MaxMs, r.Note)
		if !strings.HasPrefix(r.Scenario, "many agents: ") || !strings.Contains(r.Scenario, "2 processes + 20 simulated") {
			t.Errorf("scenario %q", r.Scenario)
		}
	}
	idle, reconnect := rs[0], rs[1]
	if idle.Runs != 22 || idle.ServerRSSMiB < 5 || idle.ServerRSSMiB > 2048 || idle.ServerCPUPercent < 0 || idle.ServerCPUPercent > 200 {
		t.Errorf("idle figures: %+v", idle)
	}
	// With 22 connections the difference is mostly noise; only its size is checked.
	if idle.PerConnectionKiB < -4096 || idle.PerConnectionKiB > 4096 {
		t.Errorf("per connection %.1f KiB", idle.PerConnectionKiB)
	}
	if reconnect.Runs != 22 || reconnect.MinMs <= 0 || reconnect.MaxMs > 60_000 {
		t.Errorf("reconnect figures: %+v", reconnect)
	}
	for _, h := range rs[2:] {
		if h.Runs != 22 || h.MinMs <= 0 || h.PerSec <= 0 {
			t.Errorf("health figures: %+v", h)
		}
	}
}

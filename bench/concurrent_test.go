package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The concurrent deployments run at their smallest: 2 projects × 2
// targets, at one cap without and with the mutex, once each; every burst
// gets a makespan no shorter than its ideal, and the phases are filled in.
func TestConcurrentDeploymentsSmoke(t *testing.T) {
	needTools(t, "go")
	if testing.Short() {
		t.Skip("starts servers and agents")
	}
	t.Chdir("..") // the harness builds ./cmd/pulpo from the repository root
	load := concurrentLoad{projects: 2, targets: 2, sleep: 100 * time.Millisecond}
	rs, err := concurrentDeployments(context.Background(), load, []int{2}, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	var tools []string
	for i := 0; i+1 < len(rs); i += 2 {
		got, ideal := rs[i], rs[i+1]
		tools = append(tools, got.Tool, ideal.Tool)
		if got.Compare != ideal.Compare || got.Runs != 1 {
			t.Errorf("rows %d and %d: %+v / %+v", i, i+1, got, ideal)
		}
		if got.MedianMs < ideal.MedianMs {
			t.Errorf("%s: makespan %.1f ms is shorter than the ideal %.1f ms", got.Tool, got.MedianMs, ideal.MedianMs)
		}
		if !strings.Contains(got.Note, "task run") || strings.Contains(got.Note, " -") {
			t.Errorf("%s: phases missing: %s", got.Tool, got.Note)
		}
	}
	want := "pulpo, 2 slots,ideal, 2 slots,pulpo, 2 slots, mutex,ideal, 2 slots, mutex"
	if got := strings.Join(tools, ","); got != want {
		t.Errorf("rows: %s\nwant %s", got, want)
	}
}

// The ideal is waves of deployments as long as the sleep, and with the
// mutex every target runs every project's script in turn.
func TestTheIdealMakespan(t *testing.T) {
	l := concurrentLoad{projects: 50, targets: 10, sleep: 200 * time.Millisecond}
	for _, c := range []struct {
		slots int
		mutex bool
		want  time.Duration
	}{{5, false, 2 * time.Second}, {10, false, time.Second}, {25, false, 400 * time.Millisecond},
		{50, false, 200 * time.Millisecond}, {100, false, 200 * time.Millisecond}, {7, false, 1600 * time.Millisecond},
		{50, true, 10 * time.Second}} {
		if got := l.ideal(c.slots, c.mutex); got != c.want {
			t.Errorf("%d slots, mutex %v: %v, want %v", c.slots, c.mutex, got, c.want)
		}
	}
}

package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// needTools skips a test whose tools are missing, except under CI=true,
// where it fails: CI installs them (.ci/run).
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed under CI=true: %v", tool, err)
			}
			t.Skipf("skipping: %v", err)
		}
	}
}

// The per-step comparison runs at its smallest: 3 steps, once per tool,
// and gives every tool a figure in both groups.
func TestPeerStepLatencySmoke(t *testing.T) {
	needTools(t, "go", "ssh", "/usr/sbin/sshd", "ansible-playbook")
	if testing.Short() {
		t.Skip("starts a server, agents, sshd and Ansible")
	}
	t.Chdir("..") // the harness builds ./cmd/pulpo from the repository root
	rs, err := peerStepLatency(context.Background(), 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	tools := map[string][]string{}
	for _, r := range rs {
		if r.MedianMs <= 0 || r.Runs == 0 {
			t.Errorf("%s / %s: no figure: %+v", r.Compare, r.Tool, r)
		}
		tools[r.Compare] = append(tools[r.Compare], r.Tool)
	}
	each := "pulpo (listening),pulpo (polling),pulpo (ssh),ssh (ControlMaster),ssh (new connection)"
	if got := strings.Join(tools["one trivial step, one target (each step's own time)"], ","); got != each {
		t.Errorf("each-step rows: %s, want %s", got, each)
	}
	wall := each + ",ansible command (default),ansible command (tuned)"
	if got := strings.Join(tools["one trivial step, one target (3-step run's wall time ÷ 3)"], ","); got != wall {
		t.Errorf("wall-time rows: %s, want %s", got, wall)
	}
	// Each Pulpo step row counts 3 steps of one deployment.
	if rs[0].Runs != 3 {
		t.Errorf("pulpo (listening) has %d steps, want 3", rs[0].Runs)
	}
}

// The ratio table compares a group with its first Pulpo row, whatever its
// variant, so "pulpo (listening)" is the reference of the per-step group.
func TestTheFirstPulpoRowIsTheReference(t *testing.T) {
	group := []Result{{Tool: "ssh (ControlMaster)"}, {Tool: "pulpo (listening)"}, {Tool: "pulpo (polling)"}, {Tool: "pulpo"}}
	if i := referenceRow(group); i != 1 {
		t.Errorf("reference is row %d, want 1", i)
	}
	if i := referenceRow([]Result{{Tool: "ideal"}}); i != -1 {
		t.Errorf("a group without Pulpo has reference %d", i)
	}
	var out strings.Builder
	printComparisons(&out, []Result{
		{Compare: "w", Tool: "pulpo (listening)", MinMs: 5, MedianMs: 5, MaxMs: 5, Runs: 1},
		{Compare: "w", Tool: "pulpo (polling)", MinMs: 10, MedianMs: 10, MaxMs: 10, Runs: 1},
		{Compare: "w", Tool: "ssh (ControlMaster)", MinMs: 20, MedianMs: 20, MaxMs: 20, Runs: 1},
	})
	for _, want := range []string{"pulpo (polling)  1  10.0  10.0–10.0  0.50", "ssh (ControlMaster)  1  20.0  20.0–20.0  0.25"} {
		if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
}

package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// pulpo machine disable keeps deployments and health checks off a machine,
// machine list shows it, a health check of all machines passes it by, and
// machine enable brings it back.
func TestMachineDisableAndEnable(t *testing.T) {
	s := startCLIServer(t)
	ctx := context.Background()
	dev, err := s.c.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.c.CreateMachine(ctx, model.Machine{Name: "web-1", Kind: model.MachinePolling, Usage: model.UsageTarget,
		EnvironmentIDs: []string{dev.ID}, Roles: []string{"web"}, Thumbprint: strings.Repeat("A", 64)})
	if err != nil {
		t.Fatal(err)
	}
	disabled := func() bool {
		t.Helper()
		got, err := s.c.FindMachine(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Disabled
	}
	listed := func() string {
		t.Helper()
		for _, line := range strings.Split(s.ok("machine", "list"), "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == m.ID {
				return f[len(f)-1]
			}
		}
		t.Fatalf("machine list does not show %s", m.ID)
		return ""
	}

	if out := s.ok("machine", "disable", "web-1"); out != "Disabled web-1\n" || !disabled() {
		t.Fatalf("machine disable printed %q; disabled now: %v", out, disabled())
	}
	if h := listed(); h != "Disabled" {
		t.Errorf("machine list shows a disabled machine's health as %q", h)
	}
	// The polling agent never connected: checking it would wait for it.
	if out := s.ok("machine", "health"); strings.Contains(out, "web-1") {
		t.Errorf("machine health checked the disabled machine:\n%s", out)
	}
	// Disabling twice is no error; -o json shows the machine.
	var got model.Machine
	if err := json.Unmarshal([]byte(s.ok("machine", "disable", m.ID, "-o", "json")), &got); err != nil || got.ID != m.ID || !got.Disabled {
		t.Fatalf("machine disable -o json: %+v, %v", got, err)
	}

	if out := s.ok("machine", "enable", "web-1"); out != "Enabled web-1\n" || disabled() {
		t.Fatalf("machine enable printed %q; disabled now: %v", out, disabled())
	}
	if h := listed(); h == "Disabled" {
		t.Error("machine list still shows the enabled machine as disabled")
	}
	s.fails("web-2", "machine", "disable", "web-2")
}

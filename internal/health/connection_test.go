package health_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// A connection test records what it can tell (unreachable, or reachable
// again after being unreachable) and leaves a health script's verdict alone.
func TestAConnectionTestLeavesTheScriptsVerdictAlone(t *testing.T) {
	s, _, f, checker := setup(t)
	ctx := context.Background()
	hourly := model.MachinePolicy{HealthCheckInterval: model.Duration{D: time.Hour}}
	m := add(t, s, "sick", "echo 'disk full' >&2; exit 1", hourly)
	if _, err := checker.Check(ctx, m); err != nil {
		t.Fatal(err)
	}
	stored := func() model.Machine {
		t.Helper()
		got, err := s.Read().GetMachine(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	tests := []struct {
		name           string
		down           bool
		connectionOnly bool
		found, kept    model.HealthStatus
		reason         string
	}{
		{"answers: the script's verdict stays", false, true, model.HealthHealthy, model.HealthUnhealthy, "answers: Pulpo test on"},
		{"unreachable: recorded", true, true, model.HealthUnavailable, model.HealthUnavailable, "connection refused"},
		{"answers again: recorded", false, true, model.HealthHealthy, model.HealthHealthy, "Pulpo test on"},
		{"a full check runs the script", false, false, model.HealthUnhealthy, model.HealthUnhealthy, "disk full"},
	}
	for _, tt := range tests {
		f.down["sick"] = tt.down
		got, err := checker.CheckHealth(ctx, stored(), tt.connectionOnly)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got.Status != tt.found || !strings.Contains(got.Reason, tt.reason) {
			t.Errorf("%s: found %s (%s), want %s (%s)", tt.name, got.Status, got.Reason, tt.found, tt.reason)
		}
		if st := stored().Health.Status; st != tt.kept {
			t.Errorf("%s: stored %s, want %s", tt.name, st, tt.kept)
		}
	}
}

package health_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/health"
	"github.com/pulpo-deploy/pulpo/internal/localtarget"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

func TestMain(m *testing.M) {
	scriptsvc.RunIfSupervisor()
	os.Exit(m.Run())
}

// fleet reaches machines in-process; names in down refuse every call.
type fleet struct {
	dir       string
	mu        sync.Mutex
	down      map[string]bool
	forgotten []string
}

func (f *fleet) Target(m model.Machine) (contract.Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down[m.Name] {
		return refusing{}, nil
	}
	return localtarget.New(m.Name, filepath.Join(f.dir, m.Name), "test", scriptsvc.Options{})
}

func (f *fleet) Forget(m model.Machine) {
	f.mu.Lock()
	f.forgotten = append(f.forgotten, m.Name)
	f.mu.Unlock()
}

type refusing struct{ contract.Target }

func (refusing) Capabilities(context.Context) (contract.Capabilities, error) {
	return contract.Capabilities{}, errors.New("connect: connection refused")
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T) (*store.Store, *clock, *fleet, *health.Checker) {
	t.Helper()
	c := &clock{now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	s, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir(), Clock: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fleet{dir: t.TempDir(), down: map[string]bool{}}
	return s, c, f, &health.Checker{Store: s, Targets: f, ConnectTimeout: 5 * time.Second, ScriptTimeout: 30 * time.Second}
}

// add registers a polling machine in Dev under a policy with a health script.
func add(t *testing.T, s *store.Store, name, script string, policy model.MachinePolicy) model.Machine {
	t.Helper()
	ctx := context.Background()
	var m model.Machine
	err := s.Tx(ctx, func(q *store.Queries) error {
		env, err := q.FindEnvironment(ctx, "Dev")
		if errors.Is(err, store.ErrNotFound) {
			env = model.Environment{Name: "Dev"}
			err = q.CreateEnvironment(ctx, &env)
		}
		if err != nil {
			return err
		}
		policy.Name, policy.HealthCheckScript = name+" policy", script
		if policy.WhenUnavailable == "" {
			policy.WhenUnavailable = model.UnavailableFail
		}
		if err := q.CreateMachinePolicy(ctx, &policy); err != nil {
			return err
		}
		n, _, _ := q.ListMachines(ctx, store.MachineFilter{})
		m = model.Machine{Name: name, Kind: model.MachinePolling, Usage: model.UsageTarget, Roles: []string{"web"},
			EnvironmentIDs: []string{env.ID}, PolicyID: policy.ID, Thumbprint: strings.Repeat(string(rune('A'+len(n))), 64)}
		return q.CreateMachine(ctx, &m, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestHealthChecksReadTheMachineAndItsScript(t *testing.T) {
	s, _, f, checker := setup(t)
	hourly := model.MachinePolicy{HealthCheckInterval: model.Duration{D: time.Hour}}
	tests := []struct {
		name, script string
		down         bool
		status       model.HealthStatus
		reason       []string
	}{
		{name: "plain", status: model.HealthHealthy, reason: []string{"Pulpo test on"}},
		{name: "passing-script", script: "echo all good", status: model.HealthHealthy},
		{name: "failing-script", script: "echo checking\necho '/var is 97% full' >&2\nexit 3", status: model.HealthUnhealthy,
			reason: []string{"the health script failed (exit code 3)", "checking", "/var is 97% full"}},
		{name: "warning-script", script: "echo '##pulpo[warning] certificate expires in 5 days'", status: model.HealthWarning,
			reason: []string{"certificate expires in 5 days"}},
		{name: "stopped", down: true, status: model.HealthUnavailable, reason: []string{"connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := add(t, s, tt.name, tt.script, hourly)
			f.down[tt.name] = tt.down
			got, err := checker.Check(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			if got.Health.Status != tt.status {
				t.Fatalf("status %s (%s), want %s", got.Health.Status, got.Health.Reason, tt.status)
			}
			for _, r := range tt.reason {
				if !strings.Contains(got.Health.Reason, r) {
					t.Errorf("reason %q lacks %q", got.Health.Reason, r)
				}
			}
			stored, _ := s.Read().GetMachine(context.Background(), m.ID)
			if stored.Health.Status != tt.status || stored.Health.CheckedAt == nil {
				t.Fatalf("stored health %+v", stored.Health)
			}
		})
	}
}

func TestScheduledChecksAndRemovalOfLongUnavailableMachines(t *testing.T) {
	s, c, f, checker := setup(t)
	ctx := context.Background()
	keep := add(t, s, "keeper", "", model.MachinePolicy{HealthCheckInterval: model.Duration{D: time.Hour}})
	drop := add(t, s, "dropper", "", model.MachinePolicy{HealthCheckInterval: model.Duration{D: time.Hour},
		DeleteUnavailableAfter: model.Duration{D: 24 * time.Hour}})
	manual := add(t, s, "manual", "", model.MachinePolicy{})
	f.down["keeper"], f.down["dropper"] = true, true

	health := func(id string) model.Health {
		m, err := s.Read().GetMachine(ctx, id)
		if err != nil {
			return model.Health{Status: "gone"}
		}
		return m.Health
	}
	checker.Round(ctx)
	if health(keep.ID).Status != model.HealthUnavailable || health(drop.ID).Status != model.HealthUnavailable {
		t.Fatalf("the first round should check both: %+v %+v", health(keep.ID), health(drop.ID))
	}
	if h := health(manual.ID); h.CheckedAt != nil {
		t.Fatalf("a policy with no interval should not be checked on a schedule: %+v", h)
	}
	firstCheck := *health(keep.ID).CheckedAt

	// Within the hour nothing is checked again; after it, it is.
	c.Advance(30 * time.Minute)
	checker.Round(ctx)
	if got := *health(keep.ID).CheckedAt; !got.Equal(firstCheck) {
		t.Fatalf("checked again before its interval: %v then %v", firstCheck, got)
	}
	c.Advance(31 * time.Minute)
	checker.Round(ctx)
	if !health(keep.ID).CheckedAt.After(firstCheck) {
		t.Fatal("not checked again after its interval")
	}

	// A day unavailable: the machine whose policy says so goes, the other stays.
	c.Advance(25 * time.Hour)
	checker.Round(ctx)
	if health(drop.ID).Status != "gone" {
		t.Fatal("the machine unavailable for a day was not removed")
	}
	if health(keep.ID).Status == "gone" {
		t.Fatal("a machine whose policy keeps unavailable machines was removed")
	}
	f.mu.Lock()
	forgotten := strings.Join(f.forgotten, ",")
	f.mu.Unlock()
	if forgotten != "dropper" {
		t.Fatalf("the removed machine's connections should be dropped: %q", forgotten)
	}
}

// A disabled machine is left alone by the schedule, however long since its
// last check; enabled again, it is checked on the next round.
func TestScheduledChecksSkipDisabledMachines(t *testing.T) {
	s, _, _, checker := setup(t)
	ctx := context.Background()
	hourly := model.MachinePolicy{HealthCheckInterval: model.Duration{D: time.Hour}}
	on := add(t, s, "enabled", "", hourly)
	off := add(t, s, "disabled", "", hourly)
	setDisabled := func(m model.Machine, disabled bool) {
		t.Helper()
		err := s.Tx(ctx, func(q *store.Queries) error {
			m, err := q.GetMachine(ctx, m.ID)
			if err != nil {
				return err
			}
			m.Disabled = disabled
			return q.UpdateMachine(ctx, &m, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	checked := func(m model.Machine) bool {
		t.Helper()
		got, err := s.Read().GetMachine(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Health.CheckedAt != nil
	}

	setDisabled(off, true)
	checker.Round(ctx)
	if !checked(on) {
		t.Fatal("the enabled machine was not checked")
	}
	if checked(off) {
		t.Fatal("the disabled machine was checked")
	}

	setDisabled(off, false)
	checker.Round(ctx)
	if !checked(off) {
		t.Fatal("the machine enabled again was not checked")
	}
}

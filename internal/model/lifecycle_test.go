package model

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

var envs = []Environment{
	{ID: "dev", Name: "Dev"}, {ID: "test", Name: "Test"}, {ID: "uat", Name: "UAT"}, {ID: "prod", Name: "Production"},
}

func set(ids ...string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func TestCanDeploy(t *testing.T) {
	twoPhase := &Lifecycle{Name: "Standard", Phases: []Phase{
		{Name: "Dev and Test", AutomaticEnvironments: []string{"dev"}, ManualEnvironments: []string{"test"}},
		{Name: "Production", ManualEnvironments: []string{"prod"}},
	}}
	minimumOne := &Lifecycle{Name: "Any test", Phases: []Phase{
		{Name: "Test", ManualEnvironments: []string{"dev", "test"}, MinimumEnvironmentsBeforePromotion: 1},
		{Name: "Production", ManualEnvironments: []string{"prod"}},
	}}
	optional := &Lifecycle{Name: "Hotfix", Phases: []Phase{
		{Name: "Test", ManualEnvironments: []string{"test"}, Optional: true},
		{Name: "Production", ManualEnvironments: []string{"prod"}},
	}}
	catchAll := &Lifecycle{Name: "Dev first", Phases: []Phase{
		{Name: "Dev", ManualEnvironments: []string{"dev"}},
		{Name: "Everything else"},
	}}
	noPhases := &Lifecycle{Name: DefaultLifecycleName}

	tests := []struct {
		name      string
		lifecycle *Lifecycle
		succeeded []string
		attempted []string
		env       string
		refusal   string // empty: allowed
	}{
		{"first phase is open", twoPhase, nil, nil, "test", ""},
		{"later phase waits for the first", twoPhase, nil, nil, "prod", `phase "Dev and Test" must be complete first`},
		{"refusal names what is missing", twoPhase, []string{"dev"}, []string{"dev"}, "prod", "still missing: Test"},
		{"complete phase opens the next", twoPhase, []string{"dev", "test"}, []string{"dev", "test"}, "prod", ""},
		{"failed deployment does not complete a phase", twoPhase, []string{"dev"}, []string{"dev", "test"}, "prod", "still missing: Test"},
		{"environment outside the lifecycle", twoPhase, nil, nil, "uat", "not part of lifecycle"},
		{"minimum of one is enough", minimumOne, []string{"test"}, []string{"test"}, "prod", ""},
		{"minimum of one not reached", minimumOne, nil, nil, "prod", "a successful deployment to 1 of its environments"},
		{"optional phase does not hold back", optional, nil, nil, "prod", ""},
		{"catch-all phase takes the rest", catchAll, []string{"dev"}, []string{"dev"}, "uat", ""},
		{"catch-all phase waits too", catchAll, nil, nil, "prod", `phase "Dev" must be complete first`},
		{"no phases: environments in order", noPhases, []string{"dev"}, []string{"dev"}, "test", ""},
		{"no phases: no skipping", noPhases, []string{"dev"}, []string{"dev"}, "uat", `phase "Test" must be complete first`},
		{"redeploy where it has been is allowed", twoPhase, nil, []string{"prod"}, "prod", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewProgression(tt.lifecycle, envs, ReleaseHistory{Succeeded: set(tt.succeeded...), Attempted: set(tt.attempted...)})
			err := p.CanDeploy(tt.env)
			if tt.refusal == "" {
				if err != nil {
					t.Fatalf("expected allowed, got %v", err)
				}
				return
			}
			var refused *RefusedError
			if !errors.As(err, &refused) || !strings.Contains(err.Error(), tt.refusal) {
				t.Fatalf("expected refusal containing %q, got %v", tt.refusal, err)
			}
		})
	}
}

func TestAutomaticDeployments(t *testing.T) {
	l := &Lifecycle{Name: "Auto", Phases: []Phase{
		{Name: "Dev", AutomaticEnvironments: []string{"dev"}},
		{Name: "Test", AutomaticEnvironments: []string{"test"}, ManualEnvironments: []string{"uat"}},
		{Name: "Production", ManualEnvironments: []string{"prod"}},
	}}
	tests := []struct {
		name                 string
		succeeded, attempted []string
		want                 []string
	}{
		{"a new release goes to the first automatic environment", nil, nil, []string{"dev"}},
		{"nothing twice", nil, []string{"dev"}, nil},
		{"a complete phase starts the next one's automatic environments", []string{"dev"}, []string{"dev"}, []string{"test"}},
		{"manual environments wait", []string{"dev", "test"}, []string{"dev", "test"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewProgression(l, envs, ReleaseHistory{Succeeded: set(tt.succeeded...), Attempted: set(tt.attempted...)})
			if got := p.AutomaticDeployments(); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLifecycleValidation(t *testing.T) {
	known := map[string]string{"dev": "Dev", "test": "Test", "prod": "Production"}
	tests := []struct {
		name    string
		phases  []Phase
		problem string
	}{
		{"unknown environment", []Phase{{Name: "A", ManualEnvironments: []string{"nope"}}}, `environment "nope" does not exist`},
		{"environment in two phases", []Phase{{Name: "A", ManualEnvironments: []string{"dev"}}, {Name: "B", AutomaticEnvironments: []string{"dev"}}}, "can be in one phase only"},
		{"duplicate phase names", []Phase{{Name: "A", ManualEnvironments: []string{"dev"}}, {Name: "a", ManualEnvironments: []string{"test"}}}, "another phase is already called"},
		{"minimum above the phase size", []Phase{{Name: "A", ManualEnvironments: []string{"dev"}, MinimumEnvironmentsBeforePromotion: 2}}, "has only 1 environments"},
		{"optional and automatic", []Phase{{Name: "A", AutomaticEnvironments: []string{"dev"}, Optional: true}}, "cannot deploy automatically"},
		{"two catch-all phases", []Phase{{Name: "A"}, {Name: "B"}}, "only one phase may leave"},
		{"phase without a name", []Phase{{ManualEnvironments: []string{"dev"}}}, "phases[0].name: is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Lifecycle{Name: "L", Phases: tt.phases}
			err := l.Validate(known)
			if err == nil || !strings.Contains(err.Error(), tt.problem) {
				t.Fatalf("expected a problem containing %q, got %v", tt.problem, err)
			}
		})
	}
	ok := Lifecycle{Name: "Fine", Phases: []Phase{{Name: "A", AutomaticEnvironments: []string{"dev"}}, {Name: "Rest"}}}
	if err := ok.Validate(known); err != nil {
		t.Fatalf("valid lifecycle refused: %v", err)
	}
}

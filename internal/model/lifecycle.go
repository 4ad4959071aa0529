package model

import (
	"fmt"
	"slices"
	"strings"
)

// DefaultLifecycleName names the lifecycle every server starts with. It has
// no phases, so every environment is its own phase, in environment order.
const DefaultLifecycleName = "Default Lifecycle"

// Lifecycle controls the order in which a release may reach environments and
// which deployments happen by themselves.
type Lifecycle struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Phases      []Phase `json:"phases"`
	// ReleaseRetention is how long releases of this lifecycle are kept;
	// a phase may keep its releases longer or shorter. Zero keeps all.
	ReleaseRetention Retention `json:"releaseRetention,omitempty"`
}

// Retention keeps the newest KeepReleases releases and those younger than
// KeepDays; zero for both keeps everything. Releases deployed where they
// are now current, or current before that, are kept whatever it says.
type Retention struct {
	KeepReleases int `json:"keepReleases,omitempty" yaml:"keepReleases,omitempty"`
	KeepDays     int `json:"keepDays,omitempty" yaml:"keepDays,omitempty"`
}

// KeepsAll reports whether the retention deletes nothing.
func (r Retention) KeepsAll() bool { return r.KeepReleases <= 0 && r.KeepDays <= 0 }

// Phase is one stage of a lifecycle. A phase that names no environment takes
// every environment no other phase names (Octopus's "any environment").
type Phase struct {
	Name string `json:"name"`
	// AutomaticEnvironments are deployed to by themselves as soon as the
	// release reaches this phase.
	AutomaticEnvironments []string `json:"automaticEnvironments,omitempty"`
	// ManualEnvironments wait for someone to deploy.
	ManualEnvironments []string `json:"manualEnvironments,omitempty"`
	// MinimumEnvironmentsBeforePromotion is how many of the phase's
	// environments need a successful deployment before the next phase opens;
	// 0 means all of them.
	MinimumEnvironmentsBeforePromotion int `json:"minimumEnvironmentsBeforePromotion,omitempty"`
	// Optional phases never hold later phases back and never deploy by themselves.
	Optional bool `json:"optional,omitempty"`
	// ReleaseRetention, when set, replaces the lifecycle's for releases
	// whose furthest phase is this one.
	ReleaseRetention *Retention `json:"releaseRetention,omitempty"`
}

// Environments lists the phase's explicit environments, automatic first.
func (ph *Phase) Environments() []string {
	return append(slices.Clone(ph.AutomaticEnvironments), ph.ManualEnvironments...)
}

// Validate checks the lifecycle's own rules. knownEnvironments maps each
// existing environment id to its name; references to others are reported.
func (l *Lifecycle) Validate(knownEnvironments map[string]string) error {
	p := problems{subject: "lifecycle"}
	checkName(&p, "name", l.Name)
	if l.ReleaseRetention.KeepReleases < 0 || l.ReleaseRetention.KeepDays < 0 {
		p.add("releaseRetention", "keepReleases and keepDays must not be negative")
	}
	seenPhase := map[string]bool{}
	seenEnv := map[string]string{} // environment id -> phase name
	catchAll := 0
	for i, ph := range l.Phases {
		field := fmt.Sprintf("phases[%d]", i)
		checkName(&p, field+".name", ph.Name)
		if seenPhase[NameKey(ph.Name)] {
			p.add(field+".name", "another phase is already called %q", ph.Name)
		}
		seenPhase[NameKey(ph.Name)] = true
		envs := ph.Environments()
		if len(envs) == 0 {
			catchAll++
		}
		for _, id := range envs {
			name, ok := knownEnvironments[id]
			switch {
			case !ok:
				p.add(field, "environment %q does not exist", id)
			case seenEnv[id] != "":
				p.add(field, "environment %q is already in phase %q; an environment can be in one phase only", name, seenEnv[id])
			default:
				seenEnv[id] = ph.Name
			}
		}
		if ph.MinimumEnvironmentsBeforePromotion < 0 {
			p.add(field+".minimumEnvironmentsBeforePromotion", "must not be negative")
		}
		if r := ph.ReleaseRetention; r != nil && (r.KeepReleases < 0 || r.KeepDays < 0) {
			p.add(field+".releaseRetention", "keepReleases and keepDays must not be negative")
		}
		if len(envs) > 0 && ph.MinimumEnvironmentsBeforePromotion > len(envs) {
			p.add(field+".minimumEnvironmentsBeforePromotion", "is %d but the phase has only %d environments",
				ph.MinimumEnvironmentsBeforePromotion, len(envs))
		}
		if ph.Optional && len(ph.AutomaticEnvironments) > 0 {
			p.add(field, "an optional phase cannot deploy automatically; move its environments to manualEnvironments or make the phase required")
		}
	}
	if catchAll > 1 {
		p.add("phases", "only one phase may leave its environments empty (meaning every other environment)")
	}
	return p.err()
}

// EffectivePhase is a phase with its environments resolved: the implicit
// phases of a lifecycle without phases, and the environments a catch-all
// phase takes.
type EffectivePhase struct {
	Name                               string
	Environments                       []string // ids, in environment order
	Automatic                          map[string]bool
	MinimumEnvironmentsBeforePromotion int
	Optional                           bool
}

// EffectivePhases resolves the lifecycle against the environments that exist
// now, given in their display order.
func (l *Lifecycle) EffectivePhases(envs []Environment) []EffectivePhase {
	if len(l.Phases) == 0 {
		out := make([]EffectivePhase, 0, len(envs))
		for _, e := range envs {
			out = append(out, EffectivePhase{Name: e.Name, Environments: []string{e.ID}, Automatic: map[string]bool{}})
		}
		return out
	}
	named := map[string]bool{}
	for _, ph := range l.Phases {
		for _, id := range ph.Environments() {
			named[id] = true
		}
	}
	out := make([]EffectivePhase, 0, len(l.Phases))
	for _, ph := range l.Phases {
		ep := EffectivePhase{
			Name:                               ph.Name,
			Automatic:                          map[string]bool{},
			MinimumEnvironmentsBeforePromotion: ph.MinimumEnvironmentsBeforePromotion,
			Optional:                           ph.Optional,
		}
		for _, id := range ph.AutomaticEnvironments {
			ep.Automatic[id] = true
		}
		explicit := ph.Environments()
		for _, e := range envs {
			if (len(explicit) == 0 && !named[e.ID]) || slices.Contains(explicit, e.ID) {
				ep.Environments = append(ep.Environments, e.ID)
			}
		}
		out = append(out, ep)
	}
	return out
}

// complete reports whether enough of the phase's environments have a
// successful deployment of the release.
func (ep *EffectivePhase) complete(succeeded map[string]bool) bool {
	need := ep.MinimumEnvironmentsBeforePromotion
	if need == 0 || need > len(ep.Environments) {
		need = len(ep.Environments)
	}
	done := 0
	for _, id := range ep.Environments {
		if succeeded[id] {
			done++
		}
	}
	return done >= need
}

// ReleaseHistory is what progression needs to know about one release: the
// environments it reached successfully and those it was ever sent to
// (queued, running, failed or succeeded).
type ReleaseHistory struct {
	Succeeded map[string]bool
	Attempted map[string]bool
}

// Progression answers, for one release, which environments it may go to now.
type Progression struct {
	Lifecycle *Lifecycle
	Phases    []EffectivePhase
	envNames  map[string]string
	history   ReleaseHistory
	// open is the number of leading phases that are available: phase i is
	// open when every earlier phase is complete or optional.
	open int
}

// NewProgression evaluates a lifecycle for a release with the given history.
func NewProgression(l *Lifecycle, envs []Environment, h ReleaseHistory) *Progression {
	p := &Progression{Lifecycle: l, Phases: l.EffectivePhases(envs), envNames: map[string]string{}, history: h}
	for _, e := range envs {
		p.envNames[e.ID] = e.Name
	}
	for i := range p.Phases {
		p.open = i + 1
		if !p.Phases[i].Optional && !p.Phases[i].complete(h.Succeeded) {
			break
		}
	}
	return p
}

// PhaseOf returns the index of the phase holding the environment, or -1.
func (p *Progression) PhaseOf(envID string) int {
	for i, ph := range p.Phases {
		if slices.Contains(ph.Environments, envID) {
			return i
		}
	}
	return -1
}

// PhaseComplete reports whether phase i is complete for this release.
func (p *Progression) PhaseComplete(i int) bool { return p.Phases[i].complete(p.history.Succeeded) }

// CanDeploy returns nil when the release may be deployed to the environment
// now, or a RefusedError that says why not and what to do first.
func (p *Progression) CanDeploy(envID string) error {
	name := p.envNames[envID]
	i := p.PhaseOf(envID)
	if i < 0 {
		return &RefusedError{Reason: fmt.Sprintf("environment %q is not part of lifecycle %q; add it to a phase or use another lifecycle", name, p.Lifecycle.Name)}
	}
	if i < p.open || p.history.Attempted[envID] {
		return nil
	}
	// The first phase that is neither complete nor optional holds this one back.
	for j := 0; j < i; j++ {
		ph := p.Phases[j]
		if ph.Optional || ph.complete(p.history.Succeeded) {
			continue
		}
		var missing []string
		for _, id := range ph.Environments {
			if !p.history.Succeeded[id] {
				missing = append(missing, p.envNames[id])
			}
		}
		need := "all of its environments"
		if ph.MinimumEnvironmentsBeforePromotion > 0 && ph.MinimumEnvironmentsBeforePromotion < len(ph.Environments) {
			need = fmt.Sprintf("%d of its environments", ph.MinimumEnvironmentsBeforePromotion)
		}
		return &RefusedError{Reason: fmt.Sprintf(
			"lifecycle %q does not allow a deployment to %q yet: phase %q must be complete first (a successful deployment to %s; still missing: %s)",
			p.Lifecycle.Name, name, ph.Name, need, strings.Join(missing, ", "))}
	}
	return nil
}

// AutomaticDeployments lists the environments that should now be deployed to
// by themselves: automatic environments of open, required phases that the
// release has not been sent to yet.
func (p *Progression) AutomaticDeployments() []string {
	var out []string
	for i := 0; i < p.open; i++ {
		ph := p.Phases[i]
		if ph.Optional {
			continue
		}
		for _, id := range ph.Environments {
			if ph.Automatic[id] && !p.history.Attempted[id] {
				out = append(out, id)
			}
		}
	}
	return out
}

// EnvironmentProgress says whether a release may go to one environment now.
type EnvironmentProgress struct {
	EnvironmentID string    `json:"environmentId"`
	Environment   string    `json:"environment"`
	Phase         string    `json:"phase"`
	Automatic     bool      `json:"automatic"`
	CanDeploy     bool      `json:"canDeploy"`
	Reason        string    `json:"reason,omitempty"`
	LastState     TaskState `json:"lastState,omitempty"`
}

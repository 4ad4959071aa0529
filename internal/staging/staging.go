// Package staging runs stagings: per-feature environments that control
// scripts (written once per project, in its staging template) create,
// update, check, archive, restore and clean up. Each action is a task with
// a streamed, masked log, run on a worker; checks and expiry run in a loop
// on every server node, claimed per staging so only one node checks it.
package staging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/template"
	"github.com/pulpo-deploy/pulpo/internal/vars"
)

// Notifier is told when a task is queued.
type Notifier interface{ Notify() }

// Config wires a Service.
type Config struct {
	Store  *store.Store
	Engine *engine.Engine
	Queue  Notifier
	Logger *slog.Logger
	// CheckTick is how often the loop looks for due checks and expiries
	// (default 1 s); each staging's own interval decides when it is checked.
	CheckTick time.Duration
	// Parallel bounds the checks running at once on this node (default 8).
	Parallel int
}

// Service runs stagings.
type Service struct {
	cfg     Config
	notices chan notice
}

// notice is a state change for the notify script.
type notice struct {
	stagingID string
	old, new  model.StagingState
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CheckTick <= 0 {
		cfg.CheckTick = time.Second
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 8
	}
	return &Service{cfg: cfg, notices: make(chan notice, 256)}
}

// System is who the service's own actions are attributed to.
const (
	ByIdleExpiry = "Pulpo (idle expiry)"
	ByRetention  = "Pulpo (archive retention)"
)

// Template returns a project's template with sensitive defaults masked.
func (s *Service) Template(ctx context.Context, projectID string) (model.StagingTemplate, error) {
	t, err := s.cfg.Store.Read().GetStagingTemplate(ctx, projectID)
	if err != nil {
		return t, err
	}
	return MaskTemplate(t), nil
}

// MaskTemplate hides the sensitive defaults.
func MaskTemplate(t model.StagingTemplate) model.StagingTemplate {
	t.Defaults.App, t.Defaults.Deployment = maps.Clone(t.Defaults.App), maps.Clone(t.Defaults.Deployment)
	for k := range t.Defaults.App {
		if t.IsSensitive("app", k) {
			t.Defaults.App[k] = model.StagingMask
		}
	}
	for k := range t.Defaults.Deployment {
		if t.IsSensitive("deployment", k) {
			t.Defaults.Deployment[k] = model.StagingMask
		}
	}
	return t
}

// MaskStaging hides a staging's sensitive overrides.
func MaskStaging(t model.StagingTemplate, st model.Staging) model.Staging {
	mask := func(level string, m map[string]*string) map[string]*string {
		out := maps.Clone(m)
		for k, v := range out {
			if v != nil && t.IsSensitive(level, k) {
				masked := model.StagingMask
				out[k] = &masked
			}
		}
		return out
	}
	st.Overrides = model.StagingOverrides{App: mask("app", st.Overrides.App), Deployment: mask("deployment", st.Overrides.Deployment)}
	return st
}

// SaveTemplate stores a template; sensitive defaults are sealed, and a
// masked value sent back keeps the stored one.
func (s *Service) SaveTemplate(ctx context.Context, t *model.StagingTemplate) error {
	return s.cfg.Store.Tx(ctx, func(q *store.Queries) error {
		old, err := q.GetStagingTemplate(ctx, t.ProjectID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		seal := func(level string, m, before map[string]string) error {
			for k, v := range m {
				if !t.IsSensitive(level, k) {
					continue
				}
				if v == model.StagingMask {
					prev, ok := before[k]
					if !ok || !old.IsSensitive(level, k) {
						return &model.ValidationError{Subject: "staging template", Problems: []string{fmt.Sprintf("defaults.%s.%s: give the value; %s stands for a stored one and there is none", level, k, model.StagingMask)}}
					}
					m[k] = prev
					continue
				}
				sealed, err := q.Seal(v)
				if err != nil {
					return err
				}
				m[k] = sealed
			}
			return nil
		}
		if err := seal("app", t.Defaults.App, old.Defaults.App); err != nil {
			return err
		}
		if err := seal("deployment", t.Defaults.Deployment, old.Defaults.Deployment); err != nil {
			return err
		}
		return q.SaveStagingTemplate(ctx, t)
	})
}

// effective is a staging's configuration with sensitive values opened, and
// those values for masking.
func effective(q *store.Queries, t model.StagingTemplate, o model.StagingOverrides) (model.StagingConfig, []string, error) {
	cfg := model.EffectiveConfig(t.Defaults, o)
	var secrets []string
	open := func(level string, m map[string]string) error {
		for k, v := range m {
			if !t.IsSensitive(level, k) {
				continue
			}
			plain, err := q.OpenSealed(v)
			if err != nil {
				return fmt.Errorf("open the sensitive value of %s.%s: %w", level, k, err)
			}
			m[k] = plain
			secrets = append(secrets, plain)
		}
		return nil
	}
	if err := open("app", cfg.App); err != nil {
		return cfg, nil, err
	}
	if err := open("deployment", cfg.Deployment); err != nil {
		return cfg, nil, err
	}
	return cfg, secrets, nil
}

// Effective is what a staging's scripts get, sensitive values masked: what
// the API shows.
func (s *Service) Effective(t model.StagingTemplate, st model.Staging) model.StagingConfig {
	return model.EffectiveConfig(MaskTemplate(t).Defaults, MaskStaging(t, st).Overrides)
}

// script is one control script of a staging, ready to run.
type script struct {
	run    engine.WorkerScript
	masker *vars.Masker
}

// prepare renders a control script for a staging: the body is a template
// with Staging.* values; the arguments follow the contract.
func prepare(q *store.Queries, project model.Project, t model.StagingTemplate, st model.Staging, action model.StagingAction, extra ...string) (script, error) {
	cfg, secrets, err := effective(q, t, st.Overrides)
	if err != nil {
		return script{}, err
	}
	values := vars.NewValues()
	values.Set("Staging.Name", st.Name)
	values.Set("Staging.Id", st.ID)
	values.Set("Staging.Project", project.Name)
	values.Set("Staging.BaseDomain", t.BaseDomain)
	values.Set("Staging.Namespace", t.Namespace)
	values.Set("Staging.Action", string(action))
	values.Set("Octopus.Project.Name", project.Name)
	for k, v := range cfg.App {
		values.Set("Staging.App."+k, v)
	}
	for k, v := range cfg.Deployment {
		values.Set("Staging.Deployment."+k, v)
	}
	body, err := template.Evaluate(t.Scripts.Script(action), values, template.Options{Now: q.Now})
	if err != nil {
		return script{}, fmt.Errorf("the %s script: %w", action, err)
	}
	args := model.StagingArgs(&t, project.Name, st.Name, cfg, action != model.StagingNotify)
	return script{
		run: engine.WorkerScript{Body: body, Args: append(args, extra...), What: "the " + strings.ReplaceAll(string(action), "_", " ") + " script",
			Timeout: t.ScriptTimeout.D, Values: values},
		masker: vars.NewMasker(secrets...),
	}, nil
}

// refused is a 409: the staging is busy or in the wrong state.
func refused(format string, args ...any) error {
	return &model.RefusedError{Reason: fmt.Sprintf(format, args...)}
}

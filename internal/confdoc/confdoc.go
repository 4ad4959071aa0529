// Package confdoc is the declarative configuration format that
// "pulpo apply" reads and "pulpo export" writes: environments, lifecycles,
// project groups and projects with their steps and variables, every
// reference by name so a file can move between servers. It is plain data;
// the apply package gives it effect.
package confdoc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// Document is one configuration file. Each list is matched by name against
// what the server holds; objects the file does not mention are left alone.
type Document struct {
	Environments    []Environment   `json:"environments,omitempty" yaml:"environments,omitempty"`
	WorkerPools     []WorkerPool    `json:"workerPools,omitempty" yaml:"workerPools,omitempty"`
	MachinePolicies []MachinePolicy `json:"machinePolicies,omitempty" yaml:"machinePolicies,omitempty"`
	LibrarySets     []LibrarySet    `json:"librarySets,omitempty" yaml:"librarySets,omitempty"`
	Lifecycles      []Lifecycle     `json:"lifecycles,omitempty" yaml:"lifecycles,omitempty"`
	ProjectGroups   []ProjectGroup  `json:"projectGroups,omitempty" yaml:"projectGroups,omitempty"`
	Feeds           []Feed          `json:"feeds,omitempty" yaml:"feeds,omitempty"`
	ScriptModules   []ScriptModule  `json:"scriptModules,omitempty" yaml:"scriptModules,omitempty"`
	StepTemplates   []StepTemplate  `json:"stepTemplates,omitempty" yaml:"stepTemplates,omitempty"`
	Certificates    []Certificate   `json:"certificates,omitempty" yaml:"certificates,omitempty"`
	Projects        []Project       `json:"projects,omitempty" yaml:"projects,omitempty"`
}

// Environment is listed in display order: applying a file puts the
// environments it names in the order it names them.
type Environment struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// UseGuidedFailure pauses failed deployments here to ask what to do.
	UseGuidedFailure bool `json:"useGuidedFailure,omitempty" yaml:"useGuidedFailure,omitempty"`
}

// WorkerPool is a set of workers steps can run on.
type WorkerPool struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
}

// MachinePolicy holds machines' health and availability rules. Durations
// are Go duration text ("30s", "1h"); "0s" turns a rule off.
type MachinePolicy struct {
	Name                   string `json:"name" yaml:"name"`
	Description            string `json:"description,omitempty" yaml:"description,omitempty"`
	HealthCheckInterval    string `json:"healthCheckInterval,omitempty" yaml:"healthCheckInterval,omitempty"`
	HealthCheckScript      string `json:"healthCheckScript,omitempty" yaml:"healthCheckScript,omitempty"`
	WhenUnavailable        string `json:"whenUnavailable,omitempty" yaml:"whenUnavailable,omitempty"`
	DeleteUnavailableAfter string `json:"deleteUnavailableAfter,omitempty" yaml:"deleteUnavailableAfter,omitempty"`
}

// Lifecycle names its phases' environments by name.
type Lifecycle struct {
	Name        string  `json:"name" yaml:"name"`
	Description string  `json:"description,omitempty" yaml:"description,omitempty"`
	Phases      []Phase `json:"phases,omitempty" yaml:"phases,omitempty"`
	// ReleaseRetention keeps the newest keepReleases and those younger
	// than keepDays; a phase may set its own.
	ReleaseRetention *model.Retention `json:"releaseRetention,omitempty" yaml:"releaseRetention,omitempty"`
}

// Phase mirrors model.Phase with environment names instead of ids.
type Phase struct {
	Name                               string           `json:"name" yaml:"name"`
	AutomaticEnvironments              []string         `json:"automaticEnvironments,omitempty" yaml:"automaticEnvironments,omitempty,flow"`
	ManualEnvironments                 []string         `json:"manualEnvironments,omitempty" yaml:"manualEnvironments,omitempty,flow"`
	MinimumEnvironmentsBeforePromotion int              `json:"minimumEnvironmentsBeforePromotion,omitempty" yaml:"minimumEnvironmentsBeforePromotion,omitempty"`
	Optional                           bool             `json:"optional,omitempty" yaml:"optional,omitempty"`
	ReleaseRetention                   *model.Retention `json:"releaseRetention,omitempty" yaml:"releaseRetention,omitempty"`
}

// ProjectGroup is a folder of projects.
type ProjectGroup struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
}

// Project is described completely: its steps and variables become exactly
// what the file lists. ProjectGroup and Lifecycle are names; left out, a new
// project gets the defaults and an existing one keeps its own.
type Project struct {
	Name         string     `json:"name" yaml:"name"`
	Description  string     `json:"description,omitempty" yaml:"description,omitempty"`
	ProjectGroup string     `json:"projectGroup,omitempty" yaml:"projectGroup,omitempty"`
	Lifecycle    string     `json:"lifecycle,omitempty" yaml:"lifecycle,omitempty"`
	Steps        []Step     `json:"steps,omitempty" yaml:"steps,omitempty"`
	Variables    []Variable `json:"variables,omitempty" yaml:"variables,omitempty"`
	// LibrarySets are the names of the library variable sets it includes.
	LibrarySets []string `json:"librarySets,omitempty" yaml:"librarySets,omitempty,flow"`
	// Channels are the project's channels (matched by name; channels not
	// listed are left as they are).
	Channels []Channel `json:"channels,omitempty" yaml:"channels,omitempty"`
	// ReleaseVersionTemplate numbers releases created without a version.
	ReleaseVersionTemplate string `json:"releaseVersionTemplate,omitempty" yaml:"releaseVersionTemplate,omitempty"`
	// Runbooks are the project's operations processes (matched by name;
	// their drafts are replaced, their published snapshots kept).
	Runbooks []Runbook `json:"runbooks,omitempty" yaml:"runbooks,omitempty"`
}

// Runbook is an operations process; Environments (by name) are where it
// may run.
type Runbook struct {
	Name         string   `json:"name" yaml:"name"`
	Description  string   `json:"description,omitempty" yaml:"description,omitempty"`
	Environments []string `json:"environments,omitempty" yaml:"environments,omitempty,flow"`
	Steps        []Step   `json:"steps" yaml:"steps"`
}

// Channel is a project's channel; Lifecycle by name.
type Channel struct {
	Name        string              `json:"name" yaml:"name"`
	Description string              `json:"description,omitempty" yaml:"description,omitempty"`
	Lifecycle   string              `json:"lifecycle,omitempty" yaml:"lifecycle,omitempty"`
	Default     bool                `json:"default,omitempty" yaml:"default,omitempty"`
	Rules       []model.ChannelRule `json:"rules,omitempty" yaml:"rules,omitempty"`
}

// LibrarySet is a library variable set; its values cannot be scoped to steps.
type LibrarySet struct {
	Name        string     `json:"name" yaml:"name"`
	Description string     `json:"description,omitempty" yaml:"description,omitempty"`
	Variables   []Variable `json:"variables,omitempty" yaml:"variables,omitempty"`
}

// Step is a process step, matched to the stored one by name so its id (and
// whatever refers to it) survives an apply.
type Step struct {
	Name     string        `json:"name" yaml:"name"`
	Disabled bool          `json:"disabled,omitempty" yaml:"disabled,omitempty"`
	Script   *ScriptAction `json:"script,omitempty" yaml:"script,omitempty"`
	// Package deploys a package from the feed by the conventions.
	Package *PackageAction `json:"package,omitempty" yaml:"package,omitempty"`
	// Template makes the step from a step template (its action is the
	// template version's, so the step sets none).
	Template *StepTemplateRef `json:"template,omitempty" yaml:"template,omitempty"`
	// ScriptModules (by name) are included in the step's scripts.
	ScriptModules []string `json:"scriptModules,omitempty" yaml:"scriptModules,omitempty,flow"`
	// ManualIntervention waits for a person to proceed or abort.
	ManualIntervention *model.ManualAction `json:"manualIntervention,omitempty" yaml:"manualIntervention,omitempty"`
	// DeployRelease deploys a release of another project (by name).
	DeployRelease *DeployRelease `json:"deployRelease,omitempty" yaml:"deployRelease,omitempty"`
	// HealthCheck re-checks the targets of TargetRoles mid-deployment.
	HealthCheck *model.HealthCheckAction `json:"healthCheck,omitempty" yaml:"healthCheck,omitempty"`
	// Email sends an email from the server; its teams go by name.
	Email *model.EmailAction `json:"email,omitempty" yaml:"email,omitempty"`
	// TargetRoles runs the step on every target in these roles; without
	// roles it runs on a worker of WorkerPool (by name; the default pool
	// when empty).
	TargetRoles    []string `json:"targetRoles,omitempty" yaml:"targetRoles,omitempty,flow"`
	WorkerPool     string   `json:"workerPool,omitempty" yaml:"workerPool,omitempty"`
	RunOnServer    bool     `json:"runOnServer,omitempty" yaml:"runOnServer,omitempty"`
	MaxParallelism int      `json:"maxParallelism,omitempty" yaml:"maxParallelism,omitempty"`
	WindowSize     int      `json:"windowSize,omitempty" yaml:"windowSize,omitempty"`
	// Environments (by name) limits the step to them; ExcludedEnvironments
	// leaves it out of those.
	Environments         []string `json:"environments,omitempty" yaml:"environments,omitempty,flow"`
	ExcludedEnvironments []string `json:"excludedEnvironments,omitempty" yaml:"excludedEnvironments,omitempty,flow"`
	// Channels (by name) limits the step to releases in them.
	Channels []string `json:"channels,omitempty" yaml:"channels,omitempty,flow"`
	// Required steps cannot be skipped at deployment.
	Required bool `json:"required,omitempty" yaml:"required,omitempty"`
	// Condition is success (default), failure, always or variable (with
	// ConditionExpression).
	Condition           model.StepCondition `json:"condition,omitempty" yaml:"condition,omitempty"`
	ConditionExpression string              `json:"conditionExpression,omitempty" yaml:"conditionExpression,omitempty"`
	StartWithPrevious   bool                `json:"startWithPrevious,omitempty" yaml:"startWithPrevious,omitempty"`
	Retries             int                 `json:"retries,omitempty" yaml:"retries,omitempty"`
	RetryDelaySeconds   int                 `json:"retryDelaySeconds,omitempty" yaml:"retryDelaySeconds,omitempty"`
}

// DeployRelease is a deploy-a-release step: the child project by name.
type DeployRelease struct {
	Project   string                  `json:"project" yaml:"project"`
	Mode      model.DeployReleaseMode `json:"mode,omitempty" yaml:"mode,omitempty"`
	Variables map[string]string       `json:"variables,omitempty" yaml:"variables,omitempty"`
}

// Variable is one value; Environments scopes it by environment name. A
// sensitive value is never exported; applied without a value, it keeps the
// one it has.
type Variable struct {
	Name      string `json:"name" yaml:"name"`
	Value     string `json:"value,omitempty" yaml:"value,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty" yaml:"sensitive,omitempty"`
	// Type is empty for text; "certificate" makes Value a certificate's
	// name.
	Type string `json:"type,omitempty" yaml:"type,omitempty"`
	// Roles, Machines (by name), and Steps and Channels (by name, projects
	// only) narrow the value further; Prompt asks for it when deploying.
	Roles        []string      `json:"roles,omitempty" yaml:"roles,omitempty,flow"`
	Machines     []string      `json:"machines,omitempty" yaml:"machines,omitempty,flow"`
	Steps        []string      `json:"steps,omitempty" yaml:"steps,omitempty,flow"`
	Channels     []string      `json:"channels,omitempty" yaml:"channels,omitempty,flow"`
	Prompt       *model.Prompt `json:"prompt,omitempty" yaml:"prompt,omitempty"`
	Environments []string      `json:"environments,omitempty" yaml:"environments,omitempty,flow"`
}

// ParseYAML reads a document strictly: an unknown field is an error naming
// its line, so a typo cannot silently drop a setting.
func ParseYAML(data []byte) (*Document, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty")
		}
		return nil, fmt.Errorf("parse: %w", err)
	}
	var more any
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, errors.New("the file holds more than one YAML document; put everything in one")
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if err := checkCutTemplates(&root); err != nil {
		return nil, err
	}
	return &doc, nil
}

// checkCutTemplates catches the commonest YAML trap for Pulpo users: in an
// unquoted value, " #" starts a comment, so `echo hi #{Name}` silently loses
// its template. A comment that starts with "#{" is almost surely that.
func checkCutTemplates(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Style == 0 && strings.HasPrefix(n.LineComment, "#{") {
		return fmt.Errorf("line %d: the value %q is cut short where \"%s\" begins, because YAML reads \" #\" as the start of a comment; "+
			"put the value in quotes or write it as a block (|)", n.Line, n.Value, truncate(n.LineComment, 20))
	}
	for _, c := range n.Content {
		if err := checkCutTemplates(c); err != nil {
			return err
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// YAML writes the document in the format ParseYAML reads.
func (d *Document) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("write YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// Actions an apply reports for each object.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
	// Skipped is an object that exists and was left as it is although the
	// document differs (an archive imported without updating existing ones).
	Skipped = "skipped"
)

// Change is what applying did (or, in a dry run, would do) to one object.
type Change struct {
	Kind   string `json:"kind"` // environment, worker pool, machine policy, library set, lifecycle, project group, feed, script module, step template, certificate, project
	Name   string `json:"name"`
	Action string `json:"action"`
	// What differs, for an update, such as "steps" or "variables".
	Fields []string `json:"fields,omitempty"`
}

// Result lists every object of the file with what happened to it.
type Result struct {
	DryRun  bool     `json:"dryRun"`
	Changes []Change `json:"changes"`
}

// Changed counts the objects created or updated.
func (r *Result) Changed() int {
	n := 0
	for _, c := range r.Changes {
		if c.Action == Created || c.Action == Updated {
			n++
		}
	}
	return n
}

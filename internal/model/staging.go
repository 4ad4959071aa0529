package model

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// A staging is a short-lived, per-feature copy of a project's stack (what
// Octopod calls a deployment): anyone allowed creates one by name with a few
// settings, and control scripts an ops engineer wrote once in the project's
// staging template create, update, check, archive, restore and clean it up.

// StagingAction names a control script.
type StagingAction string

// The control scripts, with Octopod's names in the comments.
const (
	StagingCreate       StagingAction = "create"
	StagingUpdate       StagingAction = "update"
	StagingArchive      StagingAction = "archive"
	StagingRestore      StagingAction = "restore" // Octopod: unarchive
	StagingCheck        StagingAction = "check"
	StagingArchiveCheck StagingAction = "archive_check"
	StagingCleanup      StagingAction = "cleanup"
	StagingConfigCheck  StagingAction = "config_check"
	StagingInfo         StagingAction = "info"
	StagingNotify       StagingAction = "notify" // Octopod: notification
)

// StagingScripts are the template's control scripts: bash, rendered as
// templates with the project's variables and Staging.* values, then run
// with the contract's arguments in "$@". Empty scripts are not run; create,
// update, archive and cleanup are required.
type StagingScripts struct {
	Create       string `json:"create" yaml:"create"`
	Update       string `json:"update" yaml:"update"`
	Archive      string `json:"archive" yaml:"archive"`
	Restore      string `json:"restore,omitempty" yaml:"restore,omitempty"`
	Check        string `json:"check,omitempty" yaml:"check,omitempty"`
	ArchiveCheck string `json:"archiveCheck,omitempty" yaml:"archiveCheck,omitempty"`
	Cleanup      string `json:"cleanup" yaml:"cleanup"`
	ConfigCheck  string `json:"configCheck,omitempty" yaml:"configCheck,omitempty"`
	Info         string `json:"info,omitempty" yaml:"info,omitempty"`
	Notify       string `json:"notify,omitempty" yaml:"notify,omitempty"`
}

// Script returns the body of one control script ("" when not set).
func (s StagingScripts) Script(a StagingAction) string {
	switch a {
	case StagingCreate:
		return s.Create
	case StagingUpdate:
		return s.Update
	case StagingArchive:
		return s.Archive
	case StagingRestore:
		return s.Restore
	case StagingCheck:
		return s.Check
	case StagingArchiveCheck:
		return s.ArchiveCheck
	case StagingCleanup:
		return s.Cleanup
	case StagingConfigCheck:
		return s.ConfigCheck
	case StagingInfo:
		return s.Info
	case StagingNotify:
		return s.Notify
	}
	return ""
}

// StagingArguments says how configuration pairs are passed to scripts.
type StagingArguments string

const (
	// ArgumentsPulpo passes --app-config K=V and --deployment-config K=V.
	ArgumentsPulpo StagingArguments = "pulpo"
	// ArgumentsOctopod passes --application-config K=V as Octopod does, so
	// existing Octopod control scripts run unchanged.
	ArgumentsOctopod StagingArguments = "octopod"
)

// StagingConfig is configuration by level: application settings (the image
// tag, feature flags) and deployment settings (replicas, resources).
type StagingConfig struct {
	App        map[string]string `json:"app,omitempty" yaml:"app,omitempty"`
	Deployment map[string]string `json:"deployment,omitempty" yaml:"deployment,omitempty"`
}

// StagingOverrides are a staging's differences from the template's
// defaults: a value sets or changes a key; null removes a default.
type StagingOverrides struct {
	App        map[string]*string `json:"app,omitempty"`
	Deployment map[string]*string `json:"deployment,omitempty"`
}

// StagingTemplate is a project's control scripts and defaults.
type StagingTemplate struct {
	ProjectID string         `json:"projectId" yaml:"projectId,omitempty"`
	Scripts   StagingScripts `json:"scripts" yaml:"scripts"`
	// Arguments is the argument style; pulpo by default.
	Arguments StagingArguments `json:"arguments,omitempty" yaml:"arguments,omitempty"`
	// ScriptTimeout stops a control script that runs longer (default 30m).
	ScriptTimeout Duration      `json:"scriptTimeout" yaml:"scriptTimeout"`
	BaseDomain    string        `json:"baseDomain,omitempty" yaml:"baseDomain,omitempty"`
	Namespace     string        `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	Defaults      StagingConfig `json:"defaults" yaml:"defaults"`
	// SensitiveKeys are configuration keys ("app.dbPassword") whose values
	// are stored encrypted, masked in logs and never returned.
	SensitiveKeys []string `json:"sensitiveKeys,omitempty" yaml:"sensitiveKeys,omitempty"`
	// NamePattern is the regular expression staging names must match.
	NamePattern string `json:"namePattern,omitempty" yaml:"namePattern,omitempty"`
	// IdleExpiry archives a staging nobody changed for this long (0: never).
	IdleExpiry Duration `json:"idleExpiry" yaml:"idleExpiry"`
	// ArchiveRetention cleans an archived staging up after this long (0: never).
	ArchiveRetention Duration `json:"archiveRetention" yaml:"archiveRetention"`
	// StatusTimeout is how long a pending staging may fail its check before
	// it is marked failed (default 10m).
	StatusTimeout Duration `json:"statusTimeout" yaml:"statusTimeout"`
	// CheckInterval is how often check runs on each staging (default 15s).
	CheckInterval Duration `json:"checkInterval" yaml:"checkInterval"`
	// WorkerPoolID runs the scripts on a worker of this pool (empty: the
	// default pool).
	WorkerPoolID string `json:"workerPoolId,omitempty" yaml:"workerPoolId,omitempty"`
	// TagKey is the configuration key whose value becomes the package
	// version when a staging is promoted to a release (default app.tag).
	TagKey  string `json:"tagKey,omitempty" yaml:"tagKey,omitempty"`
	Version int    `json:"version" yaml:"version,omitempty"`
}

// Defaults for a staging template.
const (
	DefaultStagingNamePattern   = `^[a-z][a-z0-9-]{1,39}$`
	DefaultStagingScriptTimeout = 30 * time.Minute
	DefaultStagingStatusTimeout = 10 * time.Minute
	DefaultStagingCheckInterval = 15 * time.Second
	DefaultStagingTagKey        = "app.tag"
	// DefaultStagingArchiveRetain is what new templates are offered (0,
	// the value when left out, keeps archives for good).
	DefaultStagingArchiveRetain  = 14 * 24 * time.Hour
	MinStagingCheckInterval      = time.Second
	stagingConfigKeyPatternText  = `^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$`
	maxStagingConfigValue        = 64 << 10
	maxStagingConfigPairs        = 500
	stagingAppPrefix             = "app."
	stagingDeploymentPrefix      = "deployment."
	stagingOctopodArgumentPrefix = "--application-config"
)

var stagingConfigKeyPattern = regexp.MustCompile(stagingConfigKeyPatternText)

// Normalize fills the defaults a template may leave out.
func (t *StagingTemplate) Normalize() {
	if t.Arguments == "" {
		t.Arguments = ArgumentsPulpo
	}
	if t.ScriptTimeout.D == 0 {
		t.ScriptTimeout.D = DefaultStagingScriptTimeout
	}
	if t.StatusTimeout.D == 0 {
		t.StatusTimeout.D = DefaultStagingStatusTimeout
	}
	if t.CheckInterval.D == 0 {
		t.CheckInterval.D = DefaultStagingCheckInterval
	}
	if t.NamePattern == "" {
		t.NamePattern = DefaultStagingNamePattern
	}
	if t.TagKey == "" {
		t.TagKey = DefaultStagingTagKey
	}
}

// Validate checks the template.
func (t *StagingTemplate) Validate() error {
	p := problems{subject: "staging template"}
	for _, a := range []StagingAction{StagingCreate, StagingUpdate, StagingArchive, StagingCleanup} {
		if strings.TrimSpace(t.Scripts.Script(a)) == "" {
			p.add("scripts."+string(a), "is required: the script that does %s", a)
		}
	}
	switch t.Arguments {
	case "", ArgumentsPulpo, ArgumentsOctopod:
	default:
		p.add("arguments", "%q is not an argument style: use pulpo or octopod", t.Arguments)
	}
	if t.ScriptTimeout.D < 0 || (t.ScriptTimeout.D > 0 && t.ScriptTimeout.D < time.Second) {
		p.add("scriptTimeout", "must be at least 1s")
	}
	if t.CheckInterval.D < 0 || (t.CheckInterval.D > 0 && t.CheckInterval.D < MinStagingCheckInterval) {
		p.add("checkInterval", "must be at least %s", MinStagingCheckInterval)
	}
	for field, d := range map[string]Duration{"statusTimeout": t.StatusTimeout, "idleExpiry": t.IdleExpiry, "archiveRetention": t.ArchiveRetention} {
		if d.D < 0 {
			p.add(field, "must not be negative")
		}
	}
	if t.NamePattern != "" {
		if _, err := regexp.Compile(t.NamePattern); err != nil {
			p.add("namePattern", "is not a regular expression: %v", err)
		}
	}
	if t.TagKey != "" {
		if _, _, err := SplitStagingKey(t.TagKey); err != nil {
			p.add("tagKey", "%v", err)
		}
	}
	checkConfig := func(field string, m map[string]string) {
		if len(m) > maxStagingConfigPairs {
			p.add(field, "has %d keys; the limit is %d", len(m), maxStagingConfigPairs)
		}
		for k, v := range m {
			if !stagingConfigKeyPattern.MatchString(k) {
				p.add(field+"."+k, "is not a key: use letters, digits and . _ - /")
			}
			if len(v) > maxStagingConfigValue {
				p.add(field+"."+k, "is %d bytes; the limit is %d", len(v), maxStagingConfigValue)
			}
		}
	}
	checkConfig("defaults.app", t.Defaults.App)
	checkConfig("defaults.deployment", t.Defaults.Deployment)
	for _, k := range t.SensitiveKeys {
		if _, _, err := SplitStagingKey(k); err != nil {
			p.add("sensitiveKeys", "%v", err)
		}
	}
	return p.err()
}

// SplitStagingKey splits "app.tag" into its level ("app" or "deployment")
// and key; a key without a level prefix is an application key.
func SplitStagingKey(full string) (level, key string, err error) {
	switch {
	case strings.HasPrefix(full, stagingAppPrefix):
		level, key = "app", strings.TrimPrefix(full, stagingAppPrefix)
	case strings.HasPrefix(full, stagingDeploymentPrefix):
		level, key = "deployment", strings.TrimPrefix(full, stagingDeploymentPrefix)
	default:
		level, key = "app", full
	}
	if !stagingConfigKeyPattern.MatchString(key) {
		return "", "", fmt.Errorf("%q is not a configuration key: write app.KEY or deployment.KEY, with letters, digits and . _ - / in KEY", full)
	}
	return level, key, nil
}

// StagingState is where a staging is in its life.
type StagingState string

// Staging states, as Octopod's.
const (
	StagingCreatePending  StagingState = "CreatePending"
	StagingRunning        StagingState = "Running"
	StagingFailure        StagingState = "Failure"
	StagingUpdatePending  StagingState = "UpdatePending"
	StagingArchivePending StagingState = "ArchivePending"
	StagingArchived       StagingState = "Archived"
	StagingCleanupFailed  StagingState = "CleanupFailed"
)

// StagingFailure says why a staging failed.
type StagingFailureReason string

// Failure reasons; the check script's exit code picks one.
const (
	FailureGeneric             StagingFailureReason = "GenericFailure"
	FailurePartialAvailability StagingFailureReason = "PartialAvailability"
	FailureTagMismatch         StagingFailureReason = "TagMismatch"
	// FailureAction: a control script failed or ran out of time.
	FailureAction StagingFailureReason = "ActionFailed"
)

// CheckFailure maps a check script's exit code to a reason.
func CheckFailure(code int) StagingFailureReason {
	switch code {
	case 2:
		return FailurePartialAvailability
	case 3:
		return FailureTagMismatch
	}
	return FailureGeneric
}

// StagingLink is one line of the info script's output.
type StagingLink struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Staging is one per-feature environment.
type Staging struct {
	ID        string       `json:"id"`
	ProjectID string       `json:"projectId"`
	Name      string       `json:"name"`
	State     StagingState `json:"state"`
	// Reason and Message explain a Failure or CleanupFailed.
	Reason  StagingFailureReason `json:"reason,omitempty"`
	Message string               `json:"message,omitempty"`
	// Overrides are the staging's own settings; sensitive values come
	// back as "********".
	Overrides StagingOverrides `json:"overrides"`
	Links     []StagingLink    `json:"links,omitempty"`
	CreatedBy string           `json:"createdBy"`
	UpdatedBy string           `json:"updatedBy"`
	CreatedAt time.Time        `json:"createdAt"`
	// UpdatedAt is the last action someone asked for: idle expiry counts
	// from it.
	UpdatedAt      time.Time  `json:"updatedAt"`
	StateChangedAt time.Time  `json:"stateChangedAt"`
	ArchivedAt     *time.Time `json:"archivedAt,omitempty"`
	// KeepUntil overrides the idle expiry: the staging is not archived for
	// idleness before then (far in the future: never).
	KeepUntil *time.Time `json:"keepUntil,omitempty"`
	// ExpiresAt is when it will be archived for idleness, CleanupAt when
	// an archived one will be cleaned up; nil: not planned.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	CleanupAt *time.Time `json:"cleanupAt,omitempty"`
	// TaskID is the action running now; another action waits for it.
	TaskID        string     `json:"taskId,omitempty"`
	LastCheckAt   *time.Time `json:"lastCheckAt,omitempty"`
	LastCheckCode *int       `json:"lastCheckCode,omitempty"`
	Version       int        `json:"version"`
}

// Busy reports whether an action is under way.
func (s *Staging) Busy() bool { return s.TaskID != "" }

// StagingActionRecord is one action in a staging's history.
type StagingActionRecord struct {
	StagingID string        `json:"stagingId"`
	Action    StagingAction `json:"action"`
	TaskID    string        `json:"taskId"`
	By        string        `json:"by"`
	At        time.Time     `json:"at"`
	State     TaskState     `json:"state"`
	EndedAt   *time.Time    `json:"endedAt,omitempty"`
	// Summary is what the action set and removed, for the history.
	Summary string `json:"summary,omitempty"`
}

// ValidateStagingName checks a name against the template's pattern.
func ValidateStagingName(t *StagingTemplate, name string) error {
	p := problems{subject: "staging"}
	pattern := t.NamePattern
	if pattern == "" {
		pattern = DefaultStagingNamePattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		p.add("name", "the template's name pattern is broken: %v", err)
	} else if !re.MatchString(name) {
		p.add("name", "%q does not match the project's naming rule %s", name, pattern)
	}
	return p.err()
}

// EffectiveConfig applies a staging's overrides to the defaults.
func EffectiveConfig(defaults StagingConfig, o StagingOverrides) StagingConfig {
	apply := func(d map[string]string, o map[string]*string) map[string]string {
		out := maps.Clone(d)
		if out == nil {
			out = map[string]string{}
		}
		for k, v := range o {
			if v == nil {
				delete(out, k)
			} else {
				out[k] = *v
			}
		}
		return out
	}
	return StagingConfig{App: apply(defaults.App, o.App), Deployment: apply(defaults.Deployment, o.Deployment)}
}

// StagingChange is what a create or update asks for: keys to set
// ("app.tag" → value), keys to remove, and keys to put back to their
// default.
type StagingChange struct {
	Set   map[string]string `json:"set,omitempty"`
	Unset []string          `json:"unset,omitempty"`
	Reset []string          `json:"reset,omitempty"`
}

// Apply changes overrides in place, keeping only real differences from the
// defaults: a value equal to the default is no override.
func (c StagingChange) Apply(defaults StagingConfig, o *StagingOverrides) error {
	p := problems{subject: "staging"}
	level := func(full string) (map[string]string, *map[string]*string, string, bool) {
		lv, key, err := SplitStagingKey(full)
		if err != nil {
			p.add("set", "%v", err)
			return nil, nil, "", false
		}
		if lv == "deployment" {
			return defaults.Deployment, &o.Deployment, key, true
		}
		return defaults.App, &o.App, key, true
	}
	for _, full := range slices.Sorted(maps.Keys(c.Set)) {
		v := c.Set[full]
		d, ov, key, ok := level(full)
		if !ok {
			continue
		}
		if len(v) > maxStagingConfigValue {
			p.add("set."+full, "is %d bytes; the limit is %d", len(v), maxStagingConfigValue)
			continue
		}
		if *ov == nil {
			*ov = map[string]*string{}
		}
		if dv, has := d[key]; has && dv == v {
			delete(*ov, key)
		} else {
			(*ov)[key] = &v
		}
	}
	for _, full := range c.Unset {
		d, ov, key, ok := level(full)
		if !ok {
			continue
		}
		if *ov == nil {
			*ov = map[string]*string{}
		}
		if _, has := d[key]; has {
			(*ov)[key] = nil
		} else {
			delete(*ov, key)
		}
	}
	for _, full := range c.Reset {
		if _, ov, key, ok := level(full); ok {
			delete(*ov, key)
		}
	}
	if len(o.App)+len(o.Deployment) > maxStagingConfigPairs {
		p.add("set", "a staging may override at most %d keys", maxStagingConfigPairs)
	}
	return p.err()
}

// ParseStagingLinks reads the info script's "name,url" lines; other lines
// are ignored.
func ParseStagingLinks(lines []string) []StagingLink {
	var out []StagingLink
	for _, line := range lines {
		name, url, ok := strings.Cut(strings.TrimSpace(line), ",")
		name, url = strings.TrimSpace(name), strings.TrimSpace(url)
		if ok && name != "" && (strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://")) {
			out = append(out, StagingLink{Name: name, URL: url})
		}
	}
	return out
}

// StagingArgs are a control script's arguments: the four the contract
// names, then every effective configuration pair (sorted, so the same
// configuration gives the same command line).
func StagingArgs(t *StagingTemplate, projectName, name string, cfg StagingConfig, withConfig bool) []string {
	args := []string{"--project-name", projectName, "--base-domain", t.BaseDomain, "--namespace", t.Namespace, "--name", name}
	if !withConfig {
		return args
	}
	appFlag := "--app-config"
	if t.Arguments == ArgumentsOctopod {
		appFlag = stagingOctopodArgumentPrefix
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.App)) {
		args = append(args, appFlag, k+"="+cfg.App[k])
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Deployment)) {
		args = append(args, "--deployment-config", k+"="+cfg.Deployment[k])
	}
	return args
}

// StagingMask stands for a sensitive value the API does not return; sent
// back unchanged, it keeps the stored value.
const StagingMask = "********"

// IsSensitive reports whether a configuration key of a level ("app" or
// "deployment") holds a secret.
func (t *StagingTemplate) IsSensitive(level, key string) bool {
	for _, k := range t.SensitiveKeys {
		if lv, kk, err := SplitStagingKey(k); err == nil && lv == level && kk == key {
			return true
		}
	}
	return false
}

// Package wire holds the REST API's request and response bodies that are
// not model entities, shared by the server's handlers and the Go client.
package wire

import (
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// ErrorBody is every error response: what went wrong and, for invalid
// input, each thing to fix.
type ErrorBody struct {
	Error   string   `json:"error"`
	Details []string `json:"details,omitempty"`
}

// Page is every list response.
type Page[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
	Skip  int `json:"skip"`
	Take  int `json:"take"`
}

// Root describes the server.
type Root struct {
	Application string `json:"application"`
	Version     string `json:"version"`
	OpenAPI     string `json:"openapi"`
	// ServerThumbprint is the server certificate's thumbprint, which agents trust.
	ServerThumbprint string `json:"serverThumbprint"`
	// PollingAddress is where polling agents connect (host:port), if enabled.
	PollingAddress string `json:"pollingAddress,omitempty"`
	// OIDCLogin is where browsers start an OpenID Connect login, when the
	// server has an issuer.
	OIDCLogin string `json:"oidcLogin,omitempty"`
}

// SSHScan is the host key an SSH server presents.
type SSHScan struct {
	Address     string `json:"address"`
	Fingerprint string `json:"fingerprint"`
}

// CreateReleaseRequest asks for a release of a project's current process and variables.
type CreateReleaseRequest struct {
	ProjectID string `json:"projectId"`
	// Packages chooses package versions by package id (or step name);
	// the feed's newest version otherwise.
	Packages map[string]string `json:"packages,omitempty"`
	// Version is the release number; the next patch number when omitted.
	Version string `json:"version,omitempty"`
	Notes   string `json:"notes,omitempty"`
	// ChildReleases chooses, by child project (id or name) or step name,
	// the release each deploy-a-release step deploys; the child's newest
	// release otherwise.
	ChildReleases map[string]string `json:"childReleases,omitempty"`
	// Channel (id or name) the release follows; when omitted, the default
	// channel if it takes the package versions asked for, else the first
	// channel that does.
	Channel string `json:"channel,omitempty"`
	// WorkItems the release delivers, besides those of its package
	// versions' build information.
	WorkItems []model.WorkItem `json:"workItems,omitempty"`
}

// CreateReleaseResponse is the new release and the deployments its
// lifecycle started by itself.
type CreateReleaseResponse struct {
	model.Release
	AutomaticDeployments []model.Deployment `json:"automaticDeployments"`
}

// CreateDeploymentRequest asks for a release to go to an environment.
type CreateDeploymentRequest struct {
	ReleaseID     string `json:"releaseId"`
	EnvironmentID string `json:"environmentId"`
	// Variables are values for the release's prompted variables, by name.
	Variables map[string]string `json:"variables,omitempty"`
	// SkipSteps names steps (by id or name) to leave out; required ones
	// cannot be.
	SkipSteps []string `json:"skipSteps,omitempty"`
	// GuidedFailure overrides the environment's setting when given.
	GuidedFailure *bool `json:"guidedFailure,omitempty"`
	// NotBefore schedules the deployment for later; NotAfter is when it
	// expires if it has not started by then.
	NotBefore *time.Time `json:"notBefore,omitempty"`
	NotAfter  *time.Time `json:"notAfter,omitempty"`
	// OverrideFreeze deploys even during a deployment freeze (any
	// authenticated user until roles exist; then a permission).
	OverrideFreeze bool `json:"overrideFreeze,omitempty"`
	// SpecificMachineIDs limits steps on targets to these machines;
	// ExcludedMachineIDs leaves these out.
	SpecificMachineIDs []string `json:"specificMachineIds,omitempty"`
	ExcludedMachineIDs []string `json:"excludedMachineIds,omitempty"`
}

// AnswerRequest answers an interruption.
type AnswerRequest struct {
	// Answer is one of the interruption's answers: Proceed or Abort for a
	// manual intervention, Retry, Ignore, Exclude or Fail for a failure.
	Answer string `json:"answer"`
	Notes  string `json:"notes,omitempty"`
}

// TaskLog is a task with its log tree and the lines after a position.
type TaskLog struct {
	Task       model.Task       `json:"task"`
	Activities []model.Activity `json:"activities"`
	Lines      []model.LogLine  `json:"lines"`
	// LastSeq is the position to ask from next time (since=LastSeq).
	LastSeq int64 `json:"lastSeq"`
	// More is true when lines after LastSeq exist already.
	More bool `json:"more"`
}

// PreviewVariable is one resolved variable of a preview; sensitive values
// show as ********.
type PreviewVariable struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// PushResult is what a package push did.
type PushResult struct {
	Package model.Package `json:"package"`
	// Outcome is created, replaced or ignored.
	Outcome string `json:"outcome"`
	// Releases are those package triggers created for this push;
	// TriggerProblems says why a trigger could not create one.
	Releases        []model.Release `json:"releases,omitempty"`
	TriggerProblems []string        `json:"triggerProblems,omitempty"`
}

// TriggerRun is what firing a trigger by hand did.
type TriggerRun struct {
	Deployments []model.Deployment `json:"deployments,omitempty"`
	Releases    []model.Release    `json:"releases,omitempty"`
}

// Dashboard is what is deployed where: a cell per project and environment
// with the latest deployment, the current release and the previous one.
type Dashboard struct {
	Environments []model.Environment   `json:"environments"`
	Projects     []model.Project       `json:"projects"`
	Cells        []model.DashboardCell `json:"cells"`
}

// DashboardMarker changes whenever the dashboard may have.
type DashboardMarker struct {
	Marker string `json:"marker"`
}

// RunRunbookRequest asks for a runbook run.
type RunRunbookRequest struct {
	EnvironmentID string            `json:"environmentId"`
	Variables     map[string]string `json:"variables,omitempty"`
	SkipSteps     []string          `json:"skipSteps,omitempty"`
}

// LoginRequest logs a person in with a password.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LoginResponse is an open session: the cookie carries its token, and
// every request that changes something must send CSRFToken in the
// X-CSRF-Token header.
type LoginResponse struct {
	User      model.User `json:"user"`
	CSRFToken string     `json:"csrfToken"`
	ExpiresAt time.Time  `json:"expiresAt"`
}

// CreateUserRequest makes a user or, with isService, a service account.
type CreateUserRequest struct {
	Username     string `json:"username"`
	DisplayName  string `json:"displayName,omitempty"`
	EmailAddress string `json:"emailAddress,omitempty"`
	IsAdmin      bool   `json:"isAdmin,omitempty"`
	IsService    bool   `json:"isService,omitempty"`
	// Password is required for people (unless they log in through
	// OpenID Connect only), refused for service accounts.
	Password string `json:"password,omitempty"`
	// ExternalID links the user to an OpenID Connect identity:
	// "ISSUER|SUBJECT".
	ExternalID string `json:"externalId,omitempty"`
}

// UpdateUserRequest changes a user; the username and kind stay.
type UpdateUserRequest struct {
	DisplayName  string `json:"displayName,omitempty"`
	EmailAddress string `json:"emailAddress,omitempty"`
	IsAdmin      bool   `json:"isAdmin"`
	Disabled     bool   `json:"disabled"`
	// ExternalID links an OpenID Connect identity; empty keeps the link.
	ExternalID string `json:"externalId,omitempty"`
}

// PasswordRequest sets a password; changing one's own needs the current one.
type PasswordRequest struct {
	Password        string `json:"password"`
	CurrentPassword string `json:"currentPassword,omitempty"`
}

// CreateAPIKeyRequest makes an API key for a user.
type CreateAPIKeyRequest struct {
	Purpose   string     `json:"purpose"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// CreatedAPIKey is a new key: APIKey is shown this once and never again.
type CreatedAPIKey struct {
	APIKey string       `json:"apiKey"`
	Key    model.APIKey `json:"key"`
}

// MyPermissions is what the caller may do: everything, or the permissions
// each of their team roles gives, within its scope.
type MyPermissions struct {
	IsAdmin bool         `json:"isAdmin"`
	Teams   []model.Team `json:"teams"`
	Grants  []MyGrant    `json:"grants"`
}

// MyGrant is one team role the caller holds.
type MyGrant struct {
	Team            string             `json:"team"`
	Role            string             `json:"role"`
	Permissions     []model.Permission `json:"permissions"`
	ProjectIDs      []string           `json:"projectIds,omitempty"`
	ProjectGroupIDs []string           `json:"projectGroupIds,omitempty"`
	EnvironmentIDs  []string           `json:"environmentIds,omitempty"`
}

// StagingRequest creates, updates or upserts a staging. Keys are
// "app.KEY" or "deployment.KEY" (a bare KEY is an application key).
type StagingRequest struct {
	ProjectID string            `json:"projectId,omitempty"`
	Name      string            `json:"name,omitempty"`
	Set       map[string]string `json:"set,omitempty"`
	// Unset removes keys (a default becomes absent); Reset puts keys back
	// to the template's default.
	Unset []string `json:"unset,omitempty"`
	Reset []string `json:"reset,omitempty"`
	// KeepUntil overrides idle expiry: a date (kept through that day,
	// UTC), an RFC 3339 time, a duration from now ("72h"), "never", or
	// "default" for the template's idle expiry again; empty changes nothing.
	KeepUntil string `json:"keepUntil,omitempty"`
}

// StagingResult is a staging after an action was asked for.
type StagingResult struct {
	Staging model.Staging `json:"staging"`
	// TaskID is the action's task: follow its log like a deployment's.
	TaskID  string `json:"taskId,omitempty"`
	Created bool   `json:"created"`
}

// StagingDetail is a staging with its effective configuration (sensitive
// values masked) and its history.
type StagingDetail struct {
	model.Staging
	Effective model.StagingConfig         `json:"effective"`
	Actions   []model.StagingActionRecord `json:"actions"`
}

// PromoteStagingRequest turns a staging into a release: the tag becomes
// the version of every package the process takes.
type PromoteStagingRequest struct {
	// Version is the release number; when omitted, the tag if it is a
	// version, else the project's next version.
	Version string `json:"version,omitempty"`
	Channel string `json:"channel,omitempty"`
	Notes   string `json:"notes,omitempty"`
}

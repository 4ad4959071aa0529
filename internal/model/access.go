package model

import (
	"encoding/json"
	"slices"
	"sort"
	"time"
)

// Permission is one thing a user may be allowed to do.
type Permission string

// Dimensions say which parts of a team's scope restrict a permission: a
// project permission granted for project A does not reach project B; an
// environment permission granted for Dev does not reach Production.
type Dimensions uint8

// The dimensions of a scope.
const (
	ByProject Dimensions = 1 << iota
	ByEnvironment
)

// PermissionInfo describes a permission.
type PermissionInfo struct {
	Name        Permission `json:"name"`
	Description string     `json:"description"`
	// ScopedBy lists the scope dimensions that restrict it ("project",
	// "environment"); empty for server-wide permissions.
	ScopedBy []string   `json:"scopedBy,omitempty"`
	Dims     Dimensions `json:"-"`
	// View permissions match a thing that touches any environment of the
	// scope; others need every environment it touches to be in scope.
	View bool `json:"-"`
}

// The permissions. Each action the API offers needs exactly one of them.
const (
	AdministerSystem Permission = "AdministerSystem"

	UserView  Permission = "UserView"
	UserEdit  Permission = "UserEdit"
	TeamEdit  Permission = "TeamEdit"
	AuditView Permission = "AuditView"

	EnvironmentView   Permission = "EnvironmentView"
	EnvironmentCreate Permission = "EnvironmentCreate"
	EnvironmentEdit   Permission = "EnvironmentEdit"
	EnvironmentDelete Permission = "EnvironmentDelete"
	LifecycleView     Permission = "LifecycleView"
	LifecycleEdit     Permission = "LifecycleEdit"
	FreezeEdit        Permission = "DeploymentFreezeEdit"

	MachineView   Permission = "MachineView"
	MachineCreate Permission = "MachineCreate"
	MachineEdit   Permission = "MachineEdit"
	MachineDelete Permission = "MachineDelete"
	TrustEdit     Permission = "TrustEdit"
	WorkerView    Permission = "WorkerView"
	WorkerEdit    Permission = "WorkerEdit"

	ProjectGroupView Permission = "ProjectGroupView"
	ProjectGroupEdit Permission = "ProjectGroupEdit"
	ProjectView      Permission = "ProjectView"
	ProjectCreate    Permission = "ProjectCreate"
	ProjectEdit      Permission = "ProjectEdit"
	ProjectDelete    Permission = "ProjectDelete"
	ProcessView      Permission = "ProcessView"
	ProcessEdit      Permission = "ProcessEdit"
	VariableView     Permission = "VariableView"
	VariableEdit     Permission = "VariableEdit"
	TriggerView      Permission = "TriggerView"
	TriggerEdit      Permission = "TriggerEdit"
	RunbookView      Permission = "RunbookView"
	RunbookEdit      Permission = "RunbookEdit"
	RunbookRun       Permission = "RunbookRun"
	// Stagings: view them and their logs; create, update, archive and
	// restore them; clean up and delete them; edit the control scripts.
	StagingView         Permission = "StagingView"
	StagingEdit         Permission = "StagingEdit"
	StagingDelete       Permission = "StagingDelete"
	StagingTemplateEdit Permission = "StagingTemplateEdit"

	LibraryVariableSetView Permission = "LibraryVariableSetView"
	LibraryVariableSetEdit Permission = "LibraryVariableSetEdit"
	// Step templates in the library (script modules go with library
	// variable sets, as in Octopus).
	ActionTemplateView Permission = "ActionTemplateView"
	ActionTemplateEdit Permission = "ActionTemplateEdit"

	ReleaseView   Permission = "ReleaseView"
	ReleaseCreate Permission = "ReleaseCreate"
	ReleaseDelete Permission = "ReleaseDelete"

	DeploymentView     Permission = "DeploymentView"
	DeploymentCreate   Permission = "DeploymentCreate"
	TaskView           Permission = "TaskView"
	TaskCancel         Permission = "TaskCancel"
	InterruptionView   Permission = "InterruptionView"
	InterruptionSubmit Permission = "InterruptionSubmit"

	FeedView       Permission = "FeedView"
	FeedEdit       Permission = "FeedEdit"
	FeedPush       Permission = "BuiltInFeedPush"
	FeedAdminister Permission = "BuiltInFeedAdminister"
	// Certificates: view one's public fields (no one reads a private key
	// through the API); upload, replace, archive and delete them.
	CertificateView   Permission = "CertificateView"
	CertificateEdit   Permission = "CertificateEdit"
	SubscriptionView  Permission = "SubscriptionView"
	SubscriptionEdit  Permission = "SubscriptionEdit"
	ConfigurationEdit Permission = "ConfigurationEdit"
	NodeView          Permission = "NodeView"
	NodeEdit          Permission = "NodeEdit"
)

var permissionTable = []PermissionInfo{
	{Name: AdministerSystem, Description: "everything, including users, teams, roles and server settings"},
	{Name: UserView, Description: "see users and teams", View: true},
	{Name: UserEdit, Description: "create, change and disable users and service accounts, and manage their API keys"},
	{Name: TeamEdit, Description: "create and change teams, their members and roles, and custom roles"},
	{Name: AuditView, Description: "read the audit log", Dims: ByProject | ByEnvironment, View: true},
	{Name: EnvironmentView, Description: "see environments", Dims: ByEnvironment, View: true},
	{Name: EnvironmentCreate, Description: "create environments"},
	{Name: EnvironmentEdit, Description: "change environments", Dims: ByEnvironment},
	{Name: EnvironmentDelete, Description: "delete environments", Dims: ByEnvironment},
	{Name: LifecycleView, Description: "see lifecycles", View: true},
	{Name: LifecycleEdit, Description: "create, change and delete lifecycles"},
	{Name: FreezeEdit, Description: "create, change and delete deployment freezes"},
	{Name: MachineView, Description: "see deployment targets", Dims: ByEnvironment, View: true},
	{Name: MachineCreate, Description: "add deployment targets", Dims: ByEnvironment},
	{Name: MachineEdit, Description: "change deployment targets and check their health", Dims: ByEnvironment},
	{Name: MachineDelete, Description: "remove deployment targets", Dims: ByEnvironment},
	{Name: TrustEdit, Description: "change whom the server trusts: machine thumbprints and keys, machine policies, the server's own certificate", Dims: ByEnvironment},
	{Name: WorkerView, Description: "see workers and worker pools", View: true},
	{Name: WorkerEdit, Description: "add, change and remove workers and worker pools"},
	{Name: ProjectGroupView, Description: "see project groups", View: true},
	{Name: ProjectGroupEdit, Description: "create, change and delete project groups"},
	{Name: ProjectView, Description: "see projects, their channels and settings", Dims: ByProject, View: true},
	{Name: ProjectCreate, Description: "create projects (in the project groups of the scope)", Dims: ByProject},
	{Name: ProjectEdit, Description: "change projects' settings and channels", Dims: ByProject},
	{Name: ProjectDelete, Description: "delete projects", Dims: ByProject},
	{Name: ProcessView, Description: "see deployment processes", Dims: ByProject, View: true},
	{Name: ProcessEdit, Description: "change deployment processes", Dims: ByProject},
	{Name: VariableView, Description: "see project variables (sensitive values are never shown to anyone)", Dims: ByProject, View: true},
	{Name: VariableEdit, Description: "change project variables", Dims: ByProject},
	{Name: TriggerView, Description: "see triggers", Dims: ByProject, View: true},
	{Name: TriggerEdit, Description: "create, change, run and delete triggers", Dims: ByProject},
	{Name: RunbookView, Description: "see runbooks and their runs", Dims: ByProject, View: true},
	{Name: RunbookEdit, Description: "create, change, publish and delete runbooks", Dims: ByProject},
	{Name: RunbookRun, Description: "run runbooks", Dims: ByProject | ByEnvironment},
	{Name: StagingView, Description: "see stagings, their configuration and their (masked) logs", Dims: ByProject, View: true},
	{Name: StagingEdit, Description: "create, update, archive and restore stagings", Dims: ByProject},
	{Name: StagingDelete, Description: "clean up and delete stagings", Dims: ByProject},
	{Name: StagingTemplateEdit, Description: "change a project's staging template: control scripts, defaults, expiry", Dims: ByProject},
	{Name: LibraryVariableSetView, Description: "see library variable sets and script modules", View: true},
	{Name: LibraryVariableSetEdit, Description: "change library variable sets and script modules"},
	{Name: ActionTemplateView, Description: "see step templates and where they are used", View: true},
	{Name: ActionTemplateEdit, Description: "create, change and delete step templates"},
	{Name: ReleaseView, Description: "see releases", Dims: ByProject, View: true},
	{Name: ReleaseCreate, Description: "create releases and refresh their variables", Dims: ByProject},
	{Name: ReleaseDelete, Description: "delete releases", Dims: ByProject},
	{Name: DeploymentView, Description: "see deployments", Dims: ByProject | ByEnvironment, View: true},
	{Name: DeploymentCreate, Description: "deploy releases", Dims: ByProject | ByEnvironment},
	{Name: TaskView, Description: "see tasks, their logs and artifacts", Dims: ByProject | ByEnvironment, View: true},
	{Name: TaskCancel, Description: "cancel tasks", Dims: ByProject | ByEnvironment},
	{Name: InterruptionView, Description: "see manual interventions and guided failures", Dims: ByProject | ByEnvironment, View: true},
	{Name: InterruptionSubmit, Description: "take and answer manual interventions and guided failures", Dims: ByProject | ByEnvironment},
	{Name: FeedView, Description: "see and download the built-in feed's packages; see external feeds and search them", View: true},
	{Name: FeedEdit, Description: "add, change, test and remove external feeds"},
	{Name: FeedPush, Description: "push packages to the built-in feed"},
	{Name: FeedAdminister, Description: "delete packages from the built-in feed"},
	{Name: CertificateView, Description: "see certificates' public fields (subject, issuer, thumbprint, expiry) and download public certificates", View: true},
	{Name: CertificateEdit, Description: "upload, replace, change, archive and delete certificates"},
	{Name: SubscriptionView, Description: "see subscriptions and their deliveries", View: true},
	{Name: SubscriptionEdit, Description: "create, change, test and delete subscriptions"},
	{Name: ConfigurationEdit, Description: "apply and export whole configuration documents, and apply retention"},
	{Name: NodeView, Description: "see the server nodes, their heartbeats and tasks", View: true},
	{Name: NodeEdit, Description: "drain server nodes and let them take work again"},
}

var permissionByName = func() map[Permission]PermissionInfo {
	m := make(map[Permission]PermissionInfo, len(permissionTable))
	for _, p := range permissionTable {
		if p.Dims&ByProject != 0 {
			p.ScopedBy = append(p.ScopedBy, "project")
		}
		if p.Dims&ByEnvironment != 0 {
			p.ScopedBy = append(p.ScopedBy, "environment")
		}
		m[p.Name] = p
	}
	return m
}()

// Permissions lists every permission, in a stable order.
func Permissions() []PermissionInfo {
	out := make([]PermissionInfo, 0, len(permissionTable))
	for _, p := range permissionTable {
		out = append(out, permissionByName[p.Name])
	}
	return out
}

// LookupPermission describes a permission by name.
func LookupPermission(p Permission) (PermissionInfo, bool) {
	info, ok := permissionByName[p]
	return info, ok
}

// Role is a named set of permissions. Built-in roles cannot be changed.
type Role struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Permissions []Permission `json:"permissions"`
	BuiltIn     bool         `json:"builtIn"`
}

// Validate checks a role's name and permissions.
func (r *Role) Validate() error {
	p := problems{subject: "role"}
	checkName(&p, "name", r.Name)
	if len(r.Permissions) == 0 {
		p.add("permissions", "give at least one; GET /api/v1/permissions lists them")
	}
	for _, perm := range r.Permissions {
		if _, ok := permissionByName[perm]; !ok {
			p.add("permissions", "%q is not a permission; GET /api/v1/permissions lists them", perm)
		}
	}
	return p.err()
}

// The built-in roles' ids.
const (
	RoleSystemAdministrator = "Roles-SystemAdministrator"
	RoleProjectViewer       = "Roles-ProjectViewer"
	RoleProjectContributor  = "Roles-ProjectContributor"
	RoleProjectDeployer     = "Roles-ProjectDeployer"
	RoleProjectLead         = "Roles-ProjectLead"
	RoleEnvironmentViewer   = "Roles-EnvironmentViewer"
	RoleEnvironmentManager  = "Roles-EnvironmentManager"
	RoleReleaseManager      = "Roles-ReleaseManager"
)

// BuiltInRoles are the roles every server has. The project roles build on
// each other as Octopus's do: a contributor changes the process and
// variables, a lead also creates releases, a deployer also deploys them.
func BuiltInRoles() []Role {
	projectViewer := []Permission{ProjectView, ProcessView, VariableView, TriggerView, RunbookView, ReleaseView,
		DeploymentView, TaskView, InterruptionView, EnvironmentView, LifecycleView, ProjectGroupView, MachineView,
		LibraryVariableSetView, FeedView, AuditView, StagingView, CertificateView, ActionTemplateView}
	contributor := append(slices.Clone(projectViewer), ProjectEdit, ProcessEdit, VariableEdit, TriggerEdit, RunbookEdit, StagingEdit)
	lead := append(slices.Clone(contributor), ReleaseCreate, ReleaseDelete, FeedPush, StagingDelete, StagingTemplateEdit)
	deployer := append(slices.Clone(lead), DeploymentCreate, TaskCancel, InterruptionSubmit, RunbookRun)
	envViewer := []Permission{EnvironmentView, MachineView, WorkerView, LifecycleView}
	envManager := append(slices.Clone(envViewer), EnvironmentCreate, EnvironmentEdit, EnvironmentDelete,
		MachineCreate, MachineEdit, MachineDelete, TrustEdit, WorkerEdit, LifecycleEdit)
	releaseManager := append(slices.Clone(projectViewer), ReleaseCreate, ReleaseDelete, DeploymentCreate, TaskCancel,
		InterruptionSubmit, RunbookRun, FreezeEdit, FeedPush)
	all := make([]Permission, 0, len(permissionTable))
	for _, p := range permissionTable {
		all = append(all, p.Name)
	}
	return []Role{
		{ID: RoleSystemAdministrator, Name: "System administrator", Permissions: all, BuiltIn: true,
			Description: "Everything, on every project and environment."},
		{ID: RoleProjectViewer, Name: "Project viewer", Permissions: projectViewer, BuiltIn: true,
			Description: "Sees projects, their processes, variables, releases and deployments; changes nothing."},
		{ID: RoleProjectContributor, Name: "Project contributor", Permissions: contributor, BuiltIn: true,
			Description: "A project viewer who also changes processes, variables, triggers and runbooks; does not create or deploy releases."},
		{ID: RoleProjectLead, Name: "Project lead", Permissions: lead, BuiltIn: true,
			Description: "A project contributor who also creates and deletes releases and pushes packages; does not deploy."},
		{ID: RoleProjectDeployer, Name: "Project deployer", Permissions: deployer, BuiltIn: true,
			Description: "A project lead who also deploys, runs runbooks, cancels tasks and answers manual interventions."},
		{ID: RoleEnvironmentViewer, Name: "Environment viewer", Permissions: envViewer, BuiltIn: true,
			Description: "Sees environments, their machines and workers."},
		{ID: RoleEnvironmentManager, Name: "Environment manager", Permissions: envManager, BuiltIn: true,
			Description: "Manages environments, machines, their trust and workers."},
		{ID: RoleReleaseManager, Name: "Release manager", Permissions: releaseManager, BuiltIn: true,
			Description: "Creates, deploys and approves releases and manages deployment freezes; does not change processes or variables."},
	}
}

// Team is a group of users holding roles, each role within a scope.
type Team struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	MemberIDs   []string    `json:"memberIds"`
	Roles       []RoleGrant `json:"roles"`
}

// RoleGrant gives a team a role, limited to some projects (or project
// groups) and environments; an empty list means all of them.
type RoleGrant struct {
	RoleID          string   `json:"roleId"`
	ProjectIDs      []string `json:"projectIds,omitempty"`
	ProjectGroupIDs []string `json:"projectGroupIds,omitempty"`
	EnvironmentIDs  []string `json:"environmentIds,omitempty"`
}

// Validate checks the fields a team controls.
func (t *Team) Validate() error {
	p := problems{subject: "team"}
	checkName(&p, "name", t.Name)
	for i, g := range t.Roles {
		if g.RoleID == "" {
			p.add("roles", "entry %d: roleId is required", i+1)
		}
	}
	t.MemberIDs = sortedUnique(t.MemberIDs)
	return p.err()
}

func sortedUnique(ids []string) []string {
	out := slices.Clone(ids)
	sort.Strings(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// Session is a browser's login: the cookie holds its token, the store a hash.
type Session struct {
	ID         string    `json:"id"`
	UserID     string    `json:"userId"`
	CSRFToken  string    `json:"-"`
	CreatedAt  time.Time `json:"createdAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	LastSeenAt time.Time `json:"lastSeenAt"`
	Address    string    `json:"address,omitempty"`
}

// AuditEvent is one record of the audit log: who did what to which thing,
// and how it looked before and after (with every secret blanked).
// Records are only ever added.
type AuditEvent struct {
	ID            string          `json:"id"`
	OccurredAt    time.Time       `json:"occurredAt"`
	ActorID       string          `json:"actorId,omitempty"`
	Actor         string          `json:"actor"`
	Address       string          `json:"address,omitempty"`
	Action        string          `json:"action"`
	ObjectType    string          `json:"objectType,omitempty"`
	ObjectID      string          `json:"objectId,omitempty"`
	ObjectName    string          `json:"objectName,omitempty"`
	ProjectID     string          `json:"projectId,omitempty"`
	EnvironmentID string          `json:"environmentId,omitempty"`
	Summary       string          `json:"summary"`
	Before        json.RawMessage `json:"before,omitempty"`
	After         json.RawMessage `json:"after,omitempty"`
}

// Audit actions.
const (
	AuditCreate       = "create"
	AuditUpdate       = "update"
	AuditDelete       = "delete"
	AuditDeploy       = "deploy"
	AuditLogin        = "login"
	AuditLoginFailed  = "login-failed"
	AuditLogout       = "logout"
	AuditAction       = "action"
	AuditTrustChanged = "trust-changed"
)

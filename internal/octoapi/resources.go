package octoapi

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// spacePath is where the space's collections live.
const spacePath = "/api/" + SpaceID

func selfLink(collection, id string) map[string]string {
	return map[string]string{"Self": spacePath + "/" + collection + "/" + id}
}

// Environments.

type environment struct {
	ID                         string            `json:"Id"`
	Name                       string            `json:"Name"`
	Slug                       string            `json:"Slug"`
	Description                string            `json:"Description"`
	SortOrder                  int               `json:"SortOrder"`
	UseGuidedFailure           bool              `json:"UseGuidedFailure"`
	AllowDynamicInfrastructure bool              `json:"AllowDynamicInfrastructure"`
	SpaceID                    string            `json:"SpaceId"`
	EnvironmentTags            []string          `json:"EnvironmentTags"`
	ExtensionSettings          []any             `json:"ExtensionSettings"`
	Links                      map[string]string `json:"Links"`
}

var environments = &collection[model.Environment, environment]{
	inner: "/environments", itemType: "Environment",
	convert: environmentOf,
	id:      func(o environment) string { return o.ID },
	name:    func(o environment) string { return o.Name },
	create:  createEnvironment,
}

func environmentOf(_ *call, e model.Environment) environment {
	return environment{ID: e.ID, Name: e.Name, Slug: slug(e.Name), Description: e.Description, SortOrder: e.SortOrder,
		UseGuidedFailure: e.UseGuidedFailure, SpaceID: SpaceID, EnvironmentTags: []string{}, ExtensionSettings: []any{},
		Links: selfLink("environments", e.ID)}
}

func createEnvironment(c *call) error {
	var in struct {
		Name             string
		Description      string
		SortOrder        int
		UseGuidedFailure bool
	}
	if err := c.decodeBody(&in); err != nil {
		return err
	}
	e := model.Environment{Name: in.Name, Description: in.Description, SortOrder: in.SortOrder, UseGuidedFailure: in.UseGuidedFailure}
	if err := c.sendJSON(http.MethodPost, "/environments", e, &e); err != nil {
		return err
	}
	return c.created(environmentOf(c, e))
}

// Lifecycles.

type lifecycle struct {
	ID          string            `json:"Id"`
	Name        string            `json:"Name"`
	Description string            `json:"Description"`
	SpaceID     string            `json:"SpaceId"`
	Phases      []phase           `json:"Phases"`
	Links       map[string]string `json:"Links"`
}

type phase struct {
	ID                                 string   `json:"Id"`
	Name                               string   `json:"Name"`
	AutomaticDeploymentTargets         []string `json:"AutomaticDeploymentTargets"`
	OptionalDeploymentTargets          []string `json:"OptionalDeploymentTargets"`
	MinimumEnvironmentsBeforePromotion int      `json:"MinimumEnvironmentsBeforePromotion"`
	IsOptionalPhase                    bool     `json:"IsOptionalPhase"`
}

var lifecycles = &collection[model.Lifecycle, lifecycle]{
	inner: "/lifecycles", itemType: "Lifecycle",
	convert: func(_ *call, l model.Lifecycle) lifecycle {
		out := lifecycle{ID: l.ID, Name: l.Name, Description: l.Description, SpaceID: SpaceID, Phases: []phase{},
			Links: selfLink("lifecycles", l.ID)}
		for i, p := range l.Phases {
			out.Phases = append(out.Phases, phase{ID: fmt.Sprintf("%s-phase-%d", l.ID, i+1), Name: p.Name,
				AutomaticDeploymentTargets: orEmpty(p.AutomaticEnvironments), OptionalDeploymentTargets: orEmpty(p.ManualEnvironments),
				MinimumEnvironmentsBeforePromotion: p.MinimumEnvironmentsBeforePromotion, IsOptionalPhase: p.Optional})
		}
		return out
	},
	id:   func(o lifecycle) string { return o.ID },
	name: func(o lifecycle) string { return o.Name },
}

// Project groups.

type projectGroup struct {
	ID             string            `json:"Id"`
	Name           string            `json:"Name"`
	Slug           string            `json:"Slug"`
	Description    string            `json:"Description"`
	EnvironmentIDs []string          `json:"EnvironmentIds"`
	SpaceID        string            `json:"SpaceId"`
	Links          map[string]string `json:"Links"`
}

var projectGroups = &collection[model.ProjectGroup, projectGroup]{
	inner: "/projectgroups", itemType: "ProjectGroup",
	convert: func(_ *call, g model.ProjectGroup) projectGroup {
		return projectGroup{ID: g.ID, Name: g.Name, Slug: slug(g.Name), Description: g.Description, EnvironmentIDs: []string{},
			SpaceID: SpaceID, Links: selfLink("projectgroups", g.ID)}
	},
	id:   func(o projectGroup) string { return o.ID },
	name: func(o projectGroup) string { return o.Name },
}

// Worker pools.

type workerPool struct {
	ID             string            `json:"Id"`
	Name           string            `json:"Name"`
	Slug           string            `json:"Slug"`
	Description    string            `json:"Description"`
	IsDefault      bool              `json:"IsDefault"`
	WorkerPoolType string            `json:"WorkerPoolType"`
	CanAddWorkers  bool              `json:"CanAddWorkers"`
	SortOrder      int               `json:"SortOrder"`
	SpaceID        string            `json:"SpaceId"`
	Links          map[string]string `json:"Links"`
}

var workerPools = &collection[model.WorkerPool, workerPool]{
	inner: "/workerpools", itemType: "WorkerPool",
	convert: func(_ *call, p model.WorkerPool) workerPool {
		// The client panics on a pool type it does not know: Pulpo's pools
		// are static, lists of registered workers.
		return workerPool{ID: p.ID, Name: p.Name, Slug: slug(p.Name), Description: p.Description, IsDefault: p.IsDefault,
			WorkerPoolType: "StaticWorkerPool", CanAddWorkers: true, SpaceID: SpaceID, Links: selfLink("workerpools", p.ID)}
	},
	id:   func(o workerPool) string { return o.ID },
	name: func(o workerPool) string { return o.Name },
}

// Machines: deployment targets and workers.

type endpoint struct {
	CommunicationStyle string `json:"CommunicationStyle"`
	URI                string `json:"Uri"`
	Thumbprint         string `json:"Thumbprint,omitempty"`
	// SSH endpoints.
	Host        string `json:"Host,omitempty"`
	Port        int    `json:"Port,omitempty"`
	Fingerprint string `json:"Fingerprint,omitempty"`
}

type machineFields struct {
	ID              string            `json:"Id"`
	Name            string            `json:"Name"`
	Endpoint        endpoint          `json:"Endpoint"`
	URI             string            `json:"Uri"`
	Thumbprint      string            `json:"Thumbprint,omitempty"`
	IsDisabled      bool              `json:"IsDisabled"`
	HealthStatus    string            `json:"HealthStatus"`
	Status          string            `json:"Status"`
	StatusSummary   string            `json:"StatusSummary"`
	MachinePolicyID string            `json:"MachinePolicyId"`
	IsInProcess     bool              `json:"IsInProcess"`
	HasLatest       bool              `json:"HasLatestCalamari"`
	SpaceID         string            `json:"SpaceId"`
	Links           map[string]string `json:"Links"`
}

// The client panics on null lists here, so every list is at least [].
type deploymentTarget struct {
	machineFields
	EnvironmentIDs     []string `json:"EnvironmentIds"`
	Roles              []string `json:"Roles"`
	TenantParticipates string   `json:"TenantedDeploymentParticipation"`
	TenantIDs          []string `json:"TenantIds"`
	TenantTags         []string `json:"TenantTags"`
}

type worker struct {
	machineFields
	WorkerPoolIDs []string `json:"WorkerPoolIds"`
}

func machineOf(m model.Machine, collection string) machineFields {
	out := machineFields{ID: m.ID, Name: m.Name, Thumbprint: m.Thumbprint, IsDisabled: m.Disabled,
		HealthStatus: healthStatus(m.Health.Status), StatusSummary: m.Health.Reason, MachinePolicyID: m.PolicyID,
		HasLatest: true, SpaceID: SpaceID, Links: selfLink(collection, m.ID)}
	switch m.Kind {
	case model.MachineListening:
		out.Endpoint = endpoint{CommunicationStyle: "TentaclePassive", URI: "https://" + m.Address + "/", Thumbprint: m.Thumbprint}
	case model.MachinePolling:
		// Octopus names a polling agent by a subscription URI; the
		// machine's id is Pulpo's equivalent.
		out.Endpoint = endpoint{CommunicationStyle: "TentacleActive", URI: "poll://" + strings.ToLower(m.ID) + "/", Thumbprint: m.Thumbprint}
	case model.MachineSSH:
		host, port := splitHostPort(m.Address)
		ep := endpoint{CommunicationStyle: "Ssh", URI: "ssh://" + m.Address + "/", Host: host, Port: port}
		if m.SSH != nil {
			ep.Fingerprint = m.SSH.HostKeyFingerprint
		}
		out.Endpoint = ep
	}
	out.URI = out.Endpoint.URI
	switch {
	case m.Disabled:
		out.Status = "Disabled"
	case m.Health.Status == model.HealthUnavailable:
		out.Status = "Offline"
	case m.Health.Status == model.HealthUnknown:
		out.Status = "Unknown"
	default:
		out.Status = "Online"
	}
	return out
}

func splitHostPort(addr string) (string, int) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 22
	}
	var port int
	fmt.Sscan(p, &port)
	return host, port
}

// healthStatus names a health status as Octopus does.
func healthStatus(s model.HealthStatus) string {
	switch s {
	case model.HealthWarning:
		return "HasWarnings"
	case "":
		return "Unknown"
	}
	return string(s)
}

// keepMachine applies the machine filters of Octopus's list requests.
func keepMachine(q url.Values, m machineFields, environmentIDs, roles, pools []string) bool {
	if n := q.Get("name"); n != "" && !strings.EqualFold(n, m.Name) {
		return false
	}
	if want := queryList(q, "deploymentTargetTypes"); len(want) > 0 && !containsFold(want, m.Endpoint.CommunicationStyle) {
		return false
	}
	if want := queryList(q, "commStyles"); len(want) > 0 && !containsFold(want, m.Endpoint.CommunicationStyle) {
		return false
	}
	if want := queryList(q, "healthStatuses"); len(want) > 0 && !containsFold(want, m.HealthStatus) {
		return false
	}
	if d := q.Get("isDisabled"); d != "" && strings.EqualFold(d, "true") != m.IsDisabled {
		return false
	}
	if t := q.Get("thumbprint"); t != "" && !strings.EqualFold(t, m.Thumbprint) {
		return false
	}
	for _, f := range []struct {
		param string
		have  []string
	}{{"environmentIds", environmentIDs}, {"roles", roles}, {"workerPoolIds", pools}} {
		want := queryList(q, f.param)
		if len(want) == 0 {
			continue
		}
		found := false
		for _, w := range want {
			found = found || containsFold(f.have, w)
		}
		if !found {
			return false
		}
	}
	return true
}

var targets = &collection[model.Machine, deploymentTarget]{
	inner: "/machines", itemType: "DeploymentTarget", innerQuery: url.Values{"usage": {string(model.UsageTarget)}},
	convert: func(_ *call, m model.Machine) deploymentTarget {
		return deploymentTarget{machineFields: machineOf(m, "machines"), EnvironmentIDs: orEmpty(m.EnvironmentIDs),
			Roles: orEmpty(m.Roles), TenantParticipates: "Untenanted", TenantIDs: []string{}, TenantTags: []string{}}
	},
	accept: func(m model.Machine) bool { return m.Usage == model.UsageTarget },
	id:     func(o deploymentTarget) string { return o.ID },
	name:   func(o deploymentTarget) string { return o.Name },
	keep: func(q url.Values, o deploymentTarget) bool {
		return keepMachine(q, o.machineFields, o.EnvironmentIDs, o.Roles, nil)
	},
}

var workers = &collection[model.Machine, worker]{
	inner: "/machines", itemType: "Worker", innerQuery: url.Values{"usage": {string(model.UsageWorker)}},
	convert: func(_ *call, m model.Machine) worker {
		return worker{machineFields: machineOf(m, "workers"), WorkerPoolIDs: orEmpty(m.WorkerPoolIDs)}
	},
	accept: func(m model.Machine) bool { return m.Usage == model.UsageWorker },
	id:     func(o worker) string { return o.ID },
	name:   func(o worker) string { return o.Name },
	keep: func(q url.Values, o worker) bool {
		return keepMachine(q, o.machineFields, nil, nil, o.WorkerPoolIDs)
	},
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

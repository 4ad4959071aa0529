package model

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// MachineKind is how the server reaches a machine.
type MachineKind string

// The ways to reach a machine.
const (
	// MachineListening is an agent that accepts the server's connections.
	MachineListening MachineKind = "listening"
	// MachinePolling is an agent that connects to the server and takes calls
	// over that connection.
	MachinePolling MachineKind = "polling"
	// MachineSSH is a machine without an agent, reached over SSH.
	MachineSSH MachineKind = "ssh"
)

// MachineUsage is what a machine is for.
type MachineUsage string

// The uses of a machine.
const (
	// UsageTarget machines belong to environments and run the steps aimed at
	// their roles.
	UsageTarget MachineUsage = "target"
	// UsageWorker machines sit in worker pools and run steps that are not
	// tied to a target.
	UsageWorker MachineUsage = "worker"
)

// HealthStatus is what the last health check found.
type HealthStatus string

// Health statuses, from best to worst.
const (
	HealthUnknown     HealthStatus = "Unknown"
	HealthHealthy     HealthStatus = "Healthy"
	HealthWarning     HealthStatus = "Warning"
	HealthUnhealthy   HealthStatus = "Unhealthy"
	HealthUnavailable HealthStatus = "Unavailable"
)

// Health is a machine's last health check.
type Health struct {
	Status    HealthStatus `json:"status"`
	Reason    string       `json:"reason,omitempty"`
	CheckedAt *time.Time   `json:"checkedAt,omitempty"`
	// UnavailableSince is when the machine was first found unreachable in
	// the current run of failed checks.
	UnavailableSince *time.Time `json:"unavailableSince,omitempty"`
}

// SSHEndpoint is how to log in to an SSH machine. The credential itself is
// in SSHCredentials, which the API accepts but never returns.
type SSHEndpoint struct {
	User string `json:"user"`
	// HostKeyFingerprint pins the machine's host key, as ssh-keygen -l
	// prints it ("SHA256:…").
	HostKeyFingerprint string `json:"hostKeyFingerprint"`
	// AuthMethod is "key" or "password"; it says which credential is set.
	AuthMethod string `json:"authMethod,omitempty"`
	// Home is the folder on the machine for Pulpo's binary, packages,
	// installations and workspaces: absolute, or relative to the login
	// folder (default .pulpo).
	Home string `json:"home,omitempty"`
}

// SSHCredentials are the secrets of an SSH machine: stored encrypted, sent
// to the server, never back.
type SSHCredentials struct {
	PrivateKey string `json:"privateKey,omitempty"`
	Password   string `json:"password,omitempty"`
}

// Machine is a deployment target or a worker.
type Machine struct {
	ID    string       `json:"id"`
	Name  string       `json:"name"`
	Kind  MachineKind  `json:"kind"`
	Usage MachineUsage `json:"usage"`
	// Address is host:port, for listening agents and SSH machines.
	Address string `json:"address,omitempty"`
	// Thumbprint pins an agent's certificate.
	Thumbprint string       `json:"thumbprint,omitempty"`
	SSH        *SSHEndpoint `json:"ssh,omitempty"`
	// Credentials is write-only: the API takes it and never returns it.
	Credentials *SSHCredentials `json:"credentials,omitempty"`

	EnvironmentIDs []string `json:"environmentIds,omitempty"`
	Roles          []string `json:"roles,omitempty"`
	WorkerPoolIDs  []string `json:"workerPoolIds,omitempty"`
	Disabled       bool     `json:"disabled,omitempty"`
	PolicyID       string   `json:"policyId"`
	Health         Health   `json:"health"`
}

// HasRole reports whether the machine has any of roles (ignoring case).
func (m *Machine) HasRole(roles []string) bool {
	for _, want := range roles {
		for _, r := range m.Roles {
			if strings.EqualFold(r, want) {
				return true
			}
		}
	}
	return false
}

// InEnvironment reports whether the machine belongs to the environment.
func (m *Machine) InEnvironment(envID string) bool {
	for _, e := range m.EnvironmentIDs {
		if e == envID {
			return true
		}
	}
	return false
}

// Validate checks a machine's own fields; references are checked by the store.
func (m *Machine) Validate() error {
	p := problems{subject: "machine"}
	checkName(&p, "name", m.Name)
	switch m.Kind {
	case MachineListening:
		checkAddress(&p, m.Address, "")
		checkThumbprint(&p, m.Thumbprint)
	case MachinePolling:
		checkThumbprint(&p, m.Thumbprint)
		if m.Address != "" {
			p.add("address", "a polling agent connects to the server, so it has no address; leave it out")
		}
	case MachineSSH:
		checkAddress(&p, m.Address, "22")
		if m.Thumbprint != "" {
			p.add("thumbprint", "an SSH machine is pinned by its host key fingerprint (ssh.hostKeyFingerprint), not a certificate thumbprint")
		}
		if m.SSH == nil {
			p.add("ssh", "is required for an SSH machine: user and hostKeyFingerprint")
			break
		}
		if m.SSH.User == "" {
			p.add("ssh.user", "is required")
		}
		if !strings.HasPrefix(m.SSH.HostKeyFingerprint, "SHA256:") {
			p.add("ssh.hostKeyFingerprint", "is required, as ssh-keygen -l prints it (SHA256:…); \"pulpo machine scan-ssh HOST\" shows it")
		}
		if strings.HasPrefix(m.SSH.Home, "~") {
			p.add("ssh.home", "%q starts with ~, which is not expanded: write it relative to the login folder (e.g. .pulpo) or absolute", m.SSH.Home)
		}
	case "":
		p.add("kind", "is required: listening, polling or ssh")
	default:
		p.add("kind", "%q is not a kind of machine: use listening, polling or ssh", m.Kind)
	}
	if m.Kind != MachineSSH && m.SSH != nil {
		p.add("ssh", "only SSH machines have SSH settings")
	}
	switch m.Usage {
	case UsageTarget:
		if len(m.EnvironmentIDs) == 0 {
			p.add("environmentIds", "a deployment target needs at least one environment")
		}
		if len(m.Roles) == 0 {
			p.add("roles", "a deployment target needs at least one role, such as web or db; steps choose targets by role")
		}
		if len(m.WorkerPoolIDs) > 0 {
			p.add("workerPoolIds", "a deployment target is not in worker pools; register the machine as a worker instead")
		}
	case UsageWorker:
		if len(m.WorkerPoolIDs) == 0 {
			p.add("workerPoolIds", "a worker needs at least one worker pool")
		}
		if len(m.EnvironmentIDs) > 0 || len(m.Roles) > 0 {
			p.add("environmentIds", "a worker serves every environment and has no roles; leave them out")
		}
	default:
		p.add("usage", "%q is not a use of a machine: use target or worker", m.Usage)
	}
	for i, r := range m.Roles {
		if strings.TrimSpace(r) == "" || strings.ContainsAny(r, ", \t\n") {
			p.add(fmt.Sprintf("roles[%d]", i), "%q is not a role name: use letters, digits and dashes, no spaces or commas", r)
		}
	}
	return p.err()
}

func checkAddress(p *problems, addr, defaultPort string) {
	if addr == "" {
		p.add("address", "is required (host:port)")
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil && defaultPort != "" {
		host, port, err = addr, defaultPort, nil
	}
	if err != nil || host == "" {
		p.add("address", "%q is not host:port", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		p.add("address", "port %q must be a number from 1 to 65535", port)
	}
}

func checkThumbprint(p *problems, tp string) {
	if len(tp) != 64 || strings.ToUpper(tp) != tp || strings.Trim(tp, "0123456789ABCDEF") != "" {
		p.add("thumbprint", "must be the agent certificate's SHA-256 thumbprint: 64 upper-case hex digits (\"pulpo agent show-thumbprint\" prints it)")
	}
}

// UnavailableAction is what a deployment does with a machine it cannot reach.
type UnavailableAction string

// What to do with unavailable machines.
const (
	UnavailableFail UnavailableAction = "fail"
	UnavailableSkip UnavailableAction = "skip"
)

// DefaultMachinePolicyName names the policy every server starts with.
const DefaultMachinePolicyName = "Default Machine Policy"

// MachinePolicy groups the health and availability rules of machines.
type MachinePolicy struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// HealthCheckInterval is how often machines are checked; 0 turns
	// scheduled checks off.
	HealthCheckInterval Duration `json:"healthCheckInterval"`
	// HealthCheckScript is a bash script run on the machine; exit 0 is
	// Healthy, any other code Unhealthy, and a line "##pulpo[warning] …"
	// makes it Warning. Empty means reachability alone decides.
	HealthCheckScript string `json:"healthCheckScript,omitempty"`
	// WhenUnavailable is what deployments do with machines found unreachable.
	WhenUnavailable UnavailableAction `json:"whenUnavailable"`
	// DeleteUnavailableAfter removes machines that have been unavailable
	// this long; 0 keeps them.
	DeleteUnavailableAfter Duration `json:"deleteUnavailableAfter,omitempty"`
}

// Validate checks the policy's fields.
func (mp *MachinePolicy) Validate() error {
	p := problems{subject: "machine policy"}
	checkName(&p, "name", mp.Name)
	if mp.HealthCheckInterval.D < 0 || (mp.HealthCheckInterval.D > 0 && mp.HealthCheckInterval.D < 10*time.Second) {
		p.add("healthCheckInterval", "must be 0 (no scheduled checks) or at least 10s")
	}
	switch mp.WhenUnavailable {
	case UnavailableFail, UnavailableSkip:
	default:
		p.add("whenUnavailable", "%q is not an action: use fail or skip", mp.WhenUnavailable)
	}
	if mp.DeleteUnavailableAfter.D < 0 {
		p.add("deleteUnavailableAfter", "must not be negative")
	}
	if len(mp.HealthCheckScript) > MaxScriptLength {
		p.add("healthCheckScript", "is %d bytes; the limit is %d", len(mp.HealthCheckScript), MaxScriptLength)
	}
	return p.err()
}

// DefaultWorkerPoolName names the pool every server starts with. While it
// has no workers, its steps run on the server's built-in worker.
const DefaultWorkerPoolName = "Default Worker Pool"

// WorkerPool is a set of workers a step can run on.
type WorkerPool struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// IsDefault marks the pool of steps that name none. Setting it on a
	// pool moves the default there; there is always exactly one.
	IsDefault bool `json:"isDefault,omitempty"`
}

// Validate checks the pool's fields.
func (wp *WorkerPool) Validate() error {
	p := problems{subject: "worker pool"}
	checkName(&p, "name", wp.Name)
	return p.err()
}

// Duration is a time.Duration written as text in JSON ("30s", "2h").
type Duration struct{ D time.Duration }

// MarshalJSON writes the duration as Go duration text.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(d.D.String())), nil }

// UnmarshalJSON reads "90s", "1h30m" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := string(b)
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		d.D = time.Duration(n * float64(time.Second))
		return nil
	}
	uq, err := strconv.Unquote(s)
	if err != nil {
		return fmt.Errorf("a duration is text such as \"30s\" or \"2h\", or a number of seconds")
	}
	if uq == "" {
		d.D = 0
		return nil
	}
	v, err := time.ParseDuration(uq)
	if err != nil {
		return fmt.Errorf("%q is not a duration: use text such as \"30s\", \"15m\" or \"2h\"", uq)
	}
	d.D = v
	return nil
}

// MarshalYAML writes a duration as text ("1h30m0s"), as in JSON.
func (d Duration) MarshalYAML() (any, error) { return d.D.String(), nil }

// UnmarshalYAML reads a duration as JSON does: text, or a number of
// seconds. (yaml.v3 still honours this form of the interface, which keeps
// the model free of the YAML package.)
func (d *Duration) UnmarshalYAML(unmarshal func(any) error) error {
	var v any
	if err := unmarshal(&v); err != nil {
		return err
	}
	switch x := v.(type) {
	case int:
		d.D = time.Duration(x) * time.Second
		return nil
	case float64:
		d.D = time.Duration(x * float64(time.Second))
		return nil
	case string:
		return d.UnmarshalJSON([]byte(strconv.Quote(x)))
	case nil:
		d.D = 0
		return nil
	}
	return fmt.Errorf("%v is not a duration: use text such as \"30s\", \"15m\" or \"2h\"", v)
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

const machineColumns = `id, name, kind, usage, address, thumbprint, ssh, environments, roles, worker_pools,
	disabled, policy_id, health_status, health_reason, health_checked_at, unavailable_since`

func scanMachine(s scanner) (model.Machine, error) {
	var m model.Machine
	var ssh, envs, roles, pools string
	var checked, unavailable sql.NullInt64
	err := s.Scan(&m.ID, &m.Name, &m.Kind, &m.Usage, &m.Address, &m.Thumbprint, &ssh, &envs, &roles, &pools,
		&m.Disabled, &m.PolicyID, &m.Health.Status, &m.Health.Reason, &checked, &unavailable)
	if err != nil {
		return m, err
	}
	m.Health.CheckedAt, m.Health.UnavailableSince = fromNullMicros(checked), fromNullMicros(unavailable)
	if ssh != "" {
		m.SSH = &model.SSHEndpoint{}
		if err := unmarshal(ssh, m.SSH); err != nil {
			return m, fmt.Errorf("read machine %s: %w", m.ID, err)
		}
	}
	for _, part := range []struct {
		text string
		into *[]string
	}{{envs, &m.EnvironmentIDs}, {roles, &m.Roles}, {pools, &m.WorkerPoolIDs}} {
		if err := unmarshal(part.text, part.into); err != nil {
			return m, fmt.Errorf("read machine %s: %w", m.ID, err)
		}
	}
	return m, nil
}

// checkMachineRefs reports environments, pools and a policy that do not exist.
func (q *Queries) checkMachineRefs(ctx context.Context, m *model.Machine) error {
	var problems []string
	envs, err := q.EnvironmentNames(ctx)
	if err != nil {
		return err
	}
	for _, id := range m.EnvironmentIDs {
		if _, ok := envs[id]; !ok {
			problems = append(problems, fmt.Sprintf("environmentIds: environment %q does not exist", id))
		}
	}
	for _, id := range m.WorkerPoolIDs {
		if _, err := q.GetWorkerPool(ctx, id); errors.Is(err, ErrNotFound) {
			problems = append(problems, fmt.Sprintf("workerPoolIds: worker pool %q does not exist", id))
		} else if err != nil {
			return err
		}
	}
	if _, err := q.GetMachinePolicy(ctx, m.PolicyID); errors.Is(err, ErrNotFound) {
		problems = append(problems, fmt.Sprintf("policyId: machine policy %q does not exist", m.PolicyID))
	} else if err != nil {
		return err
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: "machine", Problems: problems}
	}
	if m.Thumbprint != "" {
		var other string
		err := q.queryRow(ctx, `SELECT name FROM machines WHERE thumbprint = ? AND id <> ?`, m.Thumbprint, m.ID).Scan(&other)
		if err == nil {
			return conflict("machine %q already has the certificate thumbprint %s; one agent is one machine", other, m.Thumbprint)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("check thumbprint: %w", err)
		}
	}
	return nil
}

func machineRow(m *model.Machine) (ssh, envs, roles, pools string, err error) {
	if m.SSH != nil {
		if ssh, err = marshal(m.SSH); err != nil {
			return
		}
	}
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	if envs, err = marshal(nonNil(m.EnvironmentIDs)); err != nil {
		return
	}
	if roles, err = marshal(nonNil(m.Roles)); err != nil {
		return
	}
	pools, err = marshal(nonNil(m.WorkerPoolIDs))
	return
}

// CreateMachine validates and stores a machine. sealedCredentials holds its
// SSH credentials already sealed (or is empty); the store never sees them
// in the clear.
func (q *Queries) CreateMachine(ctx context.Context, m *model.Machine, sealedCredentials string) error {
	if m.PolicyID == "" {
		p, err := q.FindMachinePolicy(ctx, model.DefaultMachinePolicyName)
		if err != nil {
			return fmt.Errorf("find default machine policy: %w", err)
		}
		m.PolicyID = p.ID
	}
	if err := m.Validate(); err != nil {
		return err
	}
	if err := q.checkMachineRefs(ctx, m); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "machines", "machine", m.Name, ""); err != nil {
		return err
	}
	id, _, err := q.nextID(ctx, "Machines")
	if err != nil {
		return err
	}
	m.ID = id
	m.Health = model.Health{Status: model.HealthUnknown}
	ssh, envs, roles, pools, err := machineRow(m)
	if err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO machines (id, name, name_key, kind, usage, address, thumbprint, ssh, credentials,
		environments, roles, worker_pools, disabled, policy_id, health_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.Name, model.NameKey(m.Name), m.Kind, m.Usage, m.Address, m.Thumbprint, ssh, sealedCredentials,
		envs, roles, pools, m.Disabled, m.PolicyID, m.Health.Status)
	if err != nil {
		return fmt.Errorf("create machine: %w", translate(q.d, err))
	}
	return nil
}

// GetMachine reads one machine by id.
func (q *Queries) GetMachine(ctx context.Context, id string) (model.Machine, error) {
	m, err := scanMachine(q.queryRow(ctx, `SELECT `+machineColumns+` FROM machines WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, notFound("machine", id)
	}
	return m, err
}

// FindMachine reads one machine by id or name.
func (q *Queries) FindMachine(ctx context.Context, idOrName string) (model.Machine, error) {
	m, err := scanMachine(q.queryRow(ctx, `SELECT `+machineColumns+` FROM machines WHERE id = ? OR name_key = ?`,
		idOrName, model.NameKey(idOrName)))
	if errors.Is(err, sql.ErrNoRows) {
		return m, notFound("machine", idOrName)
	}
	return m, err
}

// MachineByThumbprint finds the agent with a certificate thumbprint.
func (q *Queries) MachineByThumbprint(ctx context.Context, thumbprint string) (model.Machine, error) {
	m, err := scanMachine(q.queryRow(ctx, `SELECT `+machineColumns+` FROM machines WHERE thumbprint = ?`, thumbprint))
	if errors.Is(err, sql.ErrNoRows) {
		return m, notFound("machine with thumbprint", thumbprint)
	}
	return m, err
}

// MachineCredentials returns a machine's sealed SSH credentials.
func (q *Queries) MachineCredentials(ctx context.Context, id string) (string, error) {
	var sealed string
	err := q.queryRow(ctx, `SELECT credentials FROM machines WHERE id = ?`, id).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("machine", id)
	}
	return sealed, err
}

// MachineFilter narrows a machine list.
type MachineFilter struct {
	ListOptions
	Usage         model.MachineUsage
	EnvironmentID string
	// Roles keeps machines with any of them.
	Roles        []string
	WorkerPoolID string
	Thumbprint   string
}

// ListMachines returns a page of machines by name, and the total.
// Environment, role and pool membership are JSON lists, so those filters
// apply after reading; a server has thousands of machines, not millions.
func (q *Queries) ListMachines(ctx context.Context, f MachineFilter) ([]model.Machine, int, error) {
	where, args := f.nameFilter(nil, nil, "name_key")
	if f.Usage != "" {
		where, args = append(where, "usage = ?"), append(args, f.Usage)
	}
	if f.Thumbprint != "" {
		where, args = append(where, "thumbprint = ?"), append(args, f.Thumbprint)
	}
	rows, err := q.query(ctx, `SELECT `+machineColumns+` FROM machines`+whereClause(where)+` ORDER BY name_key`, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list machines: %w", err)
	}
	all, err := collect(rows, scanMachine)
	if err != nil {
		return nil, 0, fmt.Errorf("list machines: %w", err)
	}
	var out []model.Machine
	for _, m := range all {
		if f.EnvironmentID != "" && !m.InEnvironment(f.EnvironmentID) {
			continue
		}
		if len(f.Roles) > 0 && !m.HasRole(f.Roles) {
			continue
		}
		if f.WorkerPoolID != "" && !slices.Contains(m.WorkerPoolIDs, f.WorkerPoolID) {
			continue
		}
		out = append(out, m)
	}
	total := len(out)
	skip := min(max(f.Skip, 0), total)
	out = out[skip:]
	if f.Take > 0 && len(out) > f.Take {
		out = out[:f.Take]
	}
	return out, total, nil
}

// UpdateMachine replaces a machine's settings (not its health). With
// sealedCredentials nil the stored credentials stay.
func (q *Queries) UpdateMachine(ctx context.Context, m *model.Machine, sealedCredentials *string) error {
	old, err := q.GetMachine(ctx, m.ID)
	if err != nil {
		return err
	}
	if m.PolicyID == "" {
		m.PolicyID = old.PolicyID
	}
	if err := m.Validate(); err != nil {
		return err
	}
	if err := q.checkMachineRefs(ctx, m); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "machines", "machine", m.Name, m.ID); err != nil {
		return err
	}
	ssh, envs, roles, pools, err := machineRow(m)
	if err != nil {
		return err
	}
	m.Health = old.Health
	_, err = q.exec(ctx, `UPDATE machines SET name = ?, name_key = ?, kind = ?, usage = ?, address = ?, thumbprint = ?, ssh = ?,
		environments = ?, roles = ?, worker_pools = ?, disabled = ?, policy_id = ? WHERE id = ?`,
		m.Name, model.NameKey(m.Name), m.Kind, m.Usage, m.Address, m.Thumbprint, ssh, envs, roles, pools, m.Disabled, m.PolicyID, m.ID)
	if err != nil {
		return fmt.Errorf("update machine: %w", translate(q.d, err))
	}
	if sealedCredentials != nil {
		if _, err := q.exec(ctx, `UPDATE machines SET credentials = ? WHERE id = ?`, *sealedCredentials, m.ID); err != nil {
			return fmt.Errorf("update machine: %w", err)
		}
	}
	return nil
}

// SetMachineHealth records a health check. UnavailableSince starts with the
// first Unavailable result and clears with any other.
func (q *Queries) SetMachineHealth(ctx context.Context, id string, status model.HealthStatus, reason string, at time.Time) (model.Machine, error) {
	m, err := q.GetMachine(ctx, id)
	if err != nil {
		return m, err
	}
	since := m.Health.UnavailableSince
	switch {
	case status != model.HealthUnavailable:
		since = nil
	case since == nil:
		since = &at
	}
	m.Health = model.Health{Status: status, Reason: reason, CheckedAt: &at, UnavailableSince: since}
	_, err = q.exec(ctx, `UPDATE machines SET health_status = ?, health_reason = ?, health_checked_at = ?, unavailable_since = ? WHERE id = ?`,
		status, reason, toMicros(at), nullMicros(since), id)
	if err != nil {
		return m, fmt.Errorf("record health of %s: %w", id, err)
	}
	return m, nil
}

// DeleteMachine removes a machine. Task history keeps its name.
func (q *Queries) DeleteMachine(ctx context.Context, id string) error {
	res, err := q.exec(ctx, `DELETE FROM machines WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete machine: %w", err)
	}
	return mustAffect(res, "machine", id)
}

const policyColumns = `id, name, description, health_check_interval_us, health_check_script, when_unavailable, delete_unavailable_after_us`

func scanPolicy(s scanner) (model.MachinePolicy, error) {
	var p model.MachinePolicy
	var interval, deleteAfter int64
	err := s.Scan(&p.ID, &p.Name, &p.Description, &interval, &p.HealthCheckScript, &p.WhenUnavailable, &deleteAfter)
	p.HealthCheckInterval.D, p.DeleteUnavailableAfter.D = time.Duration(interval)*time.Microsecond, time.Duration(deleteAfter)*time.Microsecond
	return p, err
}

// CreateMachinePolicy validates and stores a policy.
func (q *Queries) CreateMachinePolicy(ctx context.Context, p *model.MachinePolicy) error {
	if p.WhenUnavailable == "" {
		p.WhenUnavailable = model.UnavailableFail
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "machine_policies", "machine policy", p.Name, ""); err != nil {
		return err
	}
	id, _, err := q.nextID(ctx, "MachinePolicies")
	if err != nil {
		return err
	}
	p.ID = id
	_, err = q.exec(ctx, `INSERT INTO machine_policies (id, name, name_key, description, health_check_interval_us, health_check_script,
		when_unavailable, delete_unavailable_after_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Name, model.NameKey(p.Name), p.Description, p.HealthCheckInterval.D.Microseconds(), p.HealthCheckScript,
		p.WhenUnavailable, p.DeleteUnavailableAfter.D.Microseconds())
	if err != nil {
		return fmt.Errorf("create machine policy: %w", err)
	}
	return nil
}

// GetMachinePolicy reads one policy by id.
func (q *Queries) GetMachinePolicy(ctx context.Context, id string) (model.MachinePolicy, error) {
	p, err := scanPolicy(q.queryRow(ctx, `SELECT `+policyColumns+` FROM machine_policies WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("machine policy", id)
	}
	return p, err
}

// FindMachinePolicy reads one policy by id or name.
func (q *Queries) FindMachinePolicy(ctx context.Context, idOrName string) (model.MachinePolicy, error) {
	p, err := scanPolicy(q.queryRow(ctx, `SELECT `+policyColumns+` FROM machine_policies WHERE id = ? OR name_key = ?`,
		idOrName, model.NameKey(idOrName)))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("machine policy", idOrName)
	}
	return p, err
}

// ListMachinePolicies returns a page of policies and the total.
func (q *Queries) ListMachinePolicies(ctx context.Context, opts ListOptions) ([]model.MachinePolicy, int, error) {
	where, args := opts.nameFilter(nil, nil, "name_key")
	total, err := q.count(ctx, `SELECT COUNT(*) FROM machine_policies`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list machine policies: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+policyColumns+` FROM machine_policies`+whereClause(where)+` ORDER BY name_key`+opts.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list machine policies: %w", err)
	}
	out, err := collect(rows, scanPolicy)
	return out, total, err
}

// UpdateMachinePolicy replaces a policy's fields.
func (q *Queries) UpdateMachinePolicy(ctx context.Context, p *model.MachinePolicy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "machine_policies", "machine policy", p.Name, p.ID); err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE machine_policies SET name = ?, name_key = ?, description = ?, health_check_interval_us = ?,
		health_check_script = ?, when_unavailable = ?, delete_unavailable_after_us = ? WHERE id = ?`,
		p.Name, model.NameKey(p.Name), p.Description, p.HealthCheckInterval.D.Microseconds(), p.HealthCheckScript,
		p.WhenUnavailable, p.DeleteUnavailableAfter.D.Microseconds(), p.ID)
	if err != nil {
		return fmt.Errorf("update machine policy: %w", err)
	}
	return mustAffect(res, "machine policy", p.ID)
}

// DeleteMachinePolicy removes a policy no machine follows.
func (q *Queries) DeleteMachinePolicy(ctx context.Context, id string) error {
	p, err := q.GetMachinePolicy(ctx, id)
	if err != nil {
		return err
	}
	if p.Name == model.DefaultMachinePolicyName {
		return conflict("the default machine policy cannot be deleted")
	}
	n, err := q.count(ctx, `SELECT COUNT(*) FROM machines WHERE policy_id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete machine policy: %w", err)
	}
	if n > 0 {
		return conflict("machine policy %q is used by %d machines; move them to another policy first", p.Name, n)
	}
	_, err = q.exec(ctx, `DELETE FROM machine_policies WHERE id = ?`, id)
	return err
}

const poolColumns = `id, name, description, is_default`

func scanPool(s scanner) (model.WorkerPool, error) {
	var p model.WorkerPool
	err := s.Scan(&p.ID, &p.Name, &p.Description, &p.IsDefault)
	return p, err
}

// CreateWorkerPool validates and stores a pool.
func (q *Queries) CreateWorkerPool(ctx context.Context, p *model.WorkerPool) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "worker_pools", "worker pool", p.Name, ""); err != nil {
		return err
	}
	id, _, err := q.nextID(ctx, "WorkerPools")
	if err != nil {
		return err
	}
	p.ID = id
	_, err = q.exec(ctx, `INSERT INTO worker_pools (id, name, name_key, description, is_default) VALUES (?, ?, ?, ?, ?)`,
		p.ID, p.Name, model.NameKey(p.Name), p.Description, false)
	if err != nil {
		return fmt.Errorf("create worker pool: %w", err)
	}
	if p.IsDefault {
		return q.makeDefaultPool(ctx, p.ID)
	}
	return nil
}

// makeDefaultPool moves the default to the pool: there is always exactly one.
func (q *Queries) makeDefaultPool(ctx context.Context, id string) error {
	if _, err := q.exec(ctx, `UPDATE worker_pools SET is_default = ? WHERE id <> ?`, false, id); err != nil {
		return fmt.Errorf("make worker pool %s the default: %w", id, err)
	}
	if _, err := q.exec(ctx, `UPDATE worker_pools SET is_default = ? WHERE id = ?`, true, id); err != nil {
		return fmt.Errorf("make worker pool %s the default: %w", id, err)
	}
	return nil
}

// GetWorkerPool reads one pool by id.
func (q *Queries) GetWorkerPool(ctx context.Context, id string) (model.WorkerPool, error) {
	p, err := scanPool(q.queryRow(ctx, `SELECT `+poolColumns+` FROM worker_pools WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("worker pool", id)
	}
	return p, err
}

// FindWorkerPool reads one pool by id or name.
func (q *Queries) FindWorkerPool(ctx context.Context, idOrName string) (model.WorkerPool, error) {
	p, err := scanPool(q.queryRow(ctx, `SELECT `+poolColumns+` FROM worker_pools WHERE id = ? OR name_key = ?`,
		idOrName, model.NameKey(idOrName)))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("worker pool", idOrName)
	}
	return p, err
}

// DefaultWorkerPool reads the pool steps use when they name none.
func (q *Queries) DefaultWorkerPool(ctx context.Context) (model.WorkerPool, error) {
	p, err := scanPool(q.queryRow(ctx, `SELECT `+poolColumns+` FROM worker_pools WHERE is_default`))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("worker pool", "default")
	}
	return p, err
}

// ListWorkerPools returns a page of pools and the total.
func (q *Queries) ListWorkerPools(ctx context.Context, opts ListOptions) ([]model.WorkerPool, int, error) {
	where, args := opts.nameFilter(nil, nil, "name_key")
	total, err := q.count(ctx, `SELECT COUNT(*) FROM worker_pools`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list worker pools: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+poolColumns+` FROM worker_pools`+whereClause(where)+` ORDER BY name_key`+opts.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list worker pools: %w", err)
	}
	out, err := collect(rows, scanPool)
	return out, total, err
}

// UpdateWorkerPool replaces a pool's name and description. IsDefault set
// makes it the default pool instead of the one before; unset, it changes
// nothing (there is always a default: make another pool the default).
func (q *Queries) UpdateWorkerPool(ctx context.Context, p *model.WorkerPool) error {
	if err := p.Validate(); err != nil {
		return err
	}
	old, err := q.GetWorkerPool(ctx, p.ID)
	if err != nil {
		return err
	}
	makeDefault := p.IsDefault && !old.IsDefault
	p.IsDefault = old.IsDefault || p.IsDefault
	if err := q.checkNameFree(ctx, "worker_pools", "worker pool", p.Name, p.ID); err != nil {
		return err
	}
	_, err = q.exec(ctx, `UPDATE worker_pools SET name = ?, name_key = ?, description = ? WHERE id = ?`,
		p.Name, model.NameKey(p.Name), p.Description, p.ID)
	if err != nil || !makeDefault {
		return err
	}
	return q.makeDefaultPool(ctx, p.ID)
}

// DeleteWorkerPool removes an empty pool other than the default.
func (q *Queries) DeleteWorkerPool(ctx context.Context, id string) error {
	p, err := q.GetWorkerPool(ctx, id)
	if err != nil {
		return err
	}
	if p.IsDefault {
		return conflict("the default worker pool cannot be deleted")
	}
	workers, _, err := q.ListMachines(ctx, MachineFilter{WorkerPoolID: id})
	if err != nil {
		return err
	}
	if len(workers) > 0 {
		return conflict("worker pool %q has %d workers; move them first", p.Name, len(workers))
	}
	_, err = q.exec(ctx, `DELETE FROM worker_pools WHERE id = ?`, id)
	return err
}

// GetSetting reads a server setting.
func (q *Queries) GetSetting(ctx context.Context, name string) (string, error) {
	var v string
	err := q.queryRow(ctx, `SELECT value FROM server_settings WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("setting", name)
	}
	return v, err
}

// InitSetting stores a setting unless it is already set, and returns the
// value that stands: the first node to start decides.
func (q *Queries) InitSetting(ctx context.Context, name, value string) (string, error) {
	if _, err := q.exec(ctx, `INSERT INTO server_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return "", fmt.Errorf("store setting %s: %w", name, err)
	}
	return q.GetSetting(ctx, name)
}

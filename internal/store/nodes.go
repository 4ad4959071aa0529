package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// Heartbeat records that a node is alive and how many tasks it runs, and
// returns whether it was asked to drain.
func (q *Queries) Heartbeat(ctx context.Context, name string, running int) (draining bool, err error) {
	err = q.queryRow(ctx, `UPDATE nodes SET last_seen_at = ?, running = ? WHERE name = ? RETURNING draining`,
		toMicros(q.now()), running, name).Scan(&draining)
	if errors.Is(err, sql.ErrNoRows) {
		return false, notFound("node", name)
	}
	if err != nil {
		return false, fmt.Errorf("heartbeat of node %s: %w", name, err)
	}
	return draining, nil
}

// StartNode records a node's start (its start time; draining is kept, so
// a node drained for maintenance stays drained across its restart).
func (q *Queries) StartNode(ctx context.Context, n model.Node) error {
	now := toMicros(q.now())
	_, err := q.exec(ctx, `INSERT INTO nodes (name, version, started_at, last_seen_at, slots, api_url, polling_address)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET version = excluded.version, started_at = excluded.started_at, last_seen_at = excluded.last_seen_at,
			slots = excluded.slots, running = 0, api_url = excluded.api_url, polling_address = excluded.polling_address`,
		n.Name, n.Version, now, now, n.Slots, n.APIURL, n.PollingAddress)
	if err != nil {
		return fmt.Errorf("record start of node %s: %w", n.Name, err)
	}
	return nil
}

// ListNodes returns every node that ever beat, with the tasks each holds
// now; alive means a beat within aliveWithin.
func (q *Queries) ListNodes(ctx context.Context, aliveWithin time.Duration) ([]model.Node, error) {
	rows, err := q.query(ctx, `SELECT name, version, started_at, last_seen_at, slots, running, draining, api_url, polling_address FROM nodes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	now := q.now()
	nodes, err := collect(rows, func(s scanner) (model.Node, error) {
		var n model.Node
		var started, seen int64
		err := s.Scan(&n.Name, &n.Version, &started, &seen, &n.Slots, &n.Running, &n.Draining, &n.APIURL, &n.PollingAddress)
		n.StartedAt, n.LastSeenAt = fromMicros(started), fromMicros(seen)
		n.Alive = now.Sub(n.LastSeenAt) <= aliveWithin
		n.Tasks = []string{}
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	rows, err = q.query(ctx, `SELECT lease_owner, id FROM tasks WHERE state IN (?, ?) AND lease_expires_at >= ? ORDER BY seq`,
		model.TaskExecuting, model.TaskCanceling, toMicros(now))
	if err != nil {
		return nil, fmt.Errorf("list nodes' tasks: %w", err)
	}
	held := map[string][]string{}
	if _, err := collect(rows, func(s scanner) (struct{}, error) {
		var owner, id string
		err := s.Scan(&owner, &id)
		held[owner] = append(held[owner], id)
		return struct{}{}, err
	}); err != nil {
		return nil, fmt.Errorf("list nodes' tasks: %w", err)
	}
	for i := range nodes {
		if t := held[nodes[i].Name]; t != nil {
			nodes[i].Tasks = t
		}
	}
	return nodes, nil
}

// SetDraining asks a node to stop taking tasks (or to take them again).
func (q *Queries) SetDraining(ctx context.Context, name string, draining bool) (model.Node, error) {
	res, err := q.exec(ctx, `UPDATE nodes SET draining = ? WHERE name = ?`, draining, name)
	if err != nil {
		return model.Node{}, fmt.Errorf("drain node %s: %w", name, err)
	}
	if err := mustAffect(res, "node", name); err != nil {
		return model.Node{}, err
	}
	nodes, err := q.ListNodes(ctx, time.Hour)
	if err != nil {
		return model.Node{}, err
	}
	for _, n := range nodes {
		if n.Name == name {
			return n, nil
		}
	}
	return model.Node{}, notFound("node", name)
}

// IsDraining says whether a node was asked to drain.
func (q *Queries) IsDraining(ctx context.Context, name string) (bool, error) {
	var draining bool
	err := q.queryRow(ctx, `SELECT draining FROM nodes WHERE name = ?`, name).Scan(&draining)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // a node not yet recorded is not draining
	}
	return draining, err
}

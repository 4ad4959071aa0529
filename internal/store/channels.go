package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

type channelDoc struct {
	Description string              `json:"description,omitempty"`
	Rules       []model.ChannelRule `json:"rules,omitempty"`
}

const channelColumns = `id, project_id, name, is_default, lifecycle_id, doc`

func scanChannel(s scanner) (model.Channel, error) {
	var c model.Channel
	var doc string
	if err := s.Scan(&c.ID, &c.ProjectID, &c.Name, &c.IsDefault, &c.LifecycleID, &doc); err != nil {
		return c, err
	}
	var d channelDoc
	if err := unmarshal(doc, &d); err != nil {
		return c, fmt.Errorf("read channel %s: %w", c.ID, err)
	}
	c.Description, c.Rules = d.Description, d.Rules
	return c, nil
}

func (q *Queries) checkChannel(ctx context.Context, c *model.Channel) (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	var problems []string
	if _, err := q.GetProject(ctx, c.ProjectID); errors.Is(err, ErrNotFound) {
		problems = append(problems, fmt.Sprintf("projectId: project %q does not exist", c.ProjectID))
	} else if err != nil {
		return "", err
	}
	if c.LifecycleID != "" {
		if _, err := q.GetLifecycle(ctx, c.LifecycleID); errors.Is(err, ErrNotFound) {
			problems = append(problems, fmt.Sprintf("lifecycleId: lifecycle %q does not exist", c.LifecycleID))
		} else if err != nil {
			return "", err
		}
	}
	if len(problems) > 0 {
		return "", &model.ValidationError{Subject: "channel", Problems: problems}
	}
	return marshal(channelDoc{Description: c.Description, Rules: c.Rules})
}

// CreateChannel stores a project's channel; the first is the default, and
// a new default takes over from the old one.
func (q *Queries) CreateChannel(ctx context.Context, c *model.Channel) error {
	doc, err := q.checkChannel(ctx, c)
	if err != nil {
		return err
	}
	existing, err := q.ListChannels(ctx, c.ProjectID)
	if err != nil {
		return err
	}
	for _, e := range existing {
		if model.SameName(e.Name, c.Name) {
			return conflict("the project already has a channel called %q (%s); choose another name", c.Name, e.ID)
		}
	}
	if len(existing) == 0 {
		c.IsDefault = true
	}
	if c.IsDefault {
		if _, err := q.exec(ctx, `UPDATE channels SET is_default = ? WHERE project_id = ?`, false, c.ProjectID); err != nil {
			return err
		}
	}
	if c.ID, _, err = q.nextID(ctx, "Channels"); err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO channels (id, project_id, name, name_key, is_default, lifecycle_id, doc) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.ProjectID, c.Name, model.NameKey(c.Name), c.IsDefault, c.LifecycleID, doc)
	if err != nil {
		return fmt.Errorf("create channel: %w", err)
	}
	return nil
}

// GetChannel reads one channel.
func (q *Queries) GetChannel(ctx context.Context, id string) (model.Channel, error) {
	c, err := scanChannel(q.queryRow(ctx, `SELECT `+channelColumns+` FROM channels WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, notFound("channel", id)
	}
	return c, err
}

// ReleaseLifecycle returns the lifecycle a release follows: its channel's
// when the channel names one, else its project's.
func (q *Queries) ReleaseLifecycle(ctx context.Context, p model.Project, r model.Release) (model.Lifecycle, error) {
	id := p.LifecycleID
	if r.ChannelID != "" {
		ch, err := q.GetChannel(ctx, r.ChannelID)
		if err != nil {
			return model.Lifecycle{}, err
		}
		if ch.LifecycleID != "" {
			id = ch.LifecycleID // the channel's path wins
		}
	}
	return q.GetLifecycle(ctx, id)
}

// ListChannels returns a project's channels, the default first.
func (q *Queries) ListChannels(ctx context.Context, projectID string) ([]model.Channel, error) {
	rows, err := q.query(ctx, `SELECT `+channelColumns+` FROM channels WHERE project_id = ? ORDER BY is_default DESC, name_key`, projectID)
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return collect(rows, scanChannel)
}

// UpdateChannel replaces a channel.
func (q *Queries) UpdateChannel(ctx context.Context, c *model.Channel) error {
	doc, err := q.checkChannel(ctx, c)
	if err != nil {
		return err
	}
	old, err := q.GetChannel(ctx, c.ID)
	if err != nil {
		return err
	}
	if old.ProjectID != c.ProjectID {
		return &model.ValidationError{Subject: "channel", Problems: []string{"projectId: a channel cannot move to another project"}}
	}
	if old.IsDefault && !c.IsDefault {
		return &model.ValidationError{Subject: "channel", Problems: []string{"isDefault: make another channel the default instead"}}
	}
	if c.IsDefault && !old.IsDefault {
		if _, err := q.exec(ctx, `UPDATE channels SET is_default = ? WHERE project_id = ?`, false, c.ProjectID); err != nil {
			return err
		}
	}
	_, err = q.exec(ctx, `UPDATE channels SET name = ?, name_key = ?, is_default = ?, lifecycle_id = ?, doc = ? WHERE id = ?`,
		c.Name, model.NameKey(c.Name), c.IsDefault, c.LifecycleID, doc, c.ID)
	return translateUnique(err, "the project already has a channel called %q", c.Name)
}

// DeleteChannel removes a channel no release uses; the default goes last.
func (q *Queries) DeleteChannel(ctx context.Context, id string) error {
	c, err := q.GetChannel(ctx, id)
	if err != nil {
		return err
	}
	n, err := q.count(ctx, `SELECT COUNT(*) FROM releases WHERE channel_id = ?`, id)
	if err != nil {
		return err
	}
	if n > 0 {
		return conflict("channel %q has %d releases; it cannot be deleted", c.Name, n)
	}
	others, err := q.count(ctx, `SELECT COUNT(*) FROM channels WHERE project_id = ? AND id <> ?`, c.ProjectID, id)
	if err != nil {
		return err
	}
	if c.IsDefault && others > 0 {
		return conflict("channel %q is the project's default; make another channel the default first", c.Name)
	}
	_, err = q.exec(ctx, `DELETE FROM channels WHERE id = ?`, id)
	return err
}

func translateUnique(err error, format string, args ...any) error {
	if err != nil && errors.Is(err, ErrConflict) {
		return conflict(format, args...)
	}
	return err
}

// chooseChannel settles the release's channel: the one named, or else the
// default if it takes the package versions asked for, or else the first
// other channel (by name) that does. A project without channels has none.
func (q *Queries) chooseChannel(ctx context.Context, r *model.Release) (*model.Channel, error) {
	channels, err := q.ListChannels(ctx, r.ProjectID)
	if err != nil || len(channels) == 0 {
		if err == nil && r.ChannelID != "" {
			return nil, &model.ValidationError{Subject: "release", Problems: []string{fmt.Sprintf("channelId: the project has no channel %q (it has no channels)", r.ChannelID)}}
		}
		return nil, err
	}
	if r.ChannelID != "" {
		for i, c := range channels {
			if c.ID == r.ChannelID || model.SameName(c.Name, r.ChannelID) {
				r.ChannelID = c.ID
				return &channels[i], nil
			}
		}
		return nil, &model.ValidationError{Subject: "release", Problems: []string{fmt.Sprintf("channelId: the project has no channel %q", r.ChannelID)}}
	}
	var refusals []string
	for i, c := range channels { // the default first
		if ok, why := q.channelTakes(c, r); ok {
			r.ChannelID = c.ID
			return &channels[i], nil
		} else {
			refusals = append(refusals, fmt.Sprintf("%s: %s", c.Name, why))
		}
	}
	sort.Strings(refusals)
	return nil, &model.ValidationError{Subject: "release", Problems: []string{
		"no channel of the project takes the package versions asked for (" + strings.Join(refusals, "; ") + ")"}}
}

// channelTakes checks the package versions asked for against a channel.
func (q *Queries) channelTakes(c model.Channel, r *model.Release) (bool, string) {
	for _, a := range r.Packages {
		for _, step := range r.ProcessSnapshot.EnabledSteps() {
			for _, sp := range step.Packages() {
				if !matchesAsked(a, step, sp) {
					continue
				}
				if ok, why := c.Accepts(sp.PackageID, step.Name, a.Version); !ok {
					return false, why
				}
			}
		}
	}
	return true, ""
}

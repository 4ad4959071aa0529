package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// An email step travels as the model has it, with its teams by name:
// teams are not in documents (they are access control, made on each
// server), so applying a step that names a team the server lacks says so.

// teamNames maps every team's id to its name, for export.
func teamNames(ctx context.Context, q *store.Queries) (map[string]string, error) {
	teams, _, err := q.ListTeams(ctx, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("export teams: %w", err)
	}
	out := make(map[string]string, len(teams))
	for _, t := range teams {
		out[t.ID] = t.Name
	}
	return out, nil
}

// exportEmail is a copy of the email with its teams by name.
func (n stepNames) exportEmail(a *model.EmailAction) (*model.EmailAction, error) {
	if a == nil {
		return nil, nil
	}
	out := cloneEmail(a)
	for _, l := range []*[]string{&out.ToTeams, &out.CcTeams, &out.BccTeams} {
		names, err := n.names("team", *l, n.teams)
		if err != nil {
			return nil, err
		}
		*l = names
	}
	return out, nil
}

// email is the document's email with its teams by id.
func (a *applier) email(ctx context.Context, field string, want *model.EmailAction, problems *[]string) (*model.EmailAction, error) {
	if want == nil {
		return nil, nil
	}
	out := cloneEmail(want)
	for _, l := range []struct {
		field string
		teams *[]string
	}{{"toTeams", &out.ToTeams}, {"ccTeams", &out.CcTeams}, {"bccTeams", &out.BccTeams}} {
		for i, name := range *l.teams {
			t, err := a.q.FindTeam(ctx, name)
			switch {
			case errors.Is(err, store.ErrNotFound):
				*problems = append(*problems, fmt.Sprintf("%s.email.%s: team %q does not exist on the server (teams are not in files: create it first)", field, l.field, name))
			case err != nil:
				return nil, err
			default:
				(*l.teams)[i] = t.ID
			}
		}
	}
	return out, nil
}

// cloneEmail copies an email so that the document and the model share no list.
func cloneEmail(a *model.EmailAction) *model.EmailAction {
	c := *a
	for _, l := range []*[]string{&c.To, &c.ToTeams, &c.Cc, &c.CcTeams, &c.Bcc, &c.BccTeams} {
		*l = slices.Clone(*l)
	}
	return &c
}

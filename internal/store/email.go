package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// FindTeam reads one team by id or name.
func (q *Queries) FindTeam(ctx context.Context, idOrName string) (model.Team, error) {
	t, err := q.GetTeam(ctx, idOrName)
	if !errors.Is(err, ErrNotFound) {
		return t, err
	}
	teams, _, err := q.ListTeams(ctx, ListOptions{Name: idOrName, Take: 1})
	if err != nil {
		return model.Team{}, err
	}
	if len(teams) == 0 {
		return model.Team{}, notFound("team", idOrName)
	}
	return teams[0], nil
}

// TeamMailboxes returns a team's name (the team by id or name), the email
// addresses of its enabled members, and the usernames of those who have
// none.
func (q *Queries) TeamMailboxes(ctx context.Context, idOrName string) (name string, addresses, without []string, err error) {
	t, err := q.FindTeam(ctx, idOrName)
	if err != nil {
		return "", nil, nil, err
	}
	for _, id := range t.MemberIDs {
		u, err := q.GetUser(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return "", nil, nil, fmt.Errorf("members of team %s: %w", t.Name, err)
		case u.Disabled:
		case u.EmailAddress == "":
			without = append(without, u.Username)
		default:
			addresses = append(addresses, u.EmailAddress)
		}
	}
	return t.Name, addresses, without, nil
}

// checkEmailTeams lists the teams an email step names that do not exist;
// a team named by name is kept by id, as feeds are, so renaming the team
// keeps its mail going.
func (q *Queries) checkEmailTeams(ctx context.Context, field string, a *model.EmailAction) ([]string, error) {
	var problems []string
	for _, l := range []struct {
		name  string
		teams *[]string
	}{{"toTeams", &a.ToTeams}, {"ccTeams", &a.CcTeams}, {"bccTeams", &a.BccTeams}} {
		ids := make([]string, 0, len(*l.teams))
		for _, ref := range *l.teams {
			t, err := q.FindTeam(ctx, ref)
			switch {
			case errors.Is(err, ErrNotFound):
				problems = append(problems, fmt.Sprintf("%s.email.%s: team %q does not exist", field, l.name, ref))
				continue
			case err != nil:
				return nil, err
			}
			if !slices.Contains(ids, t.ID) {
				ids = append(ids, t.ID)
			}
		}
		if len(*l.teams) > 0 {
			*l.teams = ids // a new list: the caller's stays as it was
		}
	}
	return problems, nil
}

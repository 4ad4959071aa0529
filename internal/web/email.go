package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// kindEmail is the add form's kind of an email step.
const kindEmail = "email"

// emailForm is what the add form's email fields hold, kept to show again
// after a refusal.
type emailForm struct {
	To, Teams, Cc, Bcc, Subject, Body string
	HTML                              bool
}

func readEmailForm(f url.Values) emailForm {
	return emailForm{To: f.Get("email-to"), Teams: f.Get("email-teams"), Cc: f.Get("email-cc"), Bcc: f.Get("email-bcc"),
		Subject: f.Get("email-subject"), Body: f.Get("email-body"), HTML: f.Get("email-html") == "on"}
}

// applyEmailForm sets an email step from the add or edit form. Lists are
// comma-separated; the teams of a field the form lacks stay as they were
// (the add form has only To teams).
func applyEmailForm(a *model.EmailAction, f url.Values) {
	teams := func(key string, was []string) []string {
		if f.Has(key) {
			return splitComma(f.Get(key))
		}
		return was
	}
	a.To = splitComma(f.Get("email-to"))
	a.ToTeams = teams("email-teams", a.ToTeams)
	a.Cc = splitComma(f.Get("email-cc"))
	a.CcTeams = teams("email-cc-teams", a.CcTeams)
	a.Bcc = splitComma(f.Get("email-bcc"))
	a.BccTeams = teams("email-bcc-teams", a.BccTeams)
	a.Subject = strings.TrimSpace(f.Get("email-subject"))
	a.Body = strings.ReplaceAll(f.Get("email-body"), "\r\n", "\n")
	a.IsHTML = f.Get("email-html") == "on"
}

// emailTeams is an email step's teams by name, for the step's page: the
// step keeps ids.
type emailTeams struct{ To, Cc, Bcc string }

// teamNames names the teams the visitor may see by id; a visitor who may
// not list teams sees ids, which the form takes back as well.
func (p *Portal) teamNames(r *http.Request) map[string]string {
	var teams wire.Page[model.Team]
	p.call(r, http.MethodGet, "/teams?take=1000", nil, &teams)
	out := make(map[string]string, len(teams.Items))
	for _, t := range teams.Items {
		out[t.ID] = t.Name
	}
	return out
}

func namedTeams(names map[string]string, ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id
		if n, ok := names[id]; ok {
			out[i] = n
		}
	}
	return strings.Join(out, ", ")
}

func (p *Portal) emailTeams(r *http.Request, a *model.EmailAction) *emailTeams {
	if a == nil {
		return nil
	}
	names := p.teamNames(r)
	return &emailTeams{To: namedTeams(names, a.ToTeams), Cc: namedTeams(names, a.CcTeams), Bcc: namedTeams(names, a.BccTeams)}
}

// processEmailTeams names the teams of each email step by step id; nil
// (and no request) when the process has none.
func (p *Portal) processEmailTeams(r *http.Request, steps []model.Step) map[string]*emailTeams {
	var out map[string]*emailTeams
	var names map[string]string
	for _, s := range steps {
		if s.Email == nil {
			continue
		}
		if names == nil {
			names, out = p.teamNames(r), map[string]*emailTeams{}
		}
		out[s.ID] = &emailTeams{To: namedTeams(names, s.Email.ToTeams), Cc: namedTeams(names, s.Email.CcTeams), Bcc: namedTeams(names, s.Email.BccTeams)}
	}
	return out
}

package model

import (
	"fmt"
	"net/mail"
	"strings"
)

// EmailAction sends an email through the server's SMTP server (Octopus's
// "Send an Email" step, Octopus.Email). It runs on the server, on no
// machine; with the failure condition it tells people a deployment failed.
type EmailAction struct {
	// To, Cc and Bcc are addresses ("ops@example.com" or
	// "Ops <ops@example.com>"); an entry may be a template ("#{OpsMail}"),
	// rendered when the step runs and then read as a list separated by
	// commas or semicolons.
	To []string `json:"to,omitempty" yaml:"to,omitempty"`
	// ToTeams, CcTeams and BccTeams are teams (ids or names) whose members'
	// email addresses receive the mail.
	ToTeams  []string `json:"toTeams,omitempty" yaml:"toTeams,omitempty"`
	Cc       []string `json:"cc,omitempty" yaml:"cc,omitempty"`
	CcTeams  []string `json:"ccTeams,omitempty" yaml:"ccTeams,omitempty"`
	Bcc      []string `json:"bcc,omitempty" yaml:"bcc,omitempty"`
	BccTeams []string `json:"bccTeams,omitempty" yaml:"bccTeams,omitempty"`
	// Subject and Body are templates rendered with the step's variables.
	Subject string `json:"subject" yaml:"subject"`
	Body    string `json:"body,omitempty" yaml:"body,omitempty"`
	// IsHTML sends Body as text/html instead of text/plain.
	IsHTML bool `json:"isHtml,omitempty" yaml:"isHtml,omitempty"`
}

// MaxEmailBodyLength bounds an email step's body.
const MaxEmailBodyLength = 1 << 20

// Teams lists every team the email names, once each, in order.
func (a *EmailAction) Teams() []string {
	var out []string
	seen := map[string]bool{}
	for _, list := range [][]string{a.ToTeams, a.CcTeams, a.BccTeams} {
		for _, t := range list {
			if !seen[NameKey(t)] {
				seen[NameKey(t)] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// IsTemplate reports whether s holds #{…} to render before it is used.
func IsTemplate(s string) bool { return strings.Contains(s, "#{") }

// ParseEmailAddresses reads a list of addresses separated by commas or
// semicolons (Octopus accepts both) and returns them bare (no names).
func ParseEmailAddresses(s string) ([]string, error) {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' }) {
		if strings.TrimSpace(part) == "" {
			continue
		}
		list, err := mail.ParseAddressList(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not an email address: %v", strings.TrimSpace(part), err)
		}
		for _, a := range list {
			out = append(out, a.Address)
		}
	}
	return out, nil
}

func validateEmail(p *problems, field string, s *Step) {
	a := s.Email
	type named struct {
		name string
		list []string
	}
	for _, l := range []named{{"to", a.To}, {"cc", a.Cc}, {"bcc", a.Bcc}} {
		for j, addr := range l.list {
			f := fmt.Sprintf("%s.%s[%d]", field, l.name, j)
			switch {
			case strings.TrimSpace(addr) == "":
				p.add(f, "is empty: give an address such as ops@example.com")
			case IsTemplate(addr): // checked once rendered
			default:
				if _, err := ParseEmailAddresses(addr); err != nil {
					p.add(f, "%v", err)
				}
			}
		}
	}
	for _, l := range []named{{"toTeams", a.ToTeams}, {"ccTeams", a.CcTeams}, {"bccTeams", a.BccTeams}} {
		for j, t := range l.list {
			if strings.TrimSpace(t) == "" {
				p.add(fmt.Sprintf("%s.%s[%d]", field, l.name, j), "is empty: name a team")
			}
		}
	}
	if len(a.To)+len(a.ToTeams)+len(a.Cc)+len(a.CcTeams)+len(a.Bcc)+len(a.BccTeams) == 0 {
		p.add(field+".to", "is required: give at least one address or team (to, toTeams, cc, ccTeams, bcc or bccTeams)")
	}
	if strings.TrimSpace(a.Subject) == "" {
		p.add(field+".subject", "is required")
	} else if strings.ContainsAny(a.Subject, "\r\n") {
		p.add(field+".subject", "must be one line")
	}
	if len(a.Body) > MaxEmailBodyLength {
		p.add(field+".body", "is %d bytes; the limit is %d", len(a.Body), MaxEmailBodyLength)
	}
	if len(s.TargetRoles) > 0 || s.WorkerPoolID != "" || s.RunOnServer {
		p.add(field, "an email is sent by the server, on no machine: leave out targetRoles, workerPoolId and runOnServer")
	}
	if s.WindowSize > 0 || s.MaxParallelism > 0 {
		p.add(field, "an email runs once: leave out windowSize and maxParallelism")
	}
}

package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// emailFlags are the flags of `process step add` that make an email step.
type emailFlags struct {
	to, toTeams, cc, ccTeams, bcc, bccTeams []string
	subject, body, bodyFile                 string
	html                                    bool
}

func (f *emailFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringArrayVar(&f.to, "email-to", nil, "make an email step (sent by the server through its SMTP server) to this address, or a template like #{OpsMail} (repeat)")
	fs.StringArrayVar(&f.toTeams, "email-to-team", nil, "email step: to the members of this team (name or id) who have an email address (repeat)")
	fs.StringArrayVar(&f.cc, "email-cc", nil, "email step: copy to this address (repeat)")
	fs.StringArrayVar(&f.ccTeams, "email-cc-team", nil, "email step: copy to this team's members (repeat)")
	fs.StringArrayVar(&f.bcc, "email-bcc", nil, "email step: blind copy to this address, in no header (repeat)")
	fs.StringArrayVar(&f.bccTeams, "email-bcc-team", nil, "email step: blind copy to this team's members (repeat)")
	fs.StringVar(&f.subject, "email-subject", "", "email step: the subject, a template (#{Octopus.Release.Number} ...)")
	fs.StringVar(&f.body, "email-body", "", "email step: the body, a template (#{Octopus.Deployment.Error} after a failure)")
	fs.StringVar(&f.bodyFile, "email-body-file", "", "email step: read the body from this file")
	fs.BoolVar(&f.html, "email-html", false, "email step: the body is HTML (default plain text)")
}

// set reports whether any email flag was given.
func (f *emailFlags) set() bool {
	return len(f.to)+len(f.toTeams)+len(f.cc)+len(f.ccTeams)+len(f.bcc)+len(f.bccTeams) > 0 ||
		f.subject != "" || f.body != "" || f.bodyFile != "" || f.html
}

// action is the email the flags describe; the server checks the rest
// (a recipient, a subject, addresses, teams).
func (f *emailFlags) action() (*model.EmailAction, error) {
	if f.body != "" && f.bodyFile != "" {
		return nil, fmt.Errorf("give the email's body with --email-body or --email-body-file, not both")
	}
	body := f.body
	if f.bodyFile != "" {
		b, err := os.ReadFile(f.bodyFile)
		if err != nil {
			return nil, fmt.Errorf("read the email's body: %w", err)
		}
		body = string(b)
	}
	return &model.EmailAction{To: f.to, ToTeams: f.toTeams, Cc: f.cc, CcTeams: f.ccTeams, Bcc: f.bcc, BccTeams: f.bccTeams,
		Subject: f.subject, Body: body, IsHTML: f.html}, nil
}

// emailSummary is an email step's line in the step table.
func emailSummary(a *model.EmailAction) string {
	to := append(append([]string{}, a.To...), a.Cc...)
	for _, t := range append(append(append([]string{}, a.ToTeams...), a.CcTeams...), a.BccTeams...) {
		to = append(to, "team "+t)
	}
	if len(a.Bcc) > 0 {
		to = append(to, fmt.Sprintf("%d bcc", len(a.Bcc)))
	}
	return fmt.Sprintf("email %q to %s", a.Subject, strings.Join(to, ", "))
}

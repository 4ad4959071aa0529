package server

import (
	"context"

	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/notify"
)

// stepMailer sends email steps' mail through the server's SMTP server.
type stepMailer struct{ m *notify.Mailer }

func (s stepMailer) SendMail(ctx context.Context, m engine.MailMessage) error {
	return s.m.SendMessage(ctx, notify.Message{To: m.To, Cc: m.Cc, Bcc: m.Bcc, Subject: m.Subject, Body: m.Body, HTML: m.HTML})
}

// engineMail is the engine's mail: nil (steps fail, saying how to give
// an SMTP server) when the server has none.
func engineMail(m *notify.Mailer) engine.Mail {
	if m == nil {
		return nil
	}
	return stepMailer{m}
}

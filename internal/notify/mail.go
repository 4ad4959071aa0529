package notify

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/smtp"
	"sort"
	"strings"
	"time"
)

// Mailer sends events by mail through an SMTP server, with STARTTLS when
// the server offers it, and PLAIN authentication when a user is given
// (which net/smtp allows only over TLS or to localhost).
type Mailer struct {
	Addr     string // host:port
	From     string
	Username string
	Password string
	// Timeout bounds one delivery (default 30 s).
	Timeout time.Duration
}

// Send mails one event to the addresses.
func (m *Mailer) Send(ctx context.Context, to []string, event string, payload []byte) error {
	return m.deliver(ctx, to, message(m.From, to, event, payload))
}

// deliver hands one message to the SMTP server for the recipients.
func (m *Mailer) deliver(ctx context.Context, to []string, data []byte) error {
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return fmt.Errorf("reach the SMTP server %s: %w", m.Addr, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	host, _, _ := net.SplitHostPort(m.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("talk to the SMTP server %s: %w", m.Addr, err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return fmt.Errorf("STARTTLS with %s: %w", m.Addr, err)
		}
	}
	if m.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return fmt.Errorf("log in to %s: %w", m.Addr, err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return fmt.Errorf("sender %s: %w", m.From, err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return fmt.Errorf("recipient %s: %w", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("send the message: %w", err)
	}
	return c.Quit()
}

// message is the mail of an event: a subject a person can scan, the key
// facts, and the event's JSON.
func message(from string, to []string, event string, payload []byte) []byte {
	var body map[string]any
	json.Unmarshal(payload, &body)
	name := func(key string) string {
		if m, ok := body[key].(map[string]any); ok {
			for _, k := range []string{"name", "version", "title"} {
				if v, ok := m[k].(string); ok {
					return v
				}
			}
		}
		return ""
	}
	subject := "[Pulpo] " + event
	var facts []string
	for _, k := range []string{"project", "release", "environment", "machine", "interruption"} {
		if v := name(k); v != "" {
			facts = append(facts, fmt.Sprintf("%s: %s", k, v))
		}
	}
	if p, r, e := name("project"), name("release"), name("environment"); p != "" {
		subject += fmt.Sprintf(": %s %s to %s", p, r, e)
	} else if m := name("machine"); m != "" {
		subject += ": " + m
	}
	sort.Strings(facts)
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		from, strings.Join(to, ", "), subject)
	for _, f := range facts {
		b.WriteString(f + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(string(payload), "\n", "\r\n"))
	b.WriteString("\r\n")
	return []byte(b.String())
}

package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// Message is an email written by people (an email step's), as opposed to
// an event's generated one.
type Message struct {
	To, Cc, Bcc []string // bare addresses
	Subject     string
	Body        string
	// HTML sends Body as text/html instead of text/plain.
	HTML bool
}

// SendMessage mails m through the SMTP server: every To, Cc and Bcc
// address is a recipient, but Bcc is in no header.
func (m *Mailer) SendMessage(ctx context.Context, msg Message) error {
	var rcpts []string
	seen := map[string]bool{}
	for _, list := range [][]string{msg.To, msg.Cc, msg.Bcc} {
		for _, a := range list {
			if key := strings.ToLower(a); !seen[key] {
				seen[key] = true
				rcpts = append(rcpts, a)
			}
		}
	}
	if len(rcpts) == 0 {
		return errors.New("the message has no recipient")
	}
	data, err := compose(m.From, msg, time.Now())
	if err != nil {
		return err
	}
	return m.deliver(ctx, rcpts, data)
}

// compose writes the message with its MIME headers: a subject encoded when
// it is not ASCII, the body quoted-printable in UTF-8 (any line length,
// any text survives 7-bit relays), a Date and a Message-ID.
func compose(from string, msg Message, now time.Time) ([]byte, error) {
	if strings.ContainsAny(msg.Subject, "\r\n") {
		return nil, errors.New("the subject must be one line")
	}
	var b bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	header("From", from)
	if len(msg.To) > 0 {
		header("To", addressList(msg.To))
	}
	if len(msg.Cc) > 0 {
		header("Cc", addressList(msg.Cc))
	}
	header("Subject", mime.QEncoding.Encode("utf-8", msg.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", messageID(from))
	header("MIME-Version", "1.0")
	kind := "text/plain"
	if msg.HTML {
		kind = "text/html"
	}
	header("Content-Type", kind+"; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	w := quotedprintable.NewWriter(&b)
	if _, err := w.Write([]byte(msg.Body)); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}

func addressList(list []string) string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = (&mail.Address{Address: a}).String()
	}
	return strings.Join(out, ", ")
}

// messageID is unique and names the sender's domain, as RFC 5322 asks.
func messageID(from string) string {
	domain := "pulpo.localhost"
	if a, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok && d != "" {
			domain = d
		}
	}
	var r [16]byte
	rand.Read(r[:])
	return fmt.Sprintf("<%s.%d@%s>", hex.EncodeToString(r[:]), time.Now().UnixNano(), domain)
}

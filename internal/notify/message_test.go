package notify

import (
	"strings"
	"testing"
	"time"
)

// A composed message has the headers mail readers need, keeps Bcc out of
// them, encodes what is not ASCII and keeps every line short.
func TestComposeWritesMIMEHeaders(t *testing.T) {
	at := time.Date(2026, 12, 8, 10, 30, 0, 0, time.UTC)
	long := strings.Repeat("word ", 40) // one 200-character line
	data, err := compose("Pulpo <pulpo@deploy.example.com>", Message{To: []string{"a@example.com", "b@example.com"}, Cc: []string{"c@example.com"},
		Bcc: []string{"secret@example.com"}, Subject: "Ünïcode ✓", Body: long + "\nnext line", HTML: true}, at)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	head, body, _ := strings.Cut(text, "\r\n\r\n")
	for _, want := range []string{"From: Pulpo <pulpo@deploy.example.com>\r\n", "To: <a@example.com>, <b@example.com>\r\n", "Cc: <c@example.com>\r\n",
		"Subject: =?utf-8?q?", "Date: Tue, 08 Dec 2026 10:30:00 +0000\r\n", "MIME-Version: 1.0\r\n",
		"Content-Type: text/html; charset=utf-8\r\n", "Content-Transfer-Encoding: quoted-printable"} {
		if !strings.Contains(head+"\r\n", want) {
			t.Errorf("headers lack %q:\n%s", want, head)
		}
	}
	if !strings.Contains(head, "Message-ID: <") || !strings.Contains(head, "@deploy.example.com>") {
		t.Errorf("message id:\n%s", head)
	}
	if strings.Contains(text, "secret@") || strings.Contains(strings.ToLower(head), "bcc") {
		t.Errorf("Bcc shows:\n%s", text)
	}
	for _, line := range strings.Split(body, "\r\n") {
		if len(line) > 76 {
			t.Errorf("a body line of %d characters", len(line))
		}
	}
	if _, err := compose("p@example.com", Message{To: []string{"a@example.com"}, Subject: "two\r\nBcc: x@example.com"}, at); err == nil {
		t.Error("a subject with a line break was accepted")
	}
}

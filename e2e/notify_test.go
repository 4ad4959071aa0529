package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/notify"
)

// hookEvent is one webhook call a test endpoint received.
type hookEvent struct {
	Event       string `json:"event"`
	Environment struct {
		Name string `json:"name"`
	} `json:"environment"`
	Release struct {
		Version string `json:"version"`
	} `json:"release"`
	Interruption struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"interruption"`
	signed bool
}

// hookServer is a webhook endpoint that checks signatures and fails the
// first failFirst calls with 503.
type hookServer struct {
	t         *testing.T
	secret    string
	srv       *httptest.Server
	mu        sync.Mutex
	failFirst int
	events    []hookEvent
	calls     int
}

func startHookServer(t *testing.T, secret string, failFirst int) *hookServer {
	h := &hookServer{t: t, secret: secret, failFirst: failFirst}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(notify.HeaderTimestamp), 10, 64)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls++
		if h.calls <= h.failFirst {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		var e hookEvent
		json.Unmarshal(body, &e)
		e.signed = notify.Verify(secret, r.Header.Get(notify.HeaderSignature), ts, body) && time.Since(time.Unix(ts, 0)) < 5*time.Minute
		h.events = append(h.events, e)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// waitFor waits until an event of kind (and environment, when given) came.
func (h *hookServer) waitFor(kind, env string) hookEvent {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h.mu.Lock()
		for _, e := range h.events {
			if e.Event == kind && (env == "" || e.Environment.Name == env) {
				h.mu.Unlock()
				if !e.signed {
					h.t.Fatalf("%s for %s came without a valid signature", kind, env)
				}
				return e
			}
		}
		h.mu.Unlock()
		if time.Now().After(deadline) {
			h.t.Fatalf("no %s event for %q came; got %+v", kind, env, h.events)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhooksTellOfEachDeployment: a subscribed endpoint is told, signed,
// of every deployment and of a deployment waiting for people; an endpoint
// that fails at first gets the event on a retry; the delivery log shows it.
func TestWebhooksTellOfEachDeployment(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	hooks := startHookServer(t, "hook-secret", 1)
	applyText(t, s, `environments:
  - name: Dev
  - name: Test
projects:
  - name: shop
    steps:
      - name: Approve
        environments: [Test]
        manualIntervention: {instructions: Approve it}
      - name: Hello
        script: {body: echo hello}
`)
	if r := s.pulpo("subscription", "create", "bad", "--webhook", "ftp://x", "--event", "deployment-exploded"); r.code == 0 ||
		!strings.Contains(r.stderr, `"deployment-exploded" is not an event`) || !strings.Contains(r.stderr, "is not an http(s) URL") {
		t.Fatalf("a bad subscription: exit %d\n%s", r.code, r.stderr)
	}
	if r := s.pulpo("subscription", "create", "mail", "--email", "ops@example.com", "--event", "deployment-failed"); r.code == 0 ||
		!strings.Contains(r.stderr, "this server has no SMTP server to send mail through; start it with --smtp-host") {
		t.Fatalf("mail without an SMTP server: exit %d\n%s", r.code, r.stderr)
	}
	create := exec.Command(binary, "subscription", "create", "Release page", "--webhook", hooks.srv.URL,
		"--event", "deployment-succeeded", "--event", "intervention-waiting", "--secret-stdin")
	create.Env = append(create.Environ(), "PULPO_SERVER="+s.url, "PULPO_API_KEY="+apiKey)
	create.Stdin = strings.NewReader("hook-secret\n")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("subscription create: %v\n%s", err, out)
	}
	if out := s.ok("subscription", "list"); !strings.Contains(out, "Release page") || !strings.Contains(out, "set") || strings.Contains(out, "hook-secret") {
		t.Fatalf("the secret is write-only:\n%s", out)
	}

	dev := deploy(t, s, "shop", "1.0.0")
	s.ok("task", "watch", dev.TaskID)
	if e := hooks.waitFor("deployment-succeeded", "Dev"); e.Release.Version != "1.0.0" {
		t.Fatalf("event: %+v", e)
	}
	var test deployment
	s.okJSON(&test, "release", "deploy", "-p", "shop", "--version", "1.0.0", "--environment", "Test")
	waiting := hooks.waitFor("intervention-waiting", "Test")
	if !strings.Contains(waiting.Interruption.Title, `Approve step "Approve"`) {
		t.Fatalf("event: %+v", waiting)
	}
	s.ok("interruption", "answer", waiting.Interruption.ID, "proceed")
	s.ok("task", "watch", test.TaskID)
	hooks.waitFor("deployment-succeeded", "Test")

	log := s.ok("subscription", "deliveries", "Release page")
	if !strings.Contains(log, "Succeeded") || !strings.Contains(log, "intervention-waiting") {
		t.Fatalf("delivery log:\n%s", log)
	}
	var deliveries struct {
		Items []struct {
			Attempts   int `json:"attempts"`
			LastStatus int `json:"lastStatus"`
		} `json:"items"`
	}
	s.okJSON(&deliveries, "subscription", "deliveries", "Release page")
	first := deliveries.Items[len(deliveries.Items)-1]
	if first.Attempts != 2 {
		t.Fatalf("the first delivery met a 503 and was retried: %+v", deliveries.Items)
	}
}

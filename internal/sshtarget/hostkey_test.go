package sshtarget_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/sshtarget"
)

func TestScanHostKeyReturnsWhatTheMachinePresents(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	got, err := sshtarget.ScanHostKey(testContext(t), "127.0.0.1", m.srv.Port)
	if err != nil || got != m.srv.HostKeyFingerprint {
		t.Fatalf("got %q, %v; want %q", got, err, m.srv.HostKeyFingerprint)
	}
	if _, err := sshtarget.ScanHostKey(testContext(t), "127.0.0.1", freeLoopbackPort(t)); err == nil {
		t.Fatal("scanning a closed port succeeded")
	}
}

func TestAChangedHostKeyIsRefused(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	connected := m.target(t)
	if _, err := connected.Capabilities(testContext(t)); err != nil {
		t.Fatal(err)
	}
	registered := m.srv.HostKeyFingerprint

	m.srv.RestartWithNewHostKey(t)
	presented := m.srv.HostKeyFingerprint
	if scanned, err := sshtarget.ScanHostKey(testContext(t), "127.0.0.1", m.srv.Port); err != nil || scanned != presented {
		t.Fatalf("scan after the change: %q, %v; want %q", scanned, err, presented)
	}
	cfg := m.config()
	cfg.HostKeyFingerprint = registered
	targets := map[string]*sshtarget.Target{
		"a target reconnecting": connected,
		"a new target":          newTarget(t, cfg),
	}
	calls := []struct {
		name string
		call func(tg *sshtarget.Target) error
	}{
		{name: "capabilities", call: func(tg *sshtarget.Target) error {
			_, err := tg.Capabilities(testContext(t))
			return err
		}},
		{name: "a script", call: func(tg *sshtarget.Target) error {
			_, err := tg.Scripts().StartScript(testContext(t), contract.StartScriptCommand{Ticket: "refused", Syntax: "bash", Body: "echo no"})
			return err
		}},
		{name: "a file", call: func(tg *sshtarget.Target) error {
			_, err := tg.Files().UploadFile(testContext(t), "refused.txt", 2, strings.NewReader("no"))
			return err
		}},
	}
	for name, tg := range targets {
		for _, c := range calls {
			t.Run(name+", "+c.name, func(t *testing.T) {
				err := c.call(tg)
				var mismatch *sshtarget.HostKeyMismatchError
				if !errors.As(err, &mismatch) {
					t.Fatalf("got %v, want a HostKeyMismatchError", err)
				}
				want := sshtarget.HostKeyMismatchError{Address: m.srv.Addr(), Expected: registered, Got: presented}
				if *mismatch != want {
					t.Errorf("got %+v, want %+v", *mismatch, want)
				}
				for _, part := range []string{m.srv.Addr(), registered, presented, "reinstalled or someone is in the middle", "update the machine's host key fingerprint"} {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("the message %q does not mention %q", err, part)
					}
				}
			})
		}
	}
}

package sshtarget_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestARemoteProcessThatDiesSaysWhy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// run makes the remote process die and returns the failed call's error.
		run  func(t *testing.T, m machine) error
		want []string
	}{
		{
			name: "before it is ready",
			run: func(t *testing.T, m machine) error {
				if _, err := m.target(t).Capabilities(testContext(t)); err != nil { // sends the binary
					t.Fatal(err)
				}
				// The next process cannot make its workspace root.
				work := filepath.Join(m.home, "work")
				if err := os.RemoveAll(work); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(work, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				_, err := m.target(t).Capabilities(testContext(t))
				return err
			},
			want: []string{"test-machine", "ended before it was ready", "status 1", "create script workspace root", "not a directory"},
		},
		{
			name: "during a transfer that cannot be repeated",
			run: func(t *testing.T, m machine) error {
				tg := m.target(t)
				if _, err := tg.Capabilities(testContext(t)); err != nil {
					t.Fatal(err)
				}
				// Far more than the windows and buffers between the two
				// ends hold, so the transfer cannot finish once the
				// process is gone.
				big := filepath.Join(m.home, "big.bin")
				if err := os.WriteFile(big, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(big, 64<<20); err != nil {
					t.Fatal(err)
				}
				w := &gatedWriter{arrived: make(chan struct{}), gate: make(chan struct{})}
				done := make(chan error, 1)
				go func() {
					_, err := tg.Files().DownloadFile(testContext(t), "big.bin", w)
					done <- err
				}()
				<-w.arrived
				killRemoteServe(t, m.home)
				close(w.gate)
				return <-done
			},
			want: []string{"download big.bin from test-machine", "pulpo on test-machine ended", `signal "KILL"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.run(t, newMachine(t))
			if err == nil {
				t.Fatal("the call succeeded")
			}
			t.Log(err)
			for _, part := range tt.want {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("the error %q does not say %q", err, part)
				}
			}
		})
	}
}

// gatedWriter says when the first bytes arrive and then takes no more
// until its gate opens.
type gatedWriter struct {
	arrived, gate chan struct{}
	seen          bool
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	if !w.seen {
		w.seen = true
		close(w.arrived)
	}
	<-w.gate
	return len(p), nil
}

package agent_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/agent"
	"github.com/pulpo-deploy/pulpo/internal/agentrpc"
	"github.com/pulpo-deploy/pulpo/internal/comms"
	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
	"github.com/pulpo-deploy/pulpo/internal/transfer"
)

func TestMain(m *testing.M) {
	scriptsvc.RunIfSupervisor()
	os.Exit(m.Run())
}

// start runs an agent in the given mode and returns the server's view of it.
func start(t *testing.T, mode string) (*agent.Agent, *agentrpc.Target) {
	t.Helper()
	server, err := comms.NewIdentity("server")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	settings := agent.Settings{Name: "agent-" + mode, TrustedServers: []string{server.Thumbprint}}
	var conns chan *comms.Conn
	if mode == "listening" {
		settings.Listen = "127.0.0.1:0"
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		settings.Server = ln.Addr().String()
		conns = make(chan *comms.Conn, 4)
		pl := &comms.PollingListener{Identity: server, Trusted: func(string) bool { return true }, Connected: func(c *comms.Conn) { conns <- c }}
		pl.Logger = quietLogger()
		go pl.Serve(ctx, ln)
	}
	a, err := agent.New(agent.Config{Home: t.TempDir(), Settings: settings, Version: "test", Backoff: comms.Backoff{Initial: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var conn *comms.Conn
	if mode == "listening" {
		conn, err = comms.DialAgent(ctx, a.ListenAddr().String(), server, a.Thumbprint(), quietLogger())
		if err != nil {
			t.Fatal(err)
		}
	} else {
		select {
		case conn = <-conns:
		case <-time.After(10 * time.Second):
			t.Fatal("the polling agent did not connect")
		}
	}
	t.Cleanup(func() { conn.Close() })
	return a, agentrpc.NewTarget(settings.Name, func(context.Context) (*comms.Conn, error) { return conn, nil })
}

func TestTargetServicesInBothModes(t *testing.T) {
	for _, mode := range []string{"listening", "polling"} {
		t.Run(mode, func(t *testing.T) {
			_, target := start(t, mode)
			ctx := context.Background()

			caps, err := target.Capabilities(ctx)
			if err != nil || caps.Version != "test" || len(caps.Services) != 2 {
				t.Fatalf("capabilities %+v %v", caps, err)
			}

			scripts := target.Scripts()
			cmd := contract.StartScriptCommand{Ticket: "t1", Syntax: "bash", Body: "echo one; echo two >&2; exit 4", Isolated: true}
			if _, err := scripts.StartScript(ctx, cmd); err != nil {
				t.Fatal(err)
			}
			var lines []string
			next := int64(0)
			for {
				st, err := scripts.GetStatus(ctx, contract.StatusRequest{Ticket: "t1", FromLogSeq: next, Wait: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range st.Logs {
					lines = append(lines, string(l.Source)+":"+l.Text)
				}
				next = st.NextLogSeq
				if st.State == contract.ScriptComplete {
					if st.ExitCode != 4 {
						t.Fatalf("exit code %d", st.ExitCode)
					}
					break
				}
			}
			// stdout and stderr are separate pipes: their relative order is not defined.
			if len(lines) != 2 || !slices.Contains(lines, "stdout:one") || !slices.Contains(lines, "stderr:two") {
				t.Fatalf("lines %q", lines)
			}
			if err := scripts.CompleteScript(ctx, "t1"); err != nil {
				t.Fatal(err)
			}

			content := bytes.Repeat([]byte("package bytes "), 200000)
			sum := sha256.Sum256(content)
			info, err := target.Files().UploadFile(ctx, "packages/app.tar.gz", int64(len(content)), bytes.NewReader(content))
			if err != nil || info.SHA256 != hex.EncodeToString(sum[:]) || info.Length != int64(len(content)) {
				t.Fatalf("upload %+v %v", info, err)
			}
			var back bytes.Buffer
			if _, err := target.Files().DownloadFile(ctx, "packages/app.tar.gz", &back); err != nil || !bytes.Equal(back.Bytes(), content) {
				t.Fatalf("download: %v (%d bytes)", err, back.Len())
			}
			if st, err := target.Files().StatFile(ctx, "packages/app.tar.gz"); err != nil || st.SHA256 != info.SHA256 {
				t.Fatalf("stat: %+v %v", st, err)
			}
			if _, err := target.Files().StatFile(ctx, "nothing/here"); !errors.Is(err, contract.ErrFileNotFound) {
				t.Fatalf("stat of a missing file: %v", err)
			}
			// A resumable send goes through, and a second one finds it cached.
			src := filepath.Join(t.TempDir(), "pkg.bin")
			os.WriteFile(src, content, 0o644)
			fsrc := transfer.FileSource{Path: src, Length: int64(len(content)), Sum: info.SHA256}
			if _, rep, err := transfer.Send(ctx, target.Files(), "cache/pkg.bin", fsrc, time.Minute); err != nil || rep.Cached || rep.Sent != int64(len(content)) {
				t.Fatalf("send: %+v %v", rep, err)
			}
			if _, rep, err := transfer.Send(ctx, target.Files(), "cache/pkg.bin", fsrc, time.Minute); err != nil || !rep.Cached || rep.Sent != 0 {
				t.Fatalf("send again: %+v %v", rep, err)
			}
			// The upload is refused before any byte is sent when there is no room.
			if _, err := target.Files().UploadFile(ctx, "huge.bin", 1<<60, bytes.NewReader(nil)); !errors.Is(err, contract.ErrNotEnoughSpace) {
				t.Fatalf("a huge upload: %v", err)
			}
			// A reader that gives fewer bytes than announced fails, and the agent keeps nothing.
			if _, err := target.Files().UploadFile(ctx, "short.bin", 1000, bytes.NewReader(make([]byte, 10))); err == nil {
				t.Fatal("a short upload succeeded")
			}
			if _, err := target.Files().DownloadFile(ctx, "short.bin", &back); err == nil {
				t.Fatal("a failed upload left a file behind")
			}
		})
	}
}

func TestRevokingAServerDropsItsConnection(t *testing.T) {
	a, target := start(t, "listening")
	ctx := context.Background()
	if _, err := target.Capabilities(ctx); err != nil {
		t.Fatal(err)
	}
	if a.Sessions() != 1 {
		t.Fatalf("%d sessions", a.Sessions())
	}
	a.Trust().Replace(nil)
	deadline := time.Now().Add(10 * time.Second)
	for a.Sessions() > 0 || func() bool { _, err := target.Capabilities(ctx); return err == nil }() {
		if time.Now().After(deadline) {
			t.Fatal("the revoked server can still call the agent")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countedSource claims a size far beyond any disk and counts what the
// transfer reads of it.
type countedSource struct {
	size int64
	read atomic.Int64
}

func (c *countedSource) Size() int64    { return c.size }
func (c *countedSource) SHA256() string { return strings.Repeat("ab", 32) }
func (c *countedSource) Open(offset int64) (io.ReadCloser, error) {
	// A few megabytes, then the end: enough to be seen if the content
	// were sent before the agent's refusal came back.
	return io.NopCloser(&countingReader{r: io.LimitReader(zeros{}, 4<<20), n: &c.read}), nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// The engine sends packages with transfer.Send, which ends in UploadFrom.
// A full disk must refuse it before any of the content leaves the server.
func TestASendToAFullDiskIsRefusedBeforeAnyByteIsRead(t *testing.T) {
	for _, mode := range []string{"listening", "polling"} {
		t.Run(mode, func(t *testing.T) {
			_, target := start(t, mode)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			src := &countedSource{size: 1 << 60}
			_, rep, err := transfer.Send(ctx, target.Files(), "packages/huge.bin", src, 0)
			if !errors.Is(err, contract.ErrNotEnoughSpace) {
				t.Fatalf("got error %v, want %v", err, contract.ErrNotEnoughSpace)
			}
			if n := src.read.Load(); n != 0 || rep.Sent != 0 {
				t.Fatalf("%d bytes were read from the source (%d reported sent) before the refusal", n, rep.Sent)
			}

			// The same holds for UploadFrom called directly, resuming or not.
			for _, offset := range []int64{0, 1 << 20} {
				src := &countedSource{size: 1 << 60}
				r, _ := src.Open(offset)
				_, err := target.Files().UploadFrom(ctx, "packages/huge.bin", src.size, src.SHA256(), offset, r)
				if !errors.Is(err, contract.ErrNotEnoughSpace) || src.read.Load() != 0 {
					t.Fatalf("from offset %d: error %v after reading %d bytes; want %v after none", offset, err, src.read.Load(), contract.ErrNotEnoughSpace)
				}
			}
		})
	}
}

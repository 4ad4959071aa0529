package agentrpc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/agentrpc"
	"github.com/pulpo-deploy/pulpo/internal/comms"
	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/localtarget"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
)

// params mirrors the file calls' parameters, for handlers that stand in
// for the agent's own.
type params struct {
	Path   string `json:"path"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Offset int64  `json:"offset,omitempty"`
}

// agentOverPipe serves a local target's services, with any handlers in
// replace put in place of the agent's own, over an in-memory connection,
// and returns the server's view of it.
func agentOverPipe(t *testing.T, replace func(*localtarget.Target, *comms.Mux)) (*localtarget.Target, *agentrpc.Target) {
	t.Helper()
	local, err := localtarget.New("agent", t.TempDir(), "test", scriptsvc.Options{NoSpare: true})
	if err != nil {
		t.Fatal(err)
	}
	mux := agentrpc.NewMux(local)
	if replace != nil {
		replace(local, mux)
	}
	quiet := slog.New(slog.DiscardHandler)
	serverEnd, agentEnd := net.Pipe()
	go comms.ServeStream(t.Context(), agentEnd, mux, quiet)
	conn, err := comms.NewConn(serverEnd, "agent", quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return local, agentrpc.NewTarget("agent", func(context.Context) (*comms.Conn, error) { return conn, nil })
}

func hexSum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// flipFirst changes the first byte that passes through it, as a faulty
// disk, memory or program on the way would.
type flipFirst struct {
	r       io.Reader
	flipped bool
}

func (f *flipFirst) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 && !f.flipped {
		p[0] ^= 0xff
		f.flipped = true
	}
	return n, err
}

// A resumable upload whose content is not what its hash says is refused by
// the agent, the refusal says so, and the agent keeps nothing of it.
func TestUploadFromOfContentThatDoesNotMatchItsHash(t *testing.T) {
	local, target := agentOverPipe(t, nil)
	content := bytes.Repeat([]byte("the real package "), 50000)
	sent := bytes.Repeat([]byte("something else!! "), 50000)

	_, err := target.Files().UploadFrom(t.Context(), "pkgs/app.tgz", int64(len(sent)), hexSum(content), 0, bytes.NewReader(sent))
	want := "the content's SHA-256 is " + hexSum(sent) + ", not " + hexSum(content)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "to agent") {
		t.Fatalf("got error %v, want one naming the target and saying %q", err, want)
	}
	if entries, _ := os.ReadDir(filepath.Join(local.FileSvc.Home, "pkgs")); len(entries) != 0 {
		t.Fatalf("the refused upload left %s behind", entries[0].Name())
	}
}

// Both ends hash what passes through them; when the agent's account of a
// transfer is not the server's, the transfer fails saying so, with both.
func TestTransfersFailWhenTheTwoEndsDisagree(t *testing.T) {
	content := bytes.Repeat([]byte("package bytes "), 100000)
	changed := bytes.Clone(content)
	changed[0] ^= 0xff
	wantMsg := "the two ends disagree (" // the detail follows: bytes and hash on each side
	tests := []struct {
		name string
		// handler replaces the agent's own for one method.
		method  string
		handler func(*localtarget.Target) comms.HandlerFunc
		run     func(context.Context, contract.FileService) error
		detail  string
	}{
		{
			name:   "the agent stores other bytes than were sent",
			method: agentrpc.MethodUpload,
			handler: func(local *localtarget.Target) comms.HandlerFunc {
				return func(ctx context.Context, c *comms.ServerCall) (any, error) {
					var p params
					if err := c.Decode(&p); err != nil {
						return nil, err
					}
					return local.FileSvc.UploadFile(ctx, p.Path, p.Size, &flipFirst{r: c.Body})
				}
			},
			run: func(ctx context.Context, fs contract.FileService) error {
				_, err := fs.UploadFile(ctx, "pkgs/app.tgz", int64(len(content)), bytes.NewReader(content))
				return err
			},
			detail: "sha256 " + hexSum(content) + " here; 1400000 bytes, sha256 " + hexSum(changed) + " there",
		},
		{
			name:   "the agent sends other bytes than it describes",
			method: agentrpc.MethodDownload,
			handler: func(local *localtarget.Target) comms.HandlerFunc {
				return func(ctx context.Context, c *comms.ServerCall) (any, error) {
					if err := c.SendBody(int64(len(changed)), bytes.NewReader(changed)); err != nil {
						return nil, err
					}
					return contract.FileInfo{Path: "/pkgs/app.tgz", Length: int64(len(content)), SHA256: hexSum(content)}, nil
				}
			},
			run: func(ctx context.Context, fs contract.FileService) error {
				_, err := fs.DownloadFile(ctx, "pkgs/app.tgz", io.Discard)
				return err
			},
			detail: "sha256 " + hexSum(changed) + " here; 1400000 bytes, sha256 " + hexSum(content) + " there",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, target := agentOverPipe(t, func(local *localtarget.Target, m *comms.Mux) {
				m.Handle(tt.method, tt.handler(local))
			})
			err := tt.run(t.Context(), target.Files())
			if err == nil || !strings.Contains(err.Error(), wantMsg) || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("got error %v, want one saying %q with %q", err, wantMsg, tt.detail)
			}
		})
	}
}

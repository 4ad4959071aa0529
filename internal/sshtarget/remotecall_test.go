package sshtarget_test

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The server talks to remote-serve now, but the one-shot remote-call keeps
// working: each call below is a process of its own, as an SSH session would
// run it.
func TestRemoteCallStillServesOneCallPerProcess(t *testing.T) {
	t.Parallel()
	home := filepath.Join(t.TempDir(), "remote-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "hello.txt"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, request string
		want            []string // parts of the reply line
	}{
		{method: "capabilities", request: `{}`, want: []string{`"result":{`, `"version":"` + builtVersion + `"`, `"home":"` + home + `"`}},
		{method: "start-script", request: `{"ticket":"rc","syntax":"bash","body":"echo hi","wait":10000000000}`, want: []string{`"m":"hi"`}},
		{method: "get-status", request: `{"ticket":"rc","fromLogSeq":1,"wait":10000000000}`, want: []string{`"state":"Complete"`, `"exitCode":0`}},
		{method: "complete-script", request: `{"ticket":"rc"}`, want: []string{`{"result":null}`}},
		{method: "resolve-path", request: `{"path":"pkgs/app.bin"}`, want: []string{`{"result":{"path":"` + home + `/pkgs/app.bin"}}`}},
		{method: "prepare-upload", request: `{"path":"pkgs/app.bin","size":5}`, want: []string{`"path":"` + home + `/pkgs/app.bin"`, `"tempPath":"` + home + `/pkgs/.app.bin.part-`}},
		{method: "prepare-upload", request: `{"path":"big.bin","size":1152921504606846976}`, want: []string{`"error":"not enough free disk space`, `"code":"not-enough-space"`}},
		{method: "hash-file", request: `{"path":"hello.txt","sync":true}`, want: []string{`"length":5`, `"sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"`}},
		{method: "no-such-method", request: `{}`, want: []string{`{"error":"unknown remote call \"no-such-method\""}`}},
	}
	// In order: the script calls follow one run.
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			reply, stderr := remoteCall(t, home, tt.method, tt.request)
			for _, part := range tt.want {
				if !strings.Contains(reply, part) {
					t.Errorf("the reply %q lacks %q (stderr: %q)", reply, part, stderr)
				}
			}
		})
	}
}

// remoteCall runs one remote-call process and returns its reply line. Its
// stdin stays open until the reply is read: closing it means giving up.
func remoteCall(t *testing.T, home, method, request string) (reply, stderr string) {
	t.Helper()
	cmd := exec.CommandContext(testContext(t), pulpoBinary, "remote-call", "--home", home, method)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, request+"\n")
	reply, err = bufio.NewReader(stdout).ReadString('\n')
	stdin.Close()
	if werr := cmd.Wait(); err != nil || werr != nil {
		t.Fatalf("remote-call %s: %v, %v: %s", method, err, werr, errOut.String())
	}
	return reply, errOut.String()
}

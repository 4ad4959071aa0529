package sshtarget

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

func TestCheckPlatform(t *testing.T) {
	linuxAMD64 := localBinary{path: "/srv/pulpo", goos: "linux", goarch: "amd64"}
	tests := []struct {
		name    string
		uname   string
		binary  localBinary
		wantErr string
	}{
		{name: "same platform", uname: "Linux x86_64\n", binary: linuxAMD64},
		{name: "after a login banner", uname: "Welcome!\nLinux x86_64\n", binary: linuxAMD64},
		{name: "arm64 machine", uname: "Linux aarch64", binary: localBinary{goos: "linux", goarch: "arm64"}},
		{name: "a Mac", uname: "Darwin arm64", binary: linuxAMD64,
			wantErr: "the SSH target runs Darwin arm64 but this server can only send a linux/amd64 pulpo binary"},
		{name: "another architecture", uname: "Linux aarch64", binary: linuxAMD64,
			wantErr: "the SSH target runs Linux aarch64 but this server can only send a linux/amd64 pulpo binary"},
		{name: "a server binary that is not Linux", uname: "Linux x86_64", binary: localBinary{path: "/srv/pulpo"},
			wantErr: "the SSH target runs Linux x86_64 but this server's pulpo binary /srv/pulpo is not a Linux executable"},
		{name: "odd uname output", uname: "", binary: linuxAMD64, wantErr: "cannot tell which system"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkPlatform(tt.uname, tt.binary)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestInspectBinaryReadsItsPlatform(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := inspectBinary(exe)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" && (b.goos != "linux" || b.goarch != runtime.GOARCH) {
		t.Errorf("platform %s/%s, want linux/%s", b.goos, b.goarch, runtime.GOARCH)
	}
	if len(b.sha256) != 64 || b.size == 0 || len(b.remoteName()) != len("pulpo-")+16 {
		t.Errorf("inspected %+v", b)
	}
	notELF, err := inspectBinary("internal_test.go")
	if err != nil || notELF.goos != "" {
		t.Errorf("a text file inspected as %+v, %v", notELF, err)
	}
}

func TestReplies(t *testing.T) {
	encode := func(result any, err error) string {
		var b strings.Builder
		encodeReply(&b, result, err)
		return b.String()
	}
	tests := []struct {
		name       string
		stdout     string
		wantResult string
		wantErr    string
		wantSpace  bool
		wantNoise  string
	}{
		{name: "a result", stdout: encode(map[string]int{"a": 1}, nil), wantResult: `{"a":1}`},
		{name: "no result", stdout: encode(nil, nil), wantResult: "null"},
		{name: "an error", stdout: encode(nil, errors.New("script syntax \"perl\" is not supported")), wantErr: `script syntax "perl" is not supported`},
		{name: "no room", stdout: encode(nil, fmt.Errorf("%w: 10 bytes needed", contract.ErrNotEnoughSpace)), wantErr: "not enough free disk space: 10 bytes needed", wantSpace: true},
		{name: "after a login banner", stdout: "Welcome to web-01\n{\"motd\":1}\n" + encode(1, nil), wantResult: "1", wantNoise: "Welcome to web-01\n{\"motd\":1}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, noise, err := readReply(strings.NewReader(tt.stdout))
			if err != nil {
				t.Fatal(err)
			}
			if string(rep.Result) != tt.wantResult || rep.Error != tt.wantErr || noise != tt.wantNoise {
				t.Fatalf("got %+v, noise %q", rep, noise)
			}
			if rep.Error == "" {
				return
			}
			var remote error = &remoteError{msg: rep.Error, code: rep.Code}
			if errors.Is(remote, contract.ErrNotEnoughSpace) != tt.wantSpace {
				t.Errorf("errors.Is(ErrNotEnoughSpace) = %v, want %v", !tt.wantSpace, tt.wantSpace)
			}
			if a, ok := remote.(interface{ Answered() bool }); !ok || !a.Answered() {
				t.Error("an error from the machine must count as answered, so it is not retried")
			}
		})
	}
	if _, _, err := readReply(strings.NewReader("bash: pulpo: command not found\n")); err == nil {
		t.Error("output without a reply was taken for one")
	}
}

package sshtarget

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
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

func TestTheReadyLineIsFoundAfterALoginBanner(t *testing.T) {
	tests := []struct {
		name      string
		stdout    string
		wantNoise string
		wantErr   bool
	}{
		{name: "just the line", stdout: serveReady + "\n"},
		{name: "after a banner", stdout: "Welcome to web-01\n{\"motd\":1}\n" + serveReady + "\n", wantNoise: "Welcome to web-01\n{\"motd\":1}"},
		{name: "after output with no line end", stdout: "hi" + serveReady + "\r\n", wantNoise: "hi"},
		{name: "never", stdout: "bash: pulpo: command not found\n", wantNoise: "bash: pulpo: command not found", wantErr: true},
		{name: "cut short", stdout: serveReady, wantNoise: serveReady, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Frames follow the line and must stay in the reader.
			out := bufio.NewReader(strings.NewReader(tt.stdout + "\x00frames"))
			if tt.wantErr {
				out = bufio.NewReader(strings.NewReader(tt.stdout))
			}
			noise, err := readReady(out)
			if noise != tt.wantNoise || (err != nil) != tt.wantErr {
				t.Fatalf("got %q, %v", noise, err)
			}
			if rest, _ := io.ReadAll(out); !tt.wantErr && string(rest) != "\x00frames" {
				t.Errorf("left %q in the reader", rest)
			}
		})
	}
}

func TestExactReaderRefusesAnythingButTheAnnouncedLength(t *testing.T) {
	failed := errors.New("the source disk failed")
	tests := []struct {
		name    string
		size    int64
		r       io.Reader
		want    string
		wantErr string
	}{
		{name: "exactly", size: 5, r: strings.NewReader("hello"), want: "hello"},
		{name: "exactly, in small reads", size: 5, r: iotest.OneByteReader(strings.NewReader("hello")), want: "hello"},
		{name: "shorter", size: 9, r: strings.NewReader("hello"), want: "hello"},
		{name: "longer: the last bytes are held back", size: 4, r: strings.NewReader("hello"), want: "", wantErr: "longer than the 4 bytes announced"},
		{name: "longer, in small reads", size: 4, r: iotest.OneByteReader(strings.NewReader("hello")), want: "hel", wantErr: "longer than the 4 bytes announced"},
		{name: "failing", size: 9, r: io.MultiReader(strings.NewReader("he"), iotest.ErrReader(failed)), want: "he", wantErr: failed.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bytes.Buffer
			// As an upload reads it: never past the announced size.
			_, err := io.Copy(&got, io.LimitReader(&exactReader{r: tt.r, left: tt.size}, tt.size))
			if got.String() != tt.want || tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("read %q, %v; want %q, %q", got.String(), err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	var b tailBuffer
	b.Write([]byte(strings.Repeat("a", tailBufferSize)))
	b.Write([]byte("the reason"))
	if got := b.String(); len(got) != tailBufferSize || !strings.HasSuffix(got, "the reason") {
		t.Errorf("kept %d bytes ending %q", len(got), got[len(got)-20:])
	}
	b.Write([]byte(strings.Repeat("b", 2*tailBufferSize)))
	if got := b.String(); got != strings.Repeat("b", tailBufferSize) {
		t.Errorf("a long write left %d bytes", len(got))
	}
}

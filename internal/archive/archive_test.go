package archive

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/confdoc"
)

// cheap keeps the tests fast; the format is the same at any cost.
var cheap = KDF{Time: 1, MemoryKiB: 64, Threads: 1}

const password = "correct horse battery"

func sample() *Contents {
	return &Contents{
		Manifest: Manifest{Format: Format, PulpoVersion: "test", CreatedAt: time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC),
			Server: "a.example:8080", Projects: []string{"Shop"}, Counts: map[string]int{"projects": 1}},
		Document: confdoc.Document{
			Environments: []confdoc.Environment{{Name: "Dev"}},
			LibrarySets:  []confdoc.LibrarySet{{Name: "Common", Variables: []confdoc.Variable{{Name: "Token", Value: "s3cret", Sensitive: true}}}},
			Projects:     []confdoc.Project{{Name: "Shop", Variables: []confdoc.Variable{{Name: "Greeting", Value: "hello"}}}},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	in := sample()
	data, err := seal(in, password, cheap)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "s3cret") || strings.Contains(string(data), "Shop") {
		t.Fatal("the archive shows its contents in plain text")
	}
	out, err := open(data, password, cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the contents:\n in %+v\nout %+v", in, out)
	}
	again, _ := seal(in, password, cheap)
	if string(again[:headerLen]) == string(data[:headerLen]) {
		t.Fatal("two archives share salt and nonce")
	}
}

func TestSealDefaultCost(t *testing.T) {
	data, err := Seal(sample(), password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(data, password); err != nil {
		t.Fatal(err)
	}
	if _, err := Seal(sample(), "short"); err == nil || !strings.Contains(err.Error(), "at least 12") {
		t.Fatalf("a short password was not refused: %v", err)
	}
	if _, err := Seal(sample(), "a long password\nwith a newline"); err == nil {
		t.Fatal("a password with a newline was accepted")
	}
}

func TestOpenRefuses(t *testing.T) {
	good, err := seal(sample(), password, cheap)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x01
		return b
	}
	header := func(edit func(h []byte)) []byte {
		b := append([]byte(nil), good...)
		edit(b)
		return b
	}
	for _, tc := range []struct {
		name     string
		data     []byte
		password string
		want     error
		wantText string
	}{
		{name: "wrong password", data: good, password: "correct horse battery!", want: ErrPassword},
		{name: "flipped ciphertext byte", data: flip(len(good) / 2), password: password, want: ErrPassword},
		{name: "flipped tag byte", data: flip(len(good) - 1), password: password, want: ErrPassword},
		{name: "flipped salt byte", data: flip(len(magic) + 12), password: password, want: ErrPassword},
		{name: "flipped nonce byte", data: flip(headerLen - 1), password: password, want: ErrPassword},
		{name: "truncated", data: good[:len(good)-10], password: password, want: ErrPassword},
		{name: "only the header", data: good[:headerLen], password: password, want: ErrNotArchive},
		{name: "empty", data: nil, password: password, want: ErrNotArchive},
		{name: "bad magic", data: flip(0), password: password, want: ErrNotArchive},
		{name: "newer format", data: header(func(h []byte) { h[len(magic)] = Format + 1 }), password: password, wantText: "format 2"},
		{name: "unknown kdf", data: header(func(h []byte) { h[len(magic)+1] = 9 }), password: password, wantText: "key derivation (9)"},
		{name: "cost above the limit", data: header(func(h []byte) { h[len(magic)+2] = 0xff }), password: password, wantText: "outside what this Pulpo accepts"},
		{name: "no threads", data: header(func(h []byte) { h[len(magic)+10] = 0 }), password: password, wantText: "outside what this Pulpo accepts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := open(tc.data, tc.password, cheap)
			if c != nil || err == nil {
				t.Fatalf("opened: %+v", c)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
			if tc.wantText != "" && !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("error %q does not say %q", err, tc.wantText)
			}
		})
	}
}

// FuzzOpen feeds the reader untrusted bytes: it must answer with an error
// or contents, never panic or hang. The limit keeps each key derivation cheap.
func FuzzOpen(f *testing.F) {
	good, err := seal(sample(), password, cheap)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, password)
	f.Add(good[:headerLen+20], password)
	f.Add([]byte(magic), "x")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, data []byte, pw string) {
		c, err := open(data, pw, cheap)
		if (c == nil) == (err == nil) {
			t.Fatalf("contents %v with error %v", c, err)
		}
	})
}

func TestCount(t *testing.T) {
	got := Count(&sample().Document)
	want := map[string]int{"environments": 1, "librarySets": 1, "projects": 1}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Count = %v, want %v", got, want)
	}
}

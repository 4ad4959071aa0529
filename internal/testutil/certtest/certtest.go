// Package certtest makes certificates for tests with the real openssl
// command, and reads back what openssl says about them.
package certtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cert is a self-signed certificate openssl made, with what it prints.
type Cert struct {
	Cert, Key string // PEM files
	CN        string
	// Thumbprint is `openssl x509 -fingerprint -sha1` without colons.
	Thumbprint string
	NotAfter   time.Time
	Subject    string // `openssl x509 -subject -nameopt RFC2253`
}

// OpenSSL runs openssl and returns its output; the test fails when it
// fails (or is missing).
func OpenSSL(t testing.TB, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("these tests need the openssl command: %v", err)
	}
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Make writes a self-signed certificate for cn with a new key (newkey as
// openssl req takes it: rsa:2048, or ec for P-256), valid for days days.
func Make(t testing.TB, dir, name, newkey, cn string) Cert {
	return MakeDays(t, dir, name, newkey, cn, 30)
}

// MakeDays is Make with a validity.
func MakeDays(t testing.TB, dir, name, newkey, cn string, days int) Cert {
	t.Helper()
	c := Cert{Cert: filepath.Join(dir, name+".crt"), Key: filepath.Join(dir, name+".key"), CN: cn}
	args := []string{"req", "-x509", "-nodes", "-keyout", c.Key, "-out", c.Cert, "-days", strconv.Itoa(days),
		"-subj", "/CN=" + cn, "-addext", "subjectAltName=DNS:" + cn}
	if newkey == "ec" {
		args = append(args, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256")
	} else {
		args = append(args, "-newkey", newkey)
	}
	OpenSSL(t, args...)
	fp := OpenSSL(t, "x509", "-in", c.Cert, "-noout", "-fingerprint", "-sha1")
	c.Thumbprint = strings.ReplaceAll(strings.TrimSpace(fp[strings.Index(fp, "=")+1:]), ":", "")
	end := OpenSSL(t, "x509", "-in", c.Cert, "-noout", "-enddate")
	var err error
	if c.NotAfter, err = time.Parse("Jan _2 15:04:05 2006 MST", strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(end), "notAfter="))); err != nil {
		t.Fatalf("read openssl's end date %q: %v", end, err)
	}
	subj := OpenSSL(t, "x509", "-in", c.Cert, "-noout", "-subject", "-nameopt", "RFC2253")
	c.Subject = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(subj), "subject="))
	return c
}

// PFX exports c with its key as PKCS#12 with `openssl pkcs12 -export`:
// OpenSSL 3's default (AES-256-CBC, PBKDF2) or, legacy, 3DES and RC2.
func PFX(t testing.TB, dir string, c Cert, password string, legacy bool) string {
	t.Helper()
	out := strings.TrimSuffix(c.Cert, ".crt") + ".pfx"
	args := []string{"pkcs12", "-export", "-in", c.Cert, "-inkey", c.Key, "-out", out, "-passout", "pass:" + password}
	if legacy {
		out = strings.TrimSuffix(c.Cert, ".crt") + "-legacy.pfx"
		// -legacy needs OpenSSL's legacy provider; naming 3DES works
		// without it.
		args = []string{"pkcs12", "-export", "-in", c.Cert, "-inkey", c.Key, "-out", out, "-passout", "pass:" + password,
			"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"}
	}
	OpenSSL(t, args...)
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
	return out
}

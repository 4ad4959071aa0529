package certs_test

import (
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/certs"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/testutil/certtest"
)

func TestParseWhatOpenSSLMakes(t *testing.T) {
	dir := t.TempDir()
	rsa := certtest.Make(t, dir, "rsa", "rsa:2048", "www.example.test")
	ec := certtest.Make(t, dir, "ec", "ec", "ec.example.test")
	other := certtest.Make(t, dir, "other", "rsa:2048", "other.example.test")
	pkcs1 := filepath.Join(dir, "pkcs1.key")
	certtest.OpenSSL(t, "pkey", "-in", rsa.Key, "-traditional", "-out", pkcs1)
	modern := certtest.PFX(t, dir, rsa, "s3cret", false)
	legacy := certtest.PFX(t, dir, rsa, "s3cret", true)
	encrypted := filepath.Join(dir, "enc.key")
	certtest.OpenSSL(t, "pkcs8", "-topk8", "-in", rsa.Key, "-out", encrypted, "-passout", "pass:x")

	cat := func(files ...string) []byte {
		var out []byte
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
		}
		return out
	}
	tests := []struct {
		name, password string
		data           []byte
		want           certtest.Cert
		format         string
		key            bool
		problem        string
	}{
		{name: "PEM with a PKCS#8 key", data: cat(rsa.Cert, rsa.Key), want: rsa, format: certs.FormatPEM, key: true},
		{name: "PEM with a PKCS#1 key first", data: cat(pkcs1, rsa.Cert), want: rsa, format: certs.FormatPEM, key: true},
		{name: "PEM with an EC key", data: cat(ec.Cert, ec.Key), want: ec, format: certs.FormatPEM, key: true},
		{name: "PEM certificate alone", data: cat(rsa.Cert), want: rsa, format: certs.FormatPEM},
		{name: "modern PFX (AES-256, PBKDF2)", data: cat(modern), password: "s3cret", want: rsa, format: certs.FormatPKCS12, key: true},
		{name: "legacy PFX (3DES)", data: cat(legacy), password: "s3cret", want: rsa, format: certs.FormatPKCS12, key: true},
		{name: "PFX, wrong password", data: cat(modern), password: "nope", problem: "wrong password"},
		{name: "key of another certificate", data: cat(rsa.Cert, other.Key), problem: "does not belong"},
		{name: "encrypted PKCS#8 key", data: cat(rsa.Cert, encrypted), problem: "encrypted"},
		{name: "not a certificate", data: []byte("hello"), problem: "neither PEM"},
		{name: "empty", problem: "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := certs.Parse(tt.data, tt.password)
			if tt.problem != "" {
				var ve *model.ValidationError
				if !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("want a validation error about %q, got %v", tt.problem, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var c model.Certificate
			b.Describe(&c)
			if c.Thumbprint != tt.want.Thumbprint || c.Format != tt.format || c.HasPrivateKey != tt.key {
				t.Errorf("got thumbprint %s format %s key %v; want %s %s %v", c.Thumbprint, c.Format, c.HasPrivateKey, tt.want.Thumbprint, tt.format, tt.key)
			}
			if c.SubjectCommonName != tt.want.CN || !c.SelfSigned || c.Subject != "CN="+tt.want.CN {
				t.Errorf("subject %q (%q), self-signed %v", c.Subject, c.SubjectCommonName, c.SelfSigned)
			}
			if !c.NotAfter.Equal(tt.want.NotAfter) {
				t.Errorf("not after %v, openssl says %v", c.NotAfter, tt.want.NotAfter)
			}
			if len(c.SubjectAlternativeNames) != 1 || c.SubjectAlternativeNames[0] != "DNS:"+tt.want.CN {
				t.Errorf("SANs %v", c.SubjectAlternativeNames)
			}
			m, err := b.Material()
			if err != nil {
				t.Fatal(err)
			}
			values, err := certs.Expand(c, m)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]certs.Value{}
			for _, v := range values {
				got[v.Suffix] = v
			}
			if got[".CertificatePem"].Value != string(cat(tt.want.Cert)) {
				t.Errorf("CertificatePem differs from the file openssl wrote")
			}
			if tt.key != (got[".PrivateKeyPem"].Value != "") || (tt.key && !got[".PrivateKeyPem"].Sensitive) {
				t.Errorf("PrivateKeyPem: %+v", got[".PrivateKeyPem"])
			}
			// The Pfx scripts get opens with OpenSSL under the upload's password.
			pfx, _ := base64.StdEncoding.DecodeString(got[".Pfx"].Value)
			pfxFile := filepath.Join(t.TempDir(), "out.pfx")
			os.WriteFile(pfxFile, pfx, 0o600)
			out := certtest.OpenSSL(t, "pkcs12", "-in", pfxFile, "-passin", "pass:"+tt.password, "-nokeys")
			if !strings.Contains(out, strings.TrimSpace(string(cat(tt.want.Cert)))) {
				t.Errorf("openssl reads another certificate from the Pfx value:\n%s", out)
			}
		})
	}
}

func TestDistinguishedName(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k.pem")
	crt := filepath.Join(dir, "c.pem")
	certtest.OpenSSL(t, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt, "-days", "3",
		"-subj", "/C=NZ/O=Pulpo Ltd/CN=dn.example.test")
	b, err := certs.Parse(must(os.ReadFile(crt)), "")
	if err != nil {
		t.Fatal(err)
	}
	var c model.Certificate
	b.Describe(&c)
	if c.Subject != "CN=dn.example.test, O=Pulpo Ltd, C=NZ" {
		t.Errorf("subject %q", c.Subject)
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal(err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A chain, a legacy encrypted key and a DER certificate, all made by
// openssl.
func TestChainsEncryptedKeysAndDER(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	ca := certtest.Make(t, dir, "ca", "rsa:2048", "Pulpo Test CA")
	certtest.OpenSSL(t, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("leaf.key"), "-out", p("leaf.csr"), "-subj", "/CN=leaf.example.test")
	os.WriteFile(p("ext"), []byte("subjectAltName=DNS:leaf.example.test,IP:127.0.0.1\n"), 0o600)
	certtest.OpenSSL(t, "x509", "-req", "-in", p("leaf.csr"), "-CA", ca.Cert, "-CAkey", ca.Key, "-CAcreateserial", "-out", p("leaf.crt"), "-days", "5", "-extfile", p("ext"))
	certtest.OpenSSL(t, "pkey", "-in", p("leaf.key"), "-traditional", "-aes256", "-passout", "pass:legacy-pw", "-out", p("leaf-enc.key"))
	certtest.OpenSSL(t, "x509", "-in", p("leaf.crt"), "-outform", "DER", "-out", p("leaf.der"))
	fp := certtest.OpenSSL(t, "x509", "-in", p("leaf.crt"), "-noout", "-fingerprint", "-sha1")
	thumb := strings.ReplaceAll(strings.TrimSpace(fp[strings.Index(fp, "=")+1:]), ":", "")
	read := func(names ...string) []byte {
		var out []byte
		for _, n := range names {
			out = append(out, must(os.ReadFile(n))...)
		}
		return out
	}
	tests := []struct {
		name, password string
		data           []byte
		chain          int
		key            bool
		problem        string
	}{
		{name: "CA first, then the leaf and its key", data: read(ca.Cert, p("leaf.crt"), p("leaf.key")), chain: 1, key: true},
		{name: "leaf and CA without a key", data: read(ca.Cert, p("leaf.crt")), chain: 1},
		{name: "legacy encrypted key", data: read(p("leaf.crt"), p("leaf-enc.key")), password: "legacy-pw", key: true},
		{name: "legacy encrypted key, wrong password", data: read(p("leaf.crt"), p("leaf-enc.key")), password: "nope", problem: "does not decrypt"},
		{name: "legacy encrypted key, no password", data: read(p("leaf.crt"), p("leaf-enc.key")), problem: "give its password"},
		{name: "DER", data: read(p("leaf.der"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := certs.Parse(tt.data, tt.password)
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("want an error about %q, got %v", tt.problem, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var c model.Certificate
			b.Describe(&c)
			if c.Thumbprint != thumb || c.ChainLength != tt.chain || c.HasPrivateKey != tt.key || c.SelfSigned || c.Issuer != "CN=Pulpo Test CA" {
				t.Errorf("%+v", c)
			}
			if strings.Join(c.SubjectAlternativeNames, " ") != "DNS:leaf.example.test IP:127.0.0.1" {
				t.Errorf("names %v", c.SubjectAlternativeNames)
			}
			m, _ := b.Material()
			values, err := certs.Expand(c, m)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range values {
				if v.Suffix == ".ChainPem" && (tt.chain > 0) != strings.Contains(v.Value, strings.TrimSpace(string(read(ca.Cert)))) {
					t.Errorf("ChainPem %q", v.Value)
				}
			}
		})
	}
}

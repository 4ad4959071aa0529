// Package certs reads uploaded certificates (PEM, PFX/PKCS#12 or DER),
// checks that the key matches, describes them, and expands a certificate
// into the values a certificate variable gives scripts, as Octopus does.
package certs

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"software.sslmate.com/src/go-pkcs12"
)

// Formats of an upload.
const (
	FormatPEM    = "Pem"
	FormatPKCS12 = "Pkcs12"
	FormatDER    = "Der"
)

// MaxUpload bounds an uploaded file.
const MaxUpload = 1 << 20

// Bundle is a certificate read from an upload: the certificate, its key
// (nil when none came) and the chain that came with it.
type Bundle struct {
	Leaf   *x509.Certificate
	Key    crypto.Signer
	Chain  []*x509.Certificate
	Format string
	// Original is the file as uploaded and Password what opened it.
	Original []byte
	Password string
}

// problem is a 400: the upload is wrong, and the message says how.
func problem(format string, args ...any) error {
	return &model.ValidationError{Subject: "certificate", Problems: []string{fmt.Sprintf(format, args...)}}
}

// Parse reads an upload: PEM (certificates and a PKCS#1, PKCS#8 or EC key;
// a legacy encrypted PEM key is decrypted with password), PFX/PKCS#12
// (modern AES/PBKDF2 files from OpenSSL 3 as well as legacy 3DES ones), or
// a single DER certificate.
func Parse(data []byte, password string) (*Bundle, error) {
	if len(data) == 0 {
		return nil, problem("certificateData: is required: the file's content in base64")
	}
	if len(data) > MaxUpload {
		return nil, problem("certificateData: is %d bytes; the limit is %d", len(data), MaxUpload)
	}
	var b *Bundle
	var err error
	switch {
	case bytes.Contains(data, []byte("-----BEGIN ")):
		b, err = parsePEM(data, password)
	default:
		if c, derErr := x509.ParseCertificate(data); derErr == nil {
			b = &Bundle{Leaf: c, Format: FormatDER}
		} else {
			b, err = parsePFX(data, password)
		}
	}
	if err != nil {
		return nil, err
	}
	b.Original, b.Password = data, password
	return b, nil
}

func parsePEM(data []byte, password string) (*Bundle, error) {
	var certs []*x509.Certificate
	var key crypto.Signer
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, problem("a CERTIFICATE block cannot be read: %v", err)
			}
			certs = append(certs, c)
		case "ENCRYPTED PRIVATE KEY":
			return nil, problem("the private key is encrypted (PKCS#8); decrypt it first (openssl pkcs8 -in key.pem -out plain.pem) or upload a PFX file with its password")
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if key != nil {
				return nil, problem("the file holds more than one private key; upload the certificate with its own key only")
			}
			der := block.Bytes
			//lint:ignore SA1019 legacy encrypted PEM keys (Proc-Type: 4,ENCRYPTED) are still uploaded; decrypting them is the "simple" case.
			if x509.IsEncryptedPEMBlock(block) { //nolint:staticcheck
				if password == "" {
					return nil, problem("the private key is encrypted; give its password")
				}
				plain, err := x509.DecryptPEMBlock(block, []byte(password)) //nolint:staticcheck
				if err != nil {
					return nil, problem("the password does not decrypt the private key")
				}
				der = plain
			}
			k, err := parseKey(block.Type, der)
			if err != nil {
				return nil, err
			}
			key = k
		}
	}
	if len(certs) == 0 {
		return nil, problem("certificateData: no CERTIFICATE block was found in the PEM file")
	}
	return assemble(certs, key, FormatPEM)
}

func parseKey(kind string, der []byte) (crypto.Signer, error) {
	var k any
	var err error
	switch kind {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(der)
	default:
		k, err = x509.ParsePKCS8PrivateKey(der)
	}
	if err != nil {
		return nil, problem("the %s block cannot be read: %v", kind, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, problem("the private key is of a kind Pulpo does not know (%T)", k)
	}
	return s, nil
}

func parsePFX(data []byte, password string) (*Bundle, error) {
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return nil, problem("password: does not open this PFX file (wrong password)")
	}
	if err != nil {
		// A PFX may hold certificates only.
		if certs, tsErr := pkcs12.DecodeTrustStore(data, password); tsErr == nil && len(certs) > 0 {
			return assemble(certs, nil, FormatPKCS12)
		} else if errors.Is(tsErr, pkcs12.ErrIncorrectPassword) {
			return nil, problem("password: does not open this PFX file (wrong password)")
		}
		return nil, problem("certificateData: is neither PEM, PFX/PKCS#12 nor a DER certificate (%v)", err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, problem("the private key is of a kind Pulpo does not know (%T)", key)
	}
	return assemble(append([]*x509.Certificate{leaf}, chain...), s, FormatPKCS12)
}

// assemble picks the certificate the key belongs to (or, without a key,
// the one no other certificate of the file was issued by) and checks that
// the key matches.
func assemble(certs []*x509.Certificate, key crypto.Signer, format string) (*Bundle, error) {
	leaf := -1
	if key != nil {
		for i, c := range certs {
			if pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && pub.Equal(key.Public()) {
				leaf = i
				break
			}
		}
		if leaf < 0 {
			return nil, problem("the private key does not belong to the certificate (their public keys differ); upload the certificate with its own key")
		}
	} else {
		leaf = 0
		for i, c := range certs {
			issuesAnother := slices.ContainsFunc(certs, func(o *x509.Certificate) bool {
				return o != c && bytes.Equal(o.RawIssuer, c.RawSubject)
			})
			if !issuesAnother {
				leaf = i
				break
			}
		}
	}
	b := &Bundle{Leaf: certs[leaf], Key: key, Format: format}
	for i, c := range certs {
		if i != leaf {
			b.Chain = append(b.Chain, c)
		}
	}
	return b, nil
}

// Thumbprint is the SHA-1 of the DER certificate in upper-case hex.
func Thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// DistinguishedName writes a name most-specific part first with ", "
// between parts, as Windows and Octopus show them ("CN=a, O=b, C=c").
func DistinguishedName(n pkix.Name) string {
	seq := n.ToRDNSequence()
	parts := make([]string, 0, len(seq))
	for i := len(seq) - 1; i >= 0; i-- {
		parts = append(parts, pkix.RDNSequence{seq[i]}.String())
	}
	return strings.Join(parts, ", ")
}

// Describe fills the fields read from the certificate.
func (b *Bundle) Describe(c *model.Certificate) {
	l := b.Leaf
	c.Format = b.Format
	c.Subject, c.SubjectCommonName = DistinguishedName(l.Subject), l.Subject.CommonName
	c.Issuer = DistinguishedName(l.Issuer)
	c.Thumbprint = Thumbprint(l)
	c.SerialNumber = strings.ToUpper(l.SerialNumber.Text(16))
	c.NotBefore, c.NotAfter = l.NotBefore.UTC(), l.NotAfter.UTC()
	c.SubjectAlternativeNames = nil
	for _, d := range l.DNSNames {
		c.SubjectAlternativeNames = append(c.SubjectAlternativeNames, "DNS:"+d)
	}
	for _, ip := range l.IPAddresses {
		c.SubjectAlternativeNames = append(c.SubjectAlternativeNames, "IP:"+ip.String())
	}
	for _, e := range l.EmailAddresses {
		c.SubjectAlternativeNames = append(c.SubjectAlternativeNames, "email:"+e)
	}
	for _, u := range l.URIs {
		c.SubjectAlternativeNames = append(c.SubjectAlternativeNames, "URI:"+u.String())
	}
	c.HasPrivateKey = b.Key != nil
	c.SelfSigned = bytes.Equal(l.RawIssuer, l.RawSubject) && l.CheckSignatureFrom(l) == nil
	c.ChainLength = len(b.Chain)
	c.HasPassword = b.Password != ""
}

// Material is what is stored sealed: enough to give scripts every form.
type Material struct {
	CertificatePEM string `json:"certificatePem"`
	PrivateKeyPEM  string `json:"privateKeyPem,omitempty"` // PKCS#8
	ChainPEM       string `json:"chainPem,omitempty"`
	Original       []byte `json:"original"`
	Password       string `json:"password,omitempty"`
}

// Material returns the bundle's material.
func (b *Bundle) Material() (Material, error) {
	m := Material{CertificatePEM: encodeCert(b.Leaf), Original: b.Original, Password: b.Password}
	for _, c := range b.Chain {
		m.ChainPEM += encodeCert(c)
	}
	if b.Key != nil {
		der, err := x509.MarshalPKCS8PrivateKey(b.Key)
		if err != nil {
			return m, fmt.Errorf("encode the private key: %w", err)
		}
		m.PrivateKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	return m, nil
}

// Encode and DecodeMaterial turn material into the text that is sealed.
func (m Material) Encode() (string, error) {
	b, err := json.Marshal(m)
	return string(b), err
}

// DecodeMaterial reads what Encode wrote.
func DecodeMaterial(text string) (Material, error) {
	var m Material
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return m, fmt.Errorf("read certificate material: %w", err)
	}
	return m, nil
}

func encodeCert(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// PublicPEM is the certificate alone, as PEM: what may be downloaded.
func (m Material) PublicPEM() string { return m.CertificatePEM }

// Value is one expanded value of a certificate variable.
type Value struct {
	Suffix    string // ".Thumbprint"; empty for the variable itself
	Value     string
	Sensitive bool
}

// octopusTime is how Octopus writes a certificate's dates.
const octopusTime = "2006-01-02T15:04:05.0000000-07:00"

// Expand gives a certificate variable's values, as Octopus names them: the
// id, .Type, .Name, .Thumbprint, .RawOriginal, .Password, .Pfx,
// .Certificate, .PrivateKey, .CertificatePem, .PrivateKeyPem, .ChainPem,
// .Subject, .SubjectCommonName, .Issuer, .NotBefore, .NotAfter. Those that
// carry the private key (or what opens it) are sensitive.
func Expand(c model.Certificate, m Material) ([]Value, error) {
	block, _ := pem.Decode([]byte(m.CertificatePEM))
	if block == nil {
		return nil, fmt.Errorf("certificate %s: the stored certificate is not PEM", c.ID)
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", c.ID, err)
	}
	var chain []*x509.Certificate
	for rest := []byte(m.ChainPEM); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if cc, err := x509.ParseCertificate(b.Bytes); err == nil {
			chain = append(chain, cc)
		}
	}
	hasKey := m.PrivateKeyPEM != ""
	var keyDER []byte
	var pfx []byte
	if hasKey {
		kb, _ := pem.Decode([]byte(m.PrivateKeyPEM))
		if kb == nil {
			return nil, fmt.Errorf("certificate %s: the stored key is not PEM", c.ID)
		}
		keyDER = kb.Bytes
		key, err := x509.ParsePKCS8PrivateKey(keyDER)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", c.ID, err)
		}
		if pfx, err = pkcs12.Modern.WithRand(rand.Reader).Encode(key, leaf, chain, m.Password); err != nil {
			return nil, fmt.Errorf("certificate %s: make its PFX: %w", c.ID, err)
		}
	} else {
		if pfx, err = pkcs12.Modern.WithRand(rand.Reader).EncodeTrustStore(append([]*x509.Certificate{leaf}, chain...), m.Password); err != nil {
			return nil, fmt.Errorf("certificate %s: make its PFX: %w", c.ID, err)
		}
	}
	b64 := base64.StdEncoding.EncodeToString
	out := []Value{
		{"", c.ID, false},
		{".Type", model.VariableTypeCertificate, false},
		{".Name", c.Name, false},
		{".Thumbprint", c.Thumbprint, false},
		{".RawOriginal", b64(m.Original), hasKey},
		{".Password", m.Password, m.Password != ""},
		{".Pfx", b64(pfx), hasKey},
		{".Certificate", b64(leaf.Raw), false},
		{".CertificatePem", m.CertificatePEM, false},
		{".ChainPem", m.ChainPEM, false},
		{".Subject", c.Subject, false},
		{".SubjectCommonName", c.SubjectCommonName, false},
		{".Issuer", c.Issuer, false},
		{".NotBefore", c.NotBefore.UTC().Format(octopusTime), false},
		{".NotAfter", c.NotAfter.UTC().Format(octopusTime), false},
	}
	if hasKey {
		out = append(out, Value{".PrivateKey", b64(keyDER), true}, Value{".PrivateKeyPem", m.PrivateKeyPEM, true})
	}
	return out, nil
}

// Package comms is how calls travel between the server and its agents,
// knowing nothing of what the calls mean: self-signed certificates pinned by
// thumbprint on both sides, one TLS connection per agent multiplexed with
// yamux, and small framed calls on its streams. Whoever dialled, the server
// opens the streams, so listening and polling agents share everything after
// the handshake.
package comms

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Identity is a certificate and its key, and the thumbprint peers pin.
type Identity struct {
	Certificate tls.Certificate
	Thumbprint  string
	CertPEM     []byte
	KeyPEM      []byte
}

// Thumbprint is the upper-case hex SHA-256 of a certificate's DER bytes.
func Thumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// NormalizeThumbprint accepts a thumbprint as people paste it (any case,
// colons or spaces) and returns the canonical form, or an error saying what
// is wrong.
func NormalizeThumbprint(s string) (string, error) {
	t := strings.ToUpper(strings.NewReplacer(":", "", " ", "").Replace(strings.TrimSpace(s)))
	if len(t) != 64 {
		return "", fmt.Errorf("thumbprint %q is not valid: it should be the 64 hex digits of a SHA-256 certificate thumbprint", s)
	}
	if _, err := hex.DecodeString(t); err != nil {
		return "", fmt.Errorf("thumbprint %q is not valid: it should be hex digits only", s)
	}
	return t, nil
}

// NewIdentity makes a self-signed certificate valid for a century: trust
// comes from pinning its thumbprint, not from dates or names.
func NewIdentity(commonName string) (*Identity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, fmt.Errorf("generate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(100, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return ParseIdentity(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

// ParseIdentity reads a PEM certificate and key.
func ParseIdentity(certPEM, keyPEM []byte) (*Identity, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	return &Identity{Certificate: cert, Thumbprint: Thumbprint(cert.Certificate[0]), CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// LoadOrCreateIdentity keeps an identity in dir (identity.crt, identity.key),
// creating it on first use.
func LoadOrCreateIdentity(dir, commonName string) (*Identity, error) {
	certPath, keyPath := filepath.Join(dir, "identity.crt"), filepath.Join(dir, "identity.key")
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	if certErr == nil && keyErr == nil {
		return ParseIdentity(certPEM, keyPEM)
	}
	if !errors.Is(certErr, os.ErrNotExist) || !errors.Is(keyErr, os.ErrNotExist) {
		return nil, fmt.Errorf("read identity in %s: %w", dir, errors.Join(certErr, keyErr))
	}
	id, err := NewIdentity(commonName)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	// The key first: a certificate without its key would block the next start.
	if err := writeFileAtomic(keyPath, id.KeyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(certPath, id.CertPEM, 0o644); err != nil {
		return nil, err
	}
	return id, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

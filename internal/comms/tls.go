package comms

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
)

// UntrustedError says a peer presented a certificate we do not trust.
type UntrustedError struct {
	Thumbprint string
	Expected   string // for a dialled peer, the pinned thumbprint
}

func (e *UntrustedError) Error() string {
	if e.Expected != "" {
		return fmt.Sprintf("the peer presented certificate %s, but %s is the one trusted for it", e.Thumbprint, e.Expected)
	}
	return fmt.Sprintf("certificate %s is not trusted", e.Thumbprint)
}

// TrustSet is a changing set of trusted thumbprints. Removing one calls the
// revocation hooks, so live connections made under it can be dropped.
type TrustSet struct {
	mu     sync.RWMutex
	set    map[string]bool
	revoke []func(thumbprint string)
}

// NewTrustSet trusts the given thumbprints.
func NewTrustSet(thumbprints ...string) *TrustSet {
	t := &TrustSet{set: map[string]bool{}}
	for _, tp := range thumbprints {
		t.set[tp] = true
	}
	return t
}

// Trusts reports whether thumbprint is trusted.
func (t *TrustSet) Trusts(thumbprint string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.set[thumbprint]
}

// Add trusts a thumbprint.
func (t *TrustSet) Add(thumbprint string) {
	t.mu.Lock()
	t.set[thumbprint] = true
	t.mu.Unlock()
}

// Remove stops trusting a thumbprint and tells every hook.
func (t *TrustSet) Remove(thumbprint string) {
	t.mu.Lock()
	delete(t.set, thumbprint)
	hooks := append([]func(string){}, t.revoke...)
	t.mu.Unlock()
	for _, h := range hooks {
		h(thumbprint)
	}
}

// Replace makes the set exactly these thumbprints, revoking the rest.
func (t *TrustSet) Replace(thumbprints []string) {
	want := map[string]bool{}
	for _, tp := range thumbprints {
		want[tp] = true
	}
	t.mu.Lock()
	var gone []string
	for tp := range t.set {
		if !want[tp] {
			gone = append(gone, tp)
		}
	}
	t.set = want
	hooks := append([]func(string){}, t.revoke...)
	t.mu.Unlock()
	for _, tp := range gone {
		for _, h := range hooks {
			h(tp)
		}
	}
}

// OnRevoke registers a hook called with each thumbprint that stops being trusted.
func (t *TrustSet) OnRevoke(h func(thumbprint string)) {
	t.mu.Lock()
	t.revoke = append(t.revoke, h)
	t.mu.Unlock()
}

// peerThumbprint reads the thumbprint of the certificate a peer presented.
func peerThumbprint(rawCerts [][]byte) (string, error) {
	if len(rawCerts) == 0 {
		return "", errors.New("the peer presented no certificate")
	}
	if _, err := x509.ParseCertificate(rawCerts[0]); err != nil {
		return "", fmt.Errorf("the peer's certificate is malformed: %w", err)
	}
	return Thumbprint(rawCerts[0]), nil
}

// ListenerTLS is the configuration of the side that accepts: it demands a
// client certificate and accepts only thumbprints trusted now.
func ListenerTLS(id *Identity, trusted func(thumbprint string) bool) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{id.Certificate},
		ClientAuth:   tls.RequireAnyClientCert,
		MinVersion:   tls.VersionTLS13,
		VerifyPeerCertificate: func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
			tp, err := peerThumbprint(rawCerts)
			if err != nil {
				return err
			}
			if !trusted(tp) {
				return &UntrustedError{Thumbprint: tp}
			}
			return nil
		},
	}
}

// DialerTLS is the configuration of the side that dials: it presents its own
// certificate and accepts the peer only if its thumbprint is the pinned one.
// Names and dates are not checked; the pin is the whole of the trust.
func DialerTLS(id *Identity, pinned string) *tls.Config {
	return &tls.Config{
		Certificates:       []tls.Certificate{id.Certificate},
		InsecureSkipVerify: true, // verified by thumbprint below
		MinVersion:         tls.VersionTLS13,
		VerifyPeerCertificate: func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
			tp, err := peerThumbprint(rawCerts)
			if err != nil {
				return err
			}
			if tp != pinned {
				return &UntrustedError{Thumbprint: tp, Expected: pinned}
			}
			return nil
		},
	}
}

package sshtarget

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"golang.org/x/crypto/ssh"
)

// HostKeyMismatchError is returned (wrapped) when a machine presents a host
// key other than the one it was registered with.
type HostKeyMismatchError struct {
	Address  string
	Expected string
	Got      string
}

// Answered marks the mismatch as final: retrying will meet the same key.
func (e *HostKeyMismatchError) Answered() bool { return true }

func (e *HostKeyMismatchError) Error() string {
	return fmt.Sprintf("ssh host key of %s is %s, but the machine is registered with %s: "+
		"the host was reinstalled or someone is in the middle; "+
		"if the change is expected, update the machine's host key fingerprint",
		e.Address, e.Got, e.Expected)
}

// hostKeyAlgorithms is OpenSSH's own preference among plain host keys
// (ed25519 first), not the Go library's (ECDSA first): a machine with
// several host keys then presents the key whose fingerprint ssh showed the
// person who registered it, and that ssh-keygen -lf prints for
// ssh_host_ed25519_key.pub. Certificates are left out: a pin names a key.
func hostKeyAlgorithms() []string {
	return []string{
		ssh.KeyAlgoED25519,
		ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
	}
}

// pinnedHostKey accepts only the key with the given fingerprint.
func pinnedHostKey(address, fingerprint string) ssh.HostKeyCallback {
	return func(_ string, _ net.Addr, key ssh.PublicKey) error {
		if got := ssh.FingerprintSHA256(key); got != fingerprint {
			return &HostKeyMismatchError{Address: address, Expected: fingerprint, Got: got}
		}
		return nil
	}
}

// ScanHostKey connects to a machine and returns the fingerprint of the host
// key it presents, in ssh-keygen's form, without logging in. It is what a
// person registering the machine confirms and pins. Port 0 means 22.
//
// It asks for host key algorithms in the same order as a Target, so a
// machine with several host keys presents the same one to both.
func ScanHostKey(ctx context.Context, host string, port int) (string, error) {
	if port == 0 {
		port = defaultPort
	}
	address := net.JoinHostPort(host, strconv.Itoa(port))
	var got string
	presented := errors.New("host key presented")
	cfg := &ssh.ClientConfig{
		User:              "pulpo-host-key-scan", // never used: the scan stops before authentication
		HostKeyAlgorithms: hostKeyAlgorithms(),
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			got = ssh.FingerprintSHA256(key)
			return presented
		},
	}
	_, err := handshake(ctx, address, cfg, defaultDialTimeout)
	if got != "" {
		return got, nil
	}
	return "", fmt.Errorf("read the ssh host key of %s: %w", address, err)
}

package sshtarget

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Config says how to reach and use a machine over SSH.
type Config struct {
	// Name is shown in task logs; user@host:port by default.
	Name string
	Host string
	// Port is 22 when 0.
	Port int
	User string
	// PrivateKeyPEM is an unencrypted private key in OpenSSH or PEM form.
	PrivateKeyPEM []byte
	// Password is used when there is no key, or the key is refused.
	Password string
	// HostKeyFingerprint pins the machine's host key, in ssh-keygen's form
	// "SHA256:base64...". It is required: an unchecked host key would hand
	// scripts and files to whoever answers at the address.
	HostKeyFingerprint string
	// RemoteHome holds the pulpo binary, workspaces and relative file paths
	// on the machine; relative to the login user's home. ".pulpo" by default.
	RemoteHome string
	// LocalBinary is the pulpo binary sent to the machine; this process's
	// own executable by default.
	LocalBinary string
	// Version is this server's version, reported by Capabilities when the
	// machine does not report its own.
	Version string
	// DialTimeout bounds connecting and the SSH handshake; 15s by default.
	DialTimeout time.Duration
}

// Defaults of Config.
const (
	defaultPort        = 22
	defaultRemoteHome  = ".pulpo"
	defaultDialTimeout = 15 * time.Second
)

// normalized checks the config and fills in defaults, saying what to fix.
func (c Config) normalized() (Config, error) {
	if c.Port == 0 {
		c.Port = defaultPort
	}
	if c.RemoteHome == "" {
		c.RemoteHome = defaultRemoteHome
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = defaultDialTimeout
	}
	if c.Name == "" {
		c.Name = c.User + "@" + c.address()
	}
	var problems []string
	if strings.TrimSpace(c.Host) == "" {
		problems = append(problems, "the host is missing")
	}
	if c.Port < 0 || c.Port > 65535 {
		problems = append(problems, fmt.Sprintf("the port %d is not between 1 and 65535", c.Port))
	}
	if c.User == "" {
		problems = append(problems, "the user is missing")
	}
	if len(c.PrivateKeyPEM) == 0 && c.Password == "" {
		problems = append(problems, "give a private key or a password")
	}
	if fp, err := normalizeFingerprint(c.HostKeyFingerprint); err != nil {
		problems = append(problems, err.Error())
	} else {
		c.HostKeyFingerprint = fp
	}
	if strings.HasPrefix(c.RemoteHome, "~") {
		problems = append(problems, fmt.Sprintf("the remote home %q starts with ~, which is not expanded: write it relative to the login home (e.g. .pulpo) or absolute", c.RemoteHome))
	}
	c.RemoteHome = path.Clean(c.RemoteHome)
	if c.LocalBinary == "" {
		exe, err := os.Executable()
		if err != nil {
			problems = append(problems, fmt.Sprintf("find this server's own binary to send: %v", err))
		}
		c.LocalBinary = exe
	}
	if c.LocalBinary != "" {
		if fi, err := os.Stat(c.LocalBinary); err != nil {
			problems = append(problems, fmt.Sprintf("the pulpo binary to send: %v", err))
		} else if !fi.Mode().IsRegular() {
			problems = append(problems, fmt.Sprintf("the pulpo binary to send, %s, is not a regular file", c.LocalBinary))
		}
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("ssh target %s: %s", c.Name, strings.Join(problems, "; "))
	}
	return c, nil
}

func (c Config) address() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// normalizeFingerprint checks a "SHA256:..." fingerprint and returns it in
// the unpadded form ssh.FingerprintSHA256 produces.
func normalizeFingerprint(fp string) (string, error) {
	fp = strings.TrimSpace(fp)
	if fp == "" {
		return "", errors.New("the host key fingerprint is missing: read it with ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the machine, or scan it")
	}
	b64, ok := strings.CutPrefix(fp, "SHA256:")
	b64 = strings.TrimRight(b64, "=")
	if sum, err := base64.RawStdEncoding.DecodeString(b64); !ok || err != nil || len(sum) != 32 {
		return "", fmt.Errorf("the host key fingerprint %q is not in the form SHA256:<base64>, as ssh-keygen -l prints it", fp)
	}
	return "SHA256:" + b64, nil
}

// credentials names what the target logs in with, for messages.
func (c Config) credentials() string {
	switch {
	case len(c.PrivateKeyPEM) > 0 && c.Password != "":
		return "private key and password"
	case len(c.PrivateKeyPEM) > 0:
		return "private key"
	}
	return "password"
}

// authMethods turns the configured credentials into SSH authentication.
func (c Config) authMethods() ([]ssh.AuthMethod, error) {
	var methods []ssh.AuthMethod
	if len(c.PrivateKeyPEM) > 0 {
		signer, err := ssh.ParsePrivateKey(c.PrivateKeyPEM)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("ssh target %s: the private key is protected by a passphrase; give an unencrypted key", c.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("ssh target %s: read the private key: %w", c.Name, err)
		}
		methods = append(methods, ssh.PublicKeys(signer))
	}
	if c.Password != "" {
		methods = append(methods, ssh.Password(c.Password),
			// Servers that check passwords through PAM ask for them this way.
			ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range questions {
					if !echos[i] {
						answers[i] = c.Password
					}
				}
				return answers, nil
			}))
	}
	return methods, nil
}

package server

import (
	"net"
	"strconv"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/sshtarget"
)

// sshDialer makes SSH targets for the connection manager.
type sshDialer struct{ version string }

func (d sshDialer) Target(m model.Machine, creds model.SSHCredentials) (contract.Target, interface{ Close() error }, error) {
	host, portText, err := net.SplitHostPort(m.Address)
	if err != nil {
		host, portText = m.Address, "22"
	}
	port, _ := strconv.Atoi(portText)
	cfg := sshtarget.Config{Name: m.Name, Host: host, Port: port, Version: d.version,
		PrivateKeyPEM: []byte(creds.PrivateKey), Password: creds.Password}
	if m.SSH != nil {
		cfg.User, cfg.HostKeyFingerprint, cfg.RemoteHome = m.SSH.User, m.SSH.HostKeyFingerprint, m.SSH.Home
	}
	t, err := sshtarget.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	return t, t, nil
}

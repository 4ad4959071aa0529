package sshtarget_test

import (
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/sshtarget"
)

func TestNewSaysWhatIsWrongWithAConfig(t *testing.T) {
	valid := sshtarget.Config{
		Host:               "web-01",
		User:               "deploy",
		Password:           "secret",
		HostKeyFingerprint: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
		LocalBinary:        pulpoBinary,
	}
	tests := []struct {
		name    string
		change  func(*sshtarget.Config)
		wantErr string
	}{
		{name: "valid", change: func(*sshtarget.Config) {}},
		{name: "padded fingerprint", change: func(c *sshtarget.Config) { c.HostKeyFingerprint += "=" }},
		{name: "no host", change: func(c *sshtarget.Config) { c.Host = "" }, wantErr: "the host is missing"},
		{name: "no user", change: func(c *sshtarget.Config) { c.User = "" }, wantErr: "the user is missing"},
		{name: "bad port", change: func(c *sshtarget.Config) { c.Port = 70000 }, wantErr: "port 70000"},
		{name: "no credentials", change: func(c *sshtarget.Config) { c.Password = "" }, wantErr: "give a private key or a password"},
		{name: "no fingerprint", change: func(c *sshtarget.Config) { c.HostKeyFingerprint = "" }, wantErr: "fingerprint is missing"},
		{name: "MD5 fingerprint", change: func(c *sshtarget.Config) { c.HostKeyFingerprint = "MD5:16:27:ac:a5:76:28" }, wantErr: "not in the form SHA256:"},
		{name: "tilde home", change: func(c *sshtarget.Config) { c.RemoteHome = "~/pulpo" }, wantErr: "starts with ~"},
		{name: "missing binary", change: func(c *sshtarget.Config) { c.LocalBinary = "/nonexistent/pulpo" }, wantErr: "the pulpo binary to send"},
		{name: "unreadable key", change: func(c *sshtarget.Config) { c.PrivateKeyPEM = []byte("not a key") }, wantErr: "read the private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.change(&cfg)
			tg, err := sshtarget.New(cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tg.Name() != "deploy@web-01:22" {
					t.Errorf("default name %q", tg.Name())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
}

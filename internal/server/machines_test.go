package server_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/server"
)

const thumb = "9F2C6A0E5B1D4C3A8E7F6B5A4D3C2B1A0F9E8D7C6B5A4F3E2D1C0B9A8F7E6D5C"

func TestMachineInputIsCheckedAndSecretsStaySecret(t *testing.T) {
	eachDatabase(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		dev, err := s.client.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
		if err != nil {
			t.Fatal(err)
		}
		env := `"environmentIds":["` + dev.ID + `"],"roles":["web"]`
		tests := []struct {
			name, body string
			status     int
			contains   string
		}{
			{"unknown kind", `{"name":"m","kind":"ftp","usage":"target",` + env + `}`, 400, `"ftp" is not a kind of machine`},
			{"missing thumbprint", `{"name":"m","kind":"polling","usage":"target",` + env + `}`, 400, "thumbprint: must be the agent certificate's SHA-256 thumbprint"},
			{"listening without address", `{"name":"m","kind":"listening","usage":"target","thumbprint":"` + thumb + `",` + env + `}`, 400, "address: is required"},
			{"target without roles", `{"name":"m","kind":"polling","usage":"target","thumbprint":"` + thumb + `","environmentIds":["` + dev.ID + `"]}`, 400, "needs at least one role"},
			{"unknown environment", `{"name":"m","kind":"polling","usage":"target","thumbprint":"` + thumb + `","environmentIds":["Environments-9"],"roles":["web"]}`, 400, `environment "Environments-9" does not exist`},
			{"ssh without credentials", `{"name":"m","kind":"ssh","usage":"target","address":"h:22","ssh":{"user":"u","hostKeyFingerprint":"SHA256:x"},` + env + `}`, 400, "needs a privateKey or a password"},
			{"ssh without host key", `{"name":"m","kind":"ssh","usage":"target","address":"h","ssh":{"user":"u"},"credentials":{"password":"p"},` + env + `}`, 400, "hostKeyFingerprint: is required"},
			{"credentials on an agent", `{"name":"m","kind":"polling","usage":"target","thumbprint":"` + thumb + `","credentials":{"password":"p"},` + env + `}`, 400, "only SSH machines have credentials"},
			{"worker with environments", `{"name":"m","kind":"polling","usage":"worker","thumbprint":"` + thumb + `","workerPoolIds":["WorkerPools-1"],` + env + `}`, 400, "a worker serves every environment"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, eb, raw := s.call(t, "POST", "/api/v1/machines", tt.body, nil)
				text := eb.Error + " | " + strings.Join(eb.Details, " | ")
				if status != tt.status || !strings.Contains(text, tt.contains) {
					t.Fatalf("status %d, want %d with %q: %s", status, tt.status, tt.contains, raw)
				}
			})
		}

		// A pasted thumbprint is normalised; the same agent cannot be two machines.
		lower := strings.ToLower(thumb[:2]) + ":" + strings.ToLower(thumb[2:])
		m, err := s.client.CreateMachine(ctx, model.Machine{Name: "agent-1", Kind: model.MachinePolling, Usage: model.UsageTarget,
			Thumbprint: lower, EnvironmentIDs: []string{dev.ID}, Roles: []string{"web"}})
		if err != nil || m.Thumbprint != thumb {
			t.Fatalf("create: %+v %v", m, err)
		}
		status, eb, _ := s.call(t, "POST", "/api/v1/machines", `{"name":"agent-2","kind":"polling","usage":"target","thumbprint":"`+thumb+`",`+env+`}`, nil)
		if status != 409 || !strings.Contains(eb.Error, `machine "agent-1" already has the certificate thumbprint`) {
			t.Fatalf("duplicate thumbprint: %d %+v", status, eb)
		}

		// SSH credentials go in and never come out.
		const secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nvery-secret-key-material\n-----END OPENSSH PRIVATE KEY-----\n"
		sshm, err := s.client.CreateMachine(ctx, model.Machine{Name: "db-1", Kind: model.MachineSSH, Usage: model.UsageTarget, Address: "db:22",
			SSH: &model.SSHEndpoint{User: "deploy", HostKeyFingerprint: "SHA256:abc"}, Credentials: &model.SSHCredentials{PrivateKey: secret},
			EnvironmentIDs: []string{dev.ID}, Roles: []string{"db"}})
		if err != nil {
			t.Fatal(err)
		}
		if sshm.Credentials != nil || sshm.SSH.AuthMethod != "key" {
			t.Fatalf("the create response: %+v %+v", sshm.Credentials, sshm.SSH)
		}
		for _, path := range []string{"/api/v1/machines/" + sshm.ID, "/api/v1/machines", "/api/v1/export"} {
			_, _, raw := s.call(t, "GET", path, "", nil)
			if strings.Contains(string(raw), "very-secret") || strings.Contains(string(raw), "privateKey") {
				t.Fatalf("%s shows the credential:\n%s", path, raw)
			}
		}
		// An update without credentials keeps them.
		sshm.Roles = []string{"db", "cache"}
		if sshm, err = s.client.UpdateMachine(ctx, sshm); err != nil || sshm.SSH.AuthMethod != "key" {
			t.Fatalf("update: %+v %v", sshm, err)
		}
	})
}

// TestSecretsAreSealedAtRest reads the SQLite file directly.
func TestSecretsAreSealedAtRest(t *testing.T) {
	data := t.TempDir()
	n, err := server.New(context.Background(), server.Config{DataDir: data, AdminAPIKey: adminKey, NodeName: "test", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ts := serve(t, n)
	ctx := context.Background()
	dev, _ := ts.client.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
	if _, err := ts.client.CreateMachine(ctx, model.Machine{Name: "db-1", Kind: model.MachineSSH, Usage: model.UsageTarget, Address: "db:22",
		SSH: &model.SSHEndpoint{User: "deploy", HostKeyFingerprint: "SHA256:abc"}, Credentials: &model.SSHCredentials{Password: "hunter2-password"},
		EnvironmentIDs: []string{dev.ID}, Roles: []string{"db"}}); err != nil {
		t.Fatal(err)
	}
	ts.close()
	var found []string
	filepath.Walk(data, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), "hunter2-password") || strings.Contains(string(b), "BEGIN EC PRIVATE KEY") || strings.Contains(string(b), "BEGIN PRIVATE KEY") {
				found = append(found, path)
			}
		}
		return nil
	})
	if len(found) > 0 {
		t.Fatalf("secrets in the clear in %v", found)
	}

	// Started with another master key, the server refuses the database.
	_, err = server.New(context.Background(), server.Config{DataDir: data, MasterKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", NodeName: "test", Version: "test"})
	if err == nil || !strings.Contains(err.Error(), "not the one this database was made with") {
		t.Fatalf("a wrong master key: %v", err)
	}
	db, err := sql.Open("sqlite", filepath.Join(data, "pulpo.db"))
	if err == nil {
		var sealed string
		db.QueryRow(`SELECT credentials FROM machines`).Scan(&sealed)
		db.Close()
		if !strings.HasPrefix(sealed, "v1.") {
			t.Fatalf("credentials stored as %q", sealed)
		}
	}
}

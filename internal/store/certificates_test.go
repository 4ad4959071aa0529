package store_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/testutil/certtest"
)

func pemUpload(t *testing.T, c certtest.Cert) string {
	t.Helper()
	var b []byte
	for _, f := range []string{c.Cert, c.Key} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, data...)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestCertificates(t *testing.T) {
	dir := t.TempDir()
	site := certtest.MakeDays(t, dir, "site", "rsa:2048", "site.example.test", 30)
	renewed := certtest.MakeDays(t, dir, "renewed", "ec", "site.example.test", 90)
	eachStore(t, func(t *testing.T, s *store.Store, clk *clock) {
		ctx := context.Background()
		box, _ := secrets.New(secrets.NewKey())
		s.SetSealer(box)
		envs := createEnvs(t, s, "Dev", "Production")

		cert := model.Certificate{Name: "Site TLS", Notes: "for the site", CertificateData: pemUpload(t, site)}
		tx(t, s, func(q *store.Queries) error { return q.CreateCertificate(ctx, &cert) })
		if cert.ID != "Certificates-1" || cert.Thumbprint != site.Thumbprint || cert.CertificateData != "" || !cert.HasPrivateKey || cert.Format != "Pem" {
			t.Fatalf("created %+v", cert)
		}
		got, err := s.Read().GetCertificate(ctx, "site tls")
		if err != nil || got.Thumbprint != site.Thumbprint || got.Notes != "for the site" || !got.NotAfter.Equal(site.NotAfter) || got.Subject != "CN=site.example.test" {
			t.Fatalf("read back %+v, %v", got, err)
		}
		// Same name again, a broken file, a wrong environment: 4xx errors.
		if err := mustFail(t, s, store.ErrConflict, func(q *store.Queries) error {
			return q.CreateCertificate(ctx, &model.Certificate{Name: "site tls", CertificateData: pemUpload(t, site)})
		}); !strings.Contains(err.Error(), "already") {
			t.Errorf("duplicate name: %v", err)
		}
		for _, bad := range []model.Certificate{
			{Name: "junk", CertificateData: "not base64!"},
			{Name: "junk", CertificateData: base64.StdEncoding.EncodeToString([]byte("junk"))},
			{Name: "junk", CertificateData: pemUpload(t, site), EnvironmentIDs: []string{"Environments-99"}},
		} {
			if err := mustFail(t, s, nil, func(q *store.Queries) error { return q.CreateCertificate(ctx, &bad) }); !isValidation(err) {
				t.Errorf("%+v: %v", bad, err)
			}
		}
		// The material is sealed: opened with the key, it holds the key.
		_, m, err := s.Read().CertificateMaterial(ctx, cert.ID)
		if err != nil || m.PrivateKeyPEM == "" || !strings.Contains(m.CertificatePEM, "BEGIN CERTIFICATE") {
			t.Fatalf("material: %v", err)
		}

		// A certificate variable names it by name or id; the store keeps the id.
		p := model.Project{Name: "web"}
		tx(t, s, func(q *store.Queries) error { return q.CreateProject(ctx, &p) })
		vs := model.VariableSet{OwnerID: p.ID, Variables: []model.Variable{{Name: "SiteCert", Type: "certificate", Value: "Site TLS"}}}
		tx(t, s, func(q *store.Queries) error { return q.SaveVariables(ctx, &vs) })
		if v := vs.Variables[0]; v.Value != cert.ID || v.Type != model.VariableTypeCertificate {
			t.Fatalf("saved %+v", v)
		}
		for _, bad := range []model.Variable{
			{Name: "Missing", Type: "Certificate", Value: "Certificates-99"},
			{Name: "Odd", Type: "Account", Value: "x"},
			{Name: "Secret", Type: "Certificate", Value: cert.ID, Sensitive: true},
		} {
			bvs := model.VariableSet{OwnerID: p.ID, Version: vs.Version, Variables: []model.Variable{bad}}
			if err := mustFail(t, s, nil, func(q *store.Queries) error { return q.SaveVariables(ctx, &bvs) }); !isValidation(err) {
				t.Errorf("%+v: %v", bad, err)
			}
		}
		// A certificate limited to Production needs variables scoped there:
		// limiting it is refused while a variable may use it elsewhere, and
		// a variable cannot name it for Dev.
		cert.EnvironmentIDs = []string{envs[1].ID}
		if err := mustFail(t, s, nil, func(q *store.Queries) error { return q.UpdateCertificate(ctx, &cert) }); !strings.Contains(err.Error(), `variable SiteCert of project "web"`) {
			t.Errorf("limiting a certificate an unscoped variable names: %v", err)
		}
		bvs := model.VariableSet{OwnerID: p.ID, Version: vs.Version, Variables: []model.Variable{{Name: "SiteCert", Type: "Certificate", Value: cert.ID,
			Scope: model.Scope{Environments: []string{envs[1].ID}}}}}
		tx(t, s, func(q *store.Queries) error { return q.SaveVariables(ctx, &bvs) })
		tx(t, s, func(q *store.Queries) error { return q.UpdateCertificate(ctx, &cert) })
		if cert.Thumbprint != site.Thumbprint || len(cert.EnvironmentIDs) != 1 {
			t.Fatalf("update changed what was read: %+v", cert)
		}
		dev := model.VariableSet{OwnerID: p.ID, Version: bvs.Version, Variables: []model.Variable{{Name: "SiteCert", Type: "Certificate", Value: cert.ID,
			Scope: model.Scope{Environments: []string{envs[0].ID}}}}}
		if err := mustFail(t, s, nil, func(q *store.Queries) error { return q.SaveVariables(ctx, &dev) }); !strings.Contains(err.Error(), "may not be used in") {
			t.Errorf("a variable for Dev of a Production certificate: %v", err)
		}

		// Deleting is refused while a variable uses it, naming the project.
		if err := mustFail(t, s, store.ErrConflict, func(q *store.Queries) error { return q.DeleteCertificate(ctx, cert.ID) }); !strings.Contains(err.Error(), `project "web"`) {
			t.Errorf("delete in use: %v", err)
		}

		// Expiry: one event per certificate and end date, when it comes
		// within 20 days, to subscriptions that ask for it.
		sub := model.Subscription{Name: "certs", Events: []model.EventKind{model.EventCertificateExpiring}, WebhookURL: "http://127.0.0.1:1/hook"}
		tx(t, s, func(q *store.Queries) error { return q.CreateSubscription(ctx, &sub) })
		notify := func() []model.Certificate {
			t.Helper()
			var told []model.Certificate
			tx(t, s, func(q *store.Queries) (err error) {
				told, err = q.NotifyExpiringCertificates(ctx, model.CertificateExpiryWindow)
				return err
			})
			return told
		}
		clk.Advance(site.NotAfter.Add(-25 * 24 * time.Hour).Sub(clk.Now()))
		if told := notify(); len(told) != 0 {
			t.Fatalf("25 days before the end: %+v", told)
		}
		if got, _ := s.Read().GetCertificate(ctx, cert.ID); got.ExpiringSoon || got.Expired {
			t.Errorf("flags 25 days before: %+v", got)
		}
		clk.Advance(6 * 24 * time.Hour)
		if told := notify(); len(told) != 1 || told[0].ID != cert.ID || !told[0].ExpiringSoon {
			t.Fatalf("19 days before the end: %+v", told)
		}
		if told := notify(); len(told) != 0 {
			t.Fatalf("told twice: %+v", told)
		}
		list, _, err := s.Read().ListDeliveries(ctx, sub.ID, store.ListOptions{})
		if err != nil || len(list) != 1 || list[0].Event != model.EventCertificateExpiring {
			t.Fatalf("deliveries %+v, %v", list, err)
		}
		var payload map[string]any
		json.Unmarshal([]byte(list[0].Payload), &payload)
		if payload["certificateId"] != cert.ID || payload["thumbprint"] != site.Thumbprint || payload["daysLeft"] != float64(19) {
			t.Errorf("payload %s", list[0].Payload)
		}

		// Replacing keeps the id (and the variables), and a new end date is
		// told of again when its time comes.
		var rep model.Certificate
		tx(t, s, func(q *store.Queries) (err error) {
			rep, err = q.ReplaceCertificate(ctx, "Site TLS", model.Certificate{CertificateData: pemUpload(t, renewed)})
			return err
		})
		if rep.ID != cert.ID || rep.Thumbprint != renewed.Thumbprint || rep.ReplacedAt.IsZero() || rep.Name != "Site TLS" || len(rep.EnvironmentIDs) != 1 {
			t.Fatalf("replaced %+v", rep)
		}
		if told := notify(); len(told) != 0 {
			t.Fatalf("a renewed certificate told of at once: %+v", told)
		}
		clk.Advance(renewed.NotAfter.Sub(clk.Now()) + time.Hour)
		if told := notify(); len(told) != 1 || !told[0].Expired {
			t.Fatalf("after the renewed one's end: %+v", told)
		}

		// Archived ones are listed only when asked for.
		tx(t, s, func(q *store.Queries) error { _, err := q.SetCertificateArchived(ctx, cert.ID, true); return err })
		if l, n, _ := s.Read().ListCertificates(ctx, store.CertificateFilter{}); n != 0 || len(l) != 0 {
			t.Errorf("archived still listed: %+v", l)
		}
		// (the replace kept the first file: archived, after it)
		if l, _, _ := s.Read().ListCertificates(ctx, store.CertificateFilter{Archived: true}); len(l) != 2 || l[0].ID != cert.ID || !l[0].Archived || !l[0].Expired || l[1].ReplacedBy != cert.ID {
			t.Errorf("with archived: %+v", l)
		}

		// An archived certificate stays with the variables that named it,
		// but new ones cannot name it.
		tx(t, s, func(q *store.Queries) error { _, err := q.SetCertificateArchived(ctx, cert.ID, true); return err })
		tx(t, s, func(q *store.Queries) error { return q.SaveVariables(ctx, &bvs) })
		other := model.Project{Name: "api"}
		tx(t, s, func(q *store.Queries) error { return q.CreateProject(ctx, &other) })
		ovs := model.VariableSet{OwnerID: other.ID, Variables: []model.Variable{{Name: "C", Type: "Certificate", Value: cert.ID, Scope: bvs.Variables[0].Scope}}}
		if err := mustFail(t, s, nil, func(q *store.Queries) error { return q.SaveVariables(ctx, &ovs) }); !strings.Contains(err.Error(), "archived") {
			t.Errorf("naming an archived certificate: %v", err)
		}

		// Once no variable names it, it can go.
		vs = model.VariableSet{OwnerID: p.ID, Version: bvs.Version}
		tx(t, s, func(q *store.Queries) error { return q.SaveVariables(ctx, &vs) })
		tx(t, s, func(q *store.Queries) error { return q.DeleteCertificate(ctx, cert.ID) })
		if _, err := s.Read().GetCertificate(ctx, cert.ID); err == nil {
			t.Error("still there after delete")
		}
	})
}

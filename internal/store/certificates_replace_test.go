package store_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/testutil/certtest"
)

// TestCertificateReplaceKeepsBackups: replacing keeps the certificate's id
// and keeps the previous file as an archived backup that names it, as
// Octopus does; backups are never told of as expiring, share their name
// without holding it, come back only under a free name, and go with the
// certificate they belong to.
func TestCertificateReplaceKeepsBackups(t *testing.T) {
	dir := t.TempDir()
	site := certtest.MakeDays(t, dir, "site", "ec", "site.example.test", 30)
	renewed := certtest.MakeDays(t, dir, "renewed", "ec", "site.example.test", 90)
	third := certtest.MakeDays(t, dir, "third", "ec", "site.example.test", 365)
	sitePEM, err := os.ReadFile(site.Cert)
	if err != nil {
		t.Fatal(err)
	}
	eachStore(t, func(t *testing.T, s *store.Store, clk *clock) {
		ctx := context.Background()
		box, _ := secrets.New(secrets.NewKey())
		s.SetSealer(box)
		cert := model.Certificate{Name: "Site TLS", Notes: "front door", CertificateData: pemUpload(t, site)}
		tx(t, s, func(q *store.Queries) error { return q.CreateCertificate(ctx, &cert) })
		replace := func(c certtest.Cert) model.Certificate {
			t.Helper()
			var out model.Certificate
			tx(t, s, func(q *store.Queries) (err error) {
				out, err = q.ReplaceCertificate(ctx, cert.ID, model.Certificate{CertificateData: pemUpload(t, c)})
				return err
			})
			return out
		}
		backups := func() []model.Certificate {
			t.Helper()
			l, n, err := s.Read().ListCertificates(ctx, store.CertificateFilter{ReplacedBy: cert.ID})
			if err != nil || n != len(l) {
				t.Fatalf("list backups: %d of %d, %v", len(l), n, err)
			}
			return l
		}

		clk.Advance(time.Hour)
		rep := replace(renewed)
		if rep.ID != cert.ID || rep.Thumbprint != renewed.Thumbprint || rep.Archived || rep.ReplacedBy != "" || rep.Name != "Site TLS" {
			t.Fatalf("replaced %+v", rep)
		}
		if got, err := s.Read().GetCertificate(ctx, "site tls"); err != nil || got.ID != cert.ID || got.Thumbprint != renewed.Thumbprint {
			t.Fatalf("by name after the replace: %+v, %v", got, err)
		}
		b := backups()
		if len(b) != 1 {
			t.Fatalf("backups after one replace: %+v", b)
		}
		first := b[0]
		if first.ID == cert.ID || !first.Archived || first.ReplacedBy != cert.ID || first.Thumbprint != site.Thumbprint || first.Name != "Site TLS" ||
			first.Notes != "front door" || !first.CreatedAt.Equal(cert.CreatedAt) || !first.ReplacedAt.Equal(rep.ReplacedAt) || !first.NotAfter.Equal(site.NotAfter) {
			t.Fatalf("backup %+v of %+v", first, rep)
		}
		// Its sealed material is the old certificate's.
		_, m, err := s.Read().CertificateMaterial(ctx, first.ID)
		if err != nil || strings.TrimSpace(m.CertificatePEM) != strings.TrimSpace(string(sitePEM)) || m.PrivateKeyPEM == "" {
			t.Fatalf("the backup's material: %v\n%s", err, m.CertificatePEM)
		}
		// Backups are archived: out of the plain list, in the archived one.
		if l, n, _ := s.Read().ListCertificates(ctx, store.CertificateFilter{}); n != 1 || l[0].ID != cert.ID {
			t.Errorf("the plain list: %+v", l)
		}
		if l, n, _ := s.Read().ListCertificates(ctx, store.CertificateFilter{Archived: true}); n != 2 || l[0].ID != cert.ID || l[1].ID != first.ID {
			t.Errorf("the list with archived ones: %+v", l)
		}

		// Twice: two backups, the latest first.
		clk.Advance(time.Hour)
		replace(third)
		b = backups()
		if len(b) != 2 || b[0].Thumbprint != renewed.Thumbprint || b[1].ID != first.ID || b[0].ReplacedBy != cert.ID || !b[0].Archived {
			t.Fatalf("backups after two replaces: %+v", b)
		}
		second := b[0]

		// The old files' ends come and go: no backup is told of.
		clk.Advance(renewed.NotAfter.Sub(clk.Now()) - 24*time.Hour)
		var told []model.Certificate
		tx(t, s, func(q *store.Queries) (err error) {
			told, err = q.NotifyExpiringCertificates(ctx, model.CertificateExpiryWindow)
			return err
		})
		if len(told) != 0 {
			t.Fatalf("backups told of as expiring: %+v", told)
		}

		// Backups do not hold the name: the certificate can be renamed and a
		// new one take the name.
		cert.Name = "Site TLS 2027"
		tx(t, s, func(q *store.Queries) error { return q.UpdateCertificate(ctx, &cert) })
		fresh := model.Certificate{Name: "Site TLS", CertificateData: pemUpload(t, site)}
		tx(t, s, func(q *store.Queries) error { return q.CreateCertificate(ctx, &fresh) })
		if got, err := s.Read().GetCertificate(ctx, "Site TLS"); err != nil || got.ID != fresh.ID {
			t.Fatalf("by name, with backups of that name: %+v, %v", got, err)
		}
		// Restoring a backup whose name is taken says to rename it.
		if err := mustFail(t, s, store.ErrConflict, func(q *store.Queries) error {
			_, err := q.SetCertificateArchived(ctx, second.ID, false)
			return err
		}); !strings.Contains(err.Error(), "rename this earlier version") {
			t.Errorf("restoring under a taken name: %v", err)
		}
		// Renamed while archived, it comes back and holds its new name.
		second.Name = "Site TLS 2026"
		tx(t, s, func(q *store.Queries) error { return q.UpdateCertificate(ctx, &second) })
		tx(t, s, func(q *store.Queries) error { _, err := q.SetCertificateArchived(ctx, second.ID, false); return err })
		if got, err := s.Read().GetCertificate(ctx, "site tls 2026"); err != nil || got.ID != second.ID || got.Archived {
			t.Fatalf("the restored backup by its name: %+v, %v", got, err)
		}
		if err := mustFail(t, s, store.ErrConflict, func(q *store.Queries) error {
			return q.CreateCertificate(ctx, &model.Certificate{Name: "Site TLS 2026", CertificateData: pemUpload(t, site)})
		}); !strings.Contains(err.Error(), "already exists") {
			t.Errorf("the restored backup's name taken again: %v", err)
		}

		// Two replaces at once: each keeps the file the other replaced.
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for _, c := range []certtest.Cert{site, renewed} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- s.Tx(ctx, func(q *store.Queries) error {
					_, err := q.ReplaceCertificate(ctx, cert.ID, model.Certificate{CertificateData: pemUpload(t, c)})
					return err
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("a replace at the same time as another: %v", err)
			}
		}
		b = backups() // the two new ones first, then the restored one and the first
		now, _ := s.Read().GetCertificate(ctx, cert.ID)
		seen := map[string]bool{now.Thumbprint: true}
		for _, k := range b[:2] {
			seen[k.Thumbprint] = true
		}
		// Kept at the same time, the later kept comes first: the one the
		// other replace put in place.
		if len(b) != 4 || len(seen) != 3 || b[1].Thumbprint != third.Thumbprint {
			t.Errorf("after two replaces at once: current %s, backups %+v", now.Thumbprint, b)
		}

		// Deleting the certificate takes its archived backups with it; the
		// restored one stays, no longer naming it.
		tx(t, s, func(q *store.Queries) error { return q.DeleteCertificate(ctx, cert.ID) })
		for _, id := range []string{cert.ID, first.ID} {
			if _, err := s.Read().GetCertificate(ctx, id); err == nil {
				t.Errorf("%s still there after the delete", id)
			}
		}
		if got, err := s.Read().GetCertificate(ctx, second.ID); err != nil || got.ReplacedBy != "" {
			t.Errorf("the restored backup after the delete: %+v, %v", got, err)
		}
	})
}

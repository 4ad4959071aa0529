package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/certs"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// certificateDoc is the public part of a certificate row.
type certificateDoc struct {
	Notes                   string    `json:"notes,omitempty"`
	EnvironmentIDs          []string  `json:"environmentIds,omitempty"`
	Format                  string    `json:"format"`
	Subject                 string    `json:"subject"`
	SubjectCommonName       string    `json:"subjectCommonName,omitempty"`
	Issuer                  string    `json:"issuer"`
	SerialNumber            string    `json:"serialNumber"`
	NotBefore               time.Time `json:"notBefore"`
	SubjectAlternativeNames []string  `json:"subjectAlternativeNames,omitempty"`
	HasPrivateKey           bool      `json:"hasPrivateKey"`
	SelfSigned              bool      `json:"selfSigned"`
	ChainLength             int       `json:"chainLength"`
	HasPassword             bool      `json:"hasPassword,omitempty"`
}

func docOfCertificate(c *model.Certificate) (string, error) {
	return marshal(certificateDoc{Notes: c.Notes, EnvironmentIDs: c.EnvironmentIDs, Format: c.Format, Subject: c.Subject,
		SubjectCommonName: c.SubjectCommonName, Issuer: c.Issuer, SerialNumber: c.SerialNumber, NotBefore: c.NotBefore,
		SubjectAlternativeNames: c.SubjectAlternativeNames, HasPrivateKey: c.HasPrivateKey, SelfSigned: c.SelfSigned,
		ChainLength: c.ChainLength, HasPassword: c.HasPassword})
}

const certificateColumns = `id, name, archived, doc, thumbprint, not_after, created_at, replaced_at, replaced_by`

// certificateNameKey is the name_key a certificate row holds. A backup made
// by a replace (replacedBy set) keeps showing its name but, while it is
// archived, must not hold the name: its key is the name's key, a control
// character (which no name may contain, so no name's key equals it) and its
// id (unique). It sorts right after the current certificate of that name.
func certificateNameKey(name, id string, archived bool, replacedBy string) string {
	if archived && replacedBy != "" {
		return model.NameKey(name) + "\x1f" + model.NameKey(id)
	}
	return model.NameKey(name)
}

// scanCertificate reads a certificate's public fields and judges its
// expiry as of now.
func scanCertificate(s scanner, now time.Time) (model.Certificate, error) {
	var c model.Certificate
	var doc string
	var notAfter, created, replaced int64
	if err := s.Scan(&c.ID, &c.Name, &c.Archived, &doc, &c.Thumbprint, &notAfter, &created, &replaced, &c.ReplacedBy); err != nil {
		return c, err
	}
	var d certificateDoc
	if err := unmarshal(doc, &d); err != nil {
		return c, fmt.Errorf("read certificate %s: %w", c.ID, err)
	}
	c.Notes, c.EnvironmentIDs, c.Format, c.Subject, c.SubjectCommonName = d.Notes, d.EnvironmentIDs, d.Format, d.Subject, d.SubjectCommonName
	c.Issuer, c.SerialNumber, c.NotBefore, c.SubjectAlternativeNames = d.Issuer, d.SerialNumber, d.NotBefore, d.SubjectAlternativeNames
	c.HasPrivateKey, c.SelfSigned, c.ChainLength, c.HasPassword = d.HasPrivateKey, d.SelfSigned, d.ChainLength, d.HasPassword
	c.NotAfter, c.CreatedAt = fromMicros(notAfter), fromMicros(created)
	if replaced != 0 {
		c.ReplacedAt = fromMicros(replaced)
	}
	c.JudgeExpiry(now)
	return c, nil
}

// readUpload parses the write-only upload fields, fills the public fields
// from them and returns the sealed material; it clears the upload fields.
func (q *Queries) readUpload(c *model.Certificate) (string, error) {
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c.CertificateData))
	if err != nil {
		return "", &model.ValidationError{Subject: "certificate", Problems: []string{"certificateData: is not base64: send the file's bytes base64-encoded"}}
	}
	b, err := certs.Parse(data, c.Password)
	if err != nil {
		return "", err
	}
	c.CertificateData, c.Password = "", ""
	b.Describe(c)
	m, err := b.Material()
	if err != nil {
		return "", err
	}
	text, err := m.Encode()
	if err != nil {
		return "", err
	}
	return q.Seal(text)
}

func (q *Queries) checkCertificate(ctx context.Context, c *model.Certificate) error {
	if err := c.Validate(); err != nil {
		return err
	}
	var problems []string
	for _, id := range c.EnvironmentIDs {
		if _, err := q.GetEnvironment(ctx, id); errors.Is(err, ErrNotFound) {
			problems = append(problems, fmt.Sprintf("environmentIds: environment %q does not exist", id))
		} else if err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: "certificate", Problems: problems}
	}
	return nil
}

// CreateCertificate reads an upload (CertificateData, Password) and
// stores the certificate, its material sealed.
func (q *Queries) CreateCertificate(ctx context.Context, c *model.Certificate) error {
	if err := q.checkCertificate(ctx, c); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "certificates", "certificate", c.Name, ""); err != nil {
		return err
	}
	sealed, err := q.readUpload(c)
	if err != nil {
		return err
	}
	doc, err := docOfCertificate(c)
	if err != nil {
		return err
	}
	if c.ID, _, err = q.nextID(ctx, "Certificates"); err != nil {
		return err
	}
	now := q.now()
	_, err = q.exec(ctx, `INSERT INTO certificates (id, name, name_key, archived, doc, thumbprint, not_after, material, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, c.Name, model.NameKey(c.Name), c.Archived, doc, c.Thumbprint, toMicros(c.NotAfter), sealed, toMicros(now))
	if err != nil {
		return fmt.Errorf("create certificate: %w", err)
	}
	c.CreatedAt = fromMicros(toMicros(now))
	c.JudgeExpiry(now)
	return nil
}

// GetCertificate reads a certificate's public fields, by id or name.
func (q *Queries) GetCertificate(ctx context.Context, id string) (model.Certificate, error) {
	c, err := scanCertificate(q.queryRow(ctx, `SELECT `+certificateColumns+` FROM certificates WHERE id = ? OR name_key = ?`, id, model.NameKey(id)), q.now())
	if errors.Is(err, sql.ErrNoRows) {
		return c, notFound("certificate", id)
	}
	return c, err
}

// CertificateFilter narrows a list of certificates.
type CertificateFilter struct {
	ListOptions
	// Archived lists archived certificates too (backups made by replacing
	// are archived).
	Archived bool
	// ReplacedBy lists the backups of one certificate (archived or not),
	// the latest first.
	ReplacedBy string
}

// ListCertificates lists certificates by name.
func (q *Queries) ListCertificates(ctx context.Context, f CertificateFilter) ([]model.Certificate, int, error) {
	var where []string
	var args []any
	if !f.Archived && f.ReplacedBy == "" {
		where = append(where, "archived = ?")
		args = append(args, false)
	}
	order := "name_key"
	if f.ReplacedBy != "" {
		where = append(where, "replaced_by = ?")
		args = append(args, f.ReplacedBy)
		order = "replaced_at DESC, LENGTH(id) DESC, id DESC" // ids of one sequence: the longer, the later
	}
	where, args = f.nameFilter(where, args, "name_key")
	total, err := q.count(ctx, `SELECT COUNT(*) FROM certificates`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list certificates: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+certificateColumns+` FROM certificates`+whereClause(where)+` ORDER BY `+order+f.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list certificates: %w", err)
	}
	now := q.now()
	out, err := collect(rows, func(s scanner) (model.Certificate, error) { return scanCertificate(s, now) })
	return out, total, err
}

// UpdateCertificate changes a certificate's name, notes and environments;
// its material changes only by ReplaceCertificate.
func (q *Queries) UpdateCertificate(ctx context.Context, c *model.Certificate) error {
	if c.CertificateData != "" || c.Password != "" {
		return &model.ValidationError{Subject: "certificate", Problems: []string{"certificateData: a certificate's file is changed by replacing it (POST .../replace), not by an update"}}
	}
	if err := q.checkCertificate(ctx, c); err != nil {
		return err
	}
	old, err := q.GetCertificate(ctx, c.ID)
	if err != nil {
		return err
	}
	// An archived backup does not hold its name, so it may share one.
	key := certificateNameKey(c.Name, old.ID, old.Archived, old.ReplacedBy)
	if key == model.NameKey(c.Name) {
		if err := q.checkNameFree(ctx, "certificates", "certificate", c.Name, old.ID); err != nil {
			return err
		}
	}
	// Limiting it to environments must leave every variable naming it
	// scoped within them.
	if len(c.EnvironmentIDs) > 0 {
		uses, vars, err := q.certificateVariables(ctx, old.ID)
		if err != nil {
			return err
		}
		var problems []string
		for i, v := range vars {
			outside := len(v.Scope.Environments) == 0
			for _, e := range v.Scope.Environments {
				outside = outside || !slices.Contains(c.EnvironmentIDs, e)
			}
			if outside {
				problems = append(problems, fmt.Sprintf("environmentIds: variable %s of %s %q may be used outside them; scope it to them first", v.Name, uses[i].Owner, uses[i].OwnerName))
			}
		}
		if len(problems) > 0 {
			return &model.ValidationError{Subject: "certificate", Problems: problems}
		}
	}
	// What was read from the file stays as it was.
	upd := old
	upd.Name, upd.Notes, upd.EnvironmentIDs = c.Name, c.Notes, c.EnvironmentIDs
	doc, err := docOfCertificate(&upd)
	if err != nil {
		return err
	}
	if _, err := q.exec(ctx, `UPDATE certificates SET name = ?, name_key = ?, doc = ? WHERE id = ?`,
		upd.Name, key, doc, old.ID); err != nil {
		return fmt.Errorf("update certificate: %w", err)
	}
	*c = upd
	return nil
}

// ReplaceCertificate puts a new file (CertificateData, Password) in place
// of a certificate's, keeping its id, name and environments, so every
// variable that names it gets the new one from the next deployment on (as
// Octopus's "replace"). The previous certificate is kept, as Octopus keeps
// it: copied, sealed material and all, to a new id, archived, its
// ReplacedBy naming the certificate and its ReplacedAt the time of the
// replace. The caller's transaction makes the two one change.
func (q *Queries) ReplaceCertificate(ctx context.Context, id string, upload model.Certificate) (model.Certificate, error) {
	c, err := q.GetCertificate(ctx, id)
	if err != nil {
		return c, err
	}
	// Two replaces at once each keep the file the other replaced: the row
	// is locked, then read again (PostgreSQL; SQLite writes one at a time).
	var locked string
	if err := q.queryRow(ctx, `SELECT id FROM certificates WHERE id = ?`+q.d.forUpdate(false), c.ID).Scan(&locked); err != nil {
		return c, fmt.Errorf("replace certificate %s: %w", c.ID, err)
	}
	if c, err = q.GetCertificate(ctx, locked); err != nil {
		return c, err
	}
	old := c
	c.CertificateData, c.Password = upload.CertificateData, upload.Password
	sealed, err := q.readUpload(&c)
	if err != nil {
		return c, err
	}
	doc, err := docOfCertificate(&c)
	if err != nil {
		return c, err
	}
	now := q.now()
	backupID, _, err := q.nextID(ctx, "Certificates")
	if err != nil {
		return c, err
	}
	// The copy keeps what the row holds (doc, material, dates, the expiry
	// already told of); archived, it is never told of again.
	if _, err := q.exec(ctx, `INSERT INTO certificates (id, name, name_key, archived, doc, thumbprint, not_after, material, created_at, replaced_at, expiry_notified, replaced_by)
		SELECT ?, name, ?, ?, doc, thumbprint, not_after, material, created_at, ?, expiry_notified, ? FROM certificates WHERE id = ?`,
		backupID, certificateNameKey(old.Name, backupID, true, old.ID), true, toMicros(now), old.ID, old.ID); err != nil {
		return c, fmt.Errorf("keep the replaced certificate %s: %w", old.ID, err)
	}
	if _, err := q.exec(ctx, `UPDATE certificates SET doc = ?, thumbprint = ?, not_after = ?, material = ?, replaced_at = ? WHERE id = ?`,
		doc, c.Thumbprint, toMicros(c.NotAfter), sealed, toMicros(now), c.ID); err != nil {
		return c, fmt.Errorf("replace certificate: %w", err)
	}
	return q.GetCertificate(ctx, c.ID)
}

// SetCertificateArchived archives a certificate (it leaves the list and
// new variables cannot name it; variables that do still work) or brings it
// back. A backup brought back takes its name again, so the name must be
// free.
func (q *Queries) SetCertificateArchived(ctx context.Context, id string, archived bool) (model.Certificate, error) {
	c, err := q.GetCertificate(ctx, id)
	if err != nil {
		return c, err
	}
	key := certificateNameKey(c.Name, c.ID, archived, c.ReplacedBy)
	if c.ReplacedBy != "" && !archived {
		var other string
		err := q.queryRow(ctx, `SELECT id FROM certificates WHERE name_key = ? AND id <> ?`, key, c.ID).Scan(&other)
		if err == nil {
			return c, conflict("certificate %s already has the name %q; rename this earlier version (%s) before restoring it", other, c.Name, c.ID)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return c, fmt.Errorf("check certificate name: %w", err)
		}
	}
	if _, err := q.exec(ctx, `UPDATE certificates SET archived = ?, name_key = ? WHERE id = ?`, archived, key, c.ID); err != nil {
		return c, fmt.Errorf("archive certificate: %w", err)
	}
	c.Archived = archived
	return c, nil
}

// CertificateUses lists the project and library-set variables that name a
// certificate.
func (q *Queries) CertificateUses(ctx context.Context, id string) ([]model.CertificateUse, error) {
	uses, _, err := q.certificateVariables(ctx, id)
	return uses, err
}

// certificateVariables finds the variables that name a certificate, with
// each one's scope.
func (q *Queries) certificateVariables(ctx context.Context, id string) ([]model.CertificateUse, []model.Variable, error) {
	var uses []model.CertificateUse
	var vars []model.Variable
	projects, _, err := q.ListProjects(ctx, ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	for _, p := range projects {
		vs, err := q.GetVariables(ctx, p.ID)
		if err != nil {
			return nil, nil, err
		}
		for _, v := range vs.Variables {
			if v.IsCertificate() && v.Value == id {
				uses = append(uses, model.CertificateUse{Owner: "project", OwnerID: p.ID, OwnerName: p.Name, Variable: v.Name})
				vars = append(vars, v)
			}
		}
	}
	sets, _, err := q.ListLibrarySets(ctx, ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	for _, l := range sets {
		for _, v := range l.Variables {
			if v.IsCertificate() && v.Value == id {
				uses = append(uses, model.CertificateUse{Owner: "library variable set", OwnerID: l.ID, OwnerName: l.Name, Variable: v.Name})
				vars = append(vars, v)
			}
		}
	}
	return uses, vars, nil
}

// DeleteCertificate removes a certificate no variable names, with its
// archived backups (the earlier versions replacing it kept, and theirs):
// they are its history. A backup that was restored is a certificate of its
// own and stays, no longer naming the deleted one.
func (q *Queries) DeleteCertificate(ctx context.Context, id string) error {
	c, err := q.GetCertificate(ctx, id)
	if err != nil {
		return err
	}
	ids := []string{c.ID}
	for i := 0; i < len(ids); i++ {
		rows, err := q.query(ctx, `SELECT id FROM certificates WHERE replaced_by = ? AND archived = ?`, ids[i], true)
		if err != nil {
			return fmt.Errorf("delete certificate: find its earlier versions: %w", err)
		}
		more, err := collect(rows, func(s scanner) (string, error) {
			var id string
			return id, s.Scan(&id)
		})
		if err != nil {
			return fmt.Errorf("delete certificate: find its earlier versions: %w", err)
		}
		ids = append(ids, more...)
	}
	for _, del := range ids {
		uses, err := q.CertificateUses(ctx, del)
		if err != nil {
			return fmt.Errorf("delete certificate: %w", err)
		}
		if len(uses) > 0 {
			var names []string
			for _, u := range uses {
				if n := fmt.Sprintf("%s %q", u.Owner, u.OwnerName); !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
			which := fmt.Sprintf("certificate %q", c.Name)
			if del != c.ID {
				which = fmt.Sprintf("its earlier version %s", del)
			}
			return conflict("%s is used by variables of %s; change those variables first (or archive the certificate)", which, strings.Join(names, ", "))
		}
	}
	for _, del := range ids {
		res, err := q.exec(ctx, `DELETE FROM certificates WHERE id = ?`, del)
		if err != nil {
			return fmt.Errorf("delete certificate %s: %w", del, err)
		}
		if err := mustAffect(res, "certificate", del); err != nil {
			return err
		}
		// A restored backup no longer names what is gone.
		if _, err := q.exec(ctx, `UPDATE certificates SET replaced_by = '' WHERE replaced_by = ?`, del); err != nil {
			return fmt.Errorf("delete certificate %s: %w", del, err)
		}
	}
	return nil
}

// CertificateMaterial opens a certificate's sealed material: for
// deployments, and for the public certificate download.
func (q *Queries) CertificateMaterial(ctx context.Context, id string) (model.Certificate, certs.Material, error) {
	c, err := q.GetCertificate(ctx, id)
	if err != nil {
		return c, certs.Material{}, err
	}
	var sealed string
	if err := q.queryRow(ctx, `SELECT material FROM certificates WHERE id = ?`, c.ID).Scan(&sealed); err != nil {
		return c, certs.Material{}, fmt.Errorf("read certificate %s: %w", c.ID, err)
	}
	text, err := q.OpenSealed(sealed)
	if err != nil {
		return c, certs.Material{}, fmt.Errorf("open certificate %s: %w", c.ID, err)
	}
	m, err := certs.DecodeMaterial(text)
	return c, m, err
}

// checkCertificateVariables checks that every certificate variable names a
// certificate that exists (by id; a name is turned into the id) and, when
// the variable is scoped to environments, one the certificate may be used
// in. An archived certificate can be kept by the variables that named it
// (stored) but not newly named. It sets the canonical type name.
func (q *Queries) checkCertificateVariables(ctx context.Context, subject string, vs, stored []model.Variable) error {
	named := map[string]bool{}
	for _, v := range stored {
		if v.IsCertificate() {
			named[v.Value] = true
		}
	}
	var problems []string
	for i := range vs {
		v := &vs[i]
		if !v.IsCertificate() {
			continue
		}
		v.Type = model.VariableTypeCertificate
		c, err := q.GetCertificate(ctx, v.Value)
		if errors.Is(err, ErrNotFound) {
			problems = append(problems, fmt.Sprintf("variables[%d].value: certificate %q does not exist", i, v.Value))
			continue
		}
		if err != nil {
			return err
		}
		v.Value = c.ID
		if c.Archived && !named[c.ID] {
			problems = append(problems, fmt.Sprintf("variables[%d].value: certificate %q is archived; restore it to use it", i, c.Name))
		}
		if len(c.EnvironmentIDs) > 0 {
			if len(v.Scope.Environments) == 0 {
				problems = append(problems, fmt.Sprintf("variables[%d].scope.environments: certificate %q may be used only in %s; scope %q to those environments",
					i, c.Name, strings.Join(c.EnvironmentIDs, ", "), v.Name))
			}
			for _, e := range v.Scope.Environments {
				if !slices.Contains(c.EnvironmentIDs, e) {
					problems = append(problems, fmt.Sprintf("variables[%d].scope.environments: certificate %q may not be used in %s", i, c.Name, e))
				}
			}
		}
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: subject, Problems: problems}
	}
	return nil
}

// NotifyExpiringCertificates queues a certificate-expiring event for each
// unarchived certificate that has come within window of its end since it
// was last told of (once per certificate and end date: a replaced
// certificate with a new end is told of again), and returns them.
func (q *Queries) NotifyExpiringCertificates(ctx context.Context, window time.Duration) ([]model.Certificate, error) {
	now := q.now()
	rows, err := q.query(ctx, `SELECT `+certificateColumns+` FROM certificates
		WHERE archived = ? AND not_after <= ? AND expiry_notified <> not_after ORDER BY not_after`+q.d.forUpdate(true),
		false, toMicros(now.Add(window)))
	if err != nil {
		return nil, fmt.Errorf("find expiring certificates: %w", err)
	}
	list, err := collect(rows, func(s scanner) (model.Certificate, error) { return scanCertificate(s, now) })
	if err != nil {
		return nil, err
	}
	for _, c := range list {
		res, err := q.exec(ctx, `UPDATE certificates SET expiry_notified = not_after WHERE id = ? AND expiry_notified <> not_after`, c.ID)
		if err != nil {
			return nil, fmt.Errorf("note the expiry of certificate %s: %w", c.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue // another node told of it
		}
		days := int(c.NotAfter.Sub(now).Hours() / 24)
		err = q.EnqueueEvent(ctx, Event{Kind: model.EventCertificateExpiring, Payload: map[string]any{
			"certificateId": c.ID, "certificateName": c.Name, "thumbprint": c.Thumbprint, "subject": c.Subject,
			"notAfter": c.NotAfter.Format(time.RFC3339), "expired": c.Expired, "daysLeft": max(days, 0),
			"message": expiryMessage(c, days)}})
		if err != nil {
			return nil, err
		}
	}
	return list, nil
}

func expiryMessage(c model.Certificate, days int) string {
	if c.Expired {
		return fmt.Sprintf("Certificate %s (%s) expired on %s", c.Name, c.Thumbprint, c.NotAfter.Format("2006-01-02"))
	}
	return fmt.Sprintf("Certificate %s (%s) expires on %s, in %d days", c.Name, c.Thumbprint, c.NotAfter.Format("2006-01-02"), days)
}

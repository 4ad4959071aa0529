package client

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// UploadCertificate stores a certificate from a file's bytes (PEM, PFX or
// DER) and the password that opens it.
func (c *Client) UploadCertificate(ctx context.Context, cert model.Certificate, file []byte, password string) (model.Certificate, error) {
	cert.CertificateData, cert.Password = base64.StdEncoding.EncodeToString(file), password
	var out model.Certificate
	return out, c.do(ctx, "POST", "/certificates", cert, &out)
}

// Certificates lists certificates (archived ones too when asked).
func (c *Client) Certificates(ctx context.Context, archived bool) ([]model.Certificate, error) {
	return all[model.Certificate](ctx, c, "/certificates", ListOptions{Filters: map[string]string{"archived": strconv.FormatBool(archived)}})
}

// CertificateBackups lists the earlier versions replacing a certificate
// kept (archived, with ReplacedBy set), the latest first.
func (c *Client) CertificateBackups(ctx context.Context, id string) ([]model.Certificate, error) {
	return all[model.Certificate](ctx, c, "/certificates", ListOptions{Filters: map[string]string{"replacedBy": id}})
}

// FindCertificate reads a certificate by id or name.
func (c *Client) FindCertificate(ctx context.Context, idOrName string) (model.Certificate, error) {
	return find[model.Certificate](ctx, c, "/certificates", "certificate", idOrName)
}

// UpdateCertificate changes a certificate's name, notes and environments.
func (c *Client) UpdateCertificate(ctx context.Context, cert model.Certificate) (model.Certificate, error) {
	var out model.Certificate
	return out, c.do(ctx, "PUT", "/certificates/"+url.PathEscape(cert.ID), cert, &out)
}

// ReplaceCertificate puts a new file in place of a certificate's, keeping
// its id; the server keeps the previous one as an archived backup.
func (c *Client) ReplaceCertificate(ctx context.Context, id string, file []byte, password string) (model.Certificate, error) {
	var out model.Certificate
	up := wire.CertificateUpload{CertificateData: base64.StdEncoding.EncodeToString(file), Password: password}
	return out, c.do(ctx, "POST", "/certificates/"+url.PathEscape(id)+"/replace", up, &out)
}

// ArchiveCertificate archives (or, archived false, brings back) a
// certificate.
func (c *Client) ArchiveCertificate(ctx context.Context, id string, archived bool) (model.Certificate, error) {
	action := "/archive"
	if !archived {
		action = "/unarchive"
	}
	var out model.Certificate
	return out, c.do(ctx, "POST", "/certificates/"+url.PathEscape(id)+action, nil, &out)
}

// DeleteCertificate removes a certificate no variable uses.
func (c *Client) DeleteCertificate(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/certificates/"+url.PathEscape(id), nil, nil)
}

// CertificateUsage lists the variables that name a certificate.
func (c *Client) CertificateUsage(ctx context.Context, id string) ([]model.CertificateUse, error) {
	var out []model.CertificateUse
	return out, c.do(ctx, "GET", "/certificates/"+url.PathEscape(id)+"/usage", nil, &out)
}

// PublicCertificate downloads the certificate alone, as PEM.
func (c *Client) PublicCertificate(ctx context.Context, id string) ([]byte, error) {
	req, err := c.request(ctx, "GET", "/certificates/"+url.PathEscape(id)+"/public", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download certificate %s: %w", id, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return nil, readError(resp)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

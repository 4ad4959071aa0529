package octoapi

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// certificate is Octopus's CertificateResource: what was read from the
// certificate, never its key, file or password (CertificateData and
// Password say only that they are set, as Octopus's do).
type certificate struct {
	ID                    string `json:"Id"`
	SpaceID               string `json:"SpaceId"`
	Name                  string `json:"Name"`
	Notes                 string `json:"Notes"`
	CertificateDataFormat string `json:"CertificateDataFormat"`
	// Archived is when it was archived, null while it is not.
	Archived                        *time.Time        `json:"Archived"`
	ReplacedBy                      *string           `json:"ReplacedBy"`
	SubjectDistinguishedName        string            `json:"SubjectDistinguishedName"`
	SubjectCommonName               string            `json:"SubjectCommonName"`
	SubjectOrganization             string            `json:"SubjectOrganization"`
	IssuerDistinguishedName         string            `json:"IssuerDistinguishedName"`
	IssuerCommonName                string            `json:"IssuerCommonName"`
	IssuerOrganization              string            `json:"IssuerOrganization"`
	SelfSigned                      bool              `json:"SelfSigned"`
	Thumbprint                      string            `json:"Thumbprint"`
	NotAfter                        time.Time         `json:"NotAfter"`
	NotBefore                       time.Time         `json:"NotBefore"`
	IsExpired                       bool              `json:"IsExpired"`
	HasPrivateKey                   bool              `json:"HasPrivateKey"`
	Version                         int               `json:"Version"`
	SerialNumber                    string            `json:"SerialNumber"`
	SignatureAlgorithmName          string            `json:"SignatureAlgorithmName"`
	SubjectAlternativeNames         []string          `json:"SubjectAlternativeNames"`
	EnvironmentIDs                  []string          `json:"EnvironmentIds"`
	TenantedDeploymentParticipation string            `json:"TenantedDeploymentParticipation"`
	TenantIDs                       []string          `json:"TenantIds"`
	TenantTags                      []string          `json:"TenantTags"`
	CertificateData                 sensitiveValue    `json:"CertificateData"`
	Password                        sensitiveValue    `json:"Password"`
	Links                           map[string]string `json:"Links"`
}

var certificates = &collection[model.Certificate, certificate]{
	// The native list leaves archived certificates out unless asked; keep
	// applies Octopus's filter instead.
	inner: "/certificates", itemType: "Certificate", innerQuery: url.Values{"archived": {"true"}},
	convert: certificateOf,
	id:      func(o certificate) string { return o.ID },
	name:    func(o certificate) string { return o.Name },
	keep: func(q url.Values, o certificate) bool {
		archived, _ := strconv.ParseBool(q.Get("archived"))
		return (o.Archived != nil) == archived
	},
	detail: readCertificate,
	manage: "upload, replace and archive certificates with `pulpo certificate` or /api/v1/certificates",
}

// certificates serves /api/Spaces-1/certificates: as Octopus, archived
// ones are listed only with ?archived=true, and then alone.
func (h *Handler) certificates(c *call, segs []string) error {
	if a := c.r.URL.Query().Get("archived"); a != "" && (c.r.Method == http.MethodGet || c.r.Method == http.MethodHead) {
		if _, err := strconv.ParseBool(a); err != nil {
			return badRequest("archived must be true or false, not %q", a)
		}
	}
	return certificates.serve(c, segs)
}

func certificateOf(_ *call, m model.Certificate) certificate {
	return certificate{ID: m.ID, SpaceID: SpaceID, Name: m.Name, Notes: m.Notes, CertificateDataFormat: m.Format,
		Archived:                 archivedAt(m),
		ReplacedBy:               nullable(m.ReplacedBy),
		SubjectDistinguishedName: m.Subject, SubjectCommonName: m.SubjectCommonName, IssuerDistinguishedName: m.Issuer,
		SelfSigned: m.SelfSigned, Thumbprint: m.Thumbprint, NotAfter: m.NotAfter, NotBefore: m.NotBefore, IsExpired: m.Expired,
		HasPrivateKey: m.HasPrivateKey, SerialNumber: m.SerialNumber, SubjectAlternativeNames: orEmpty(m.SubjectAlternativeNames),
		EnvironmentIDs: orEmpty(m.EnvironmentIDs), TenantedDeploymentParticipation: "Untenanted", TenantIDs: []string{},
		TenantTags: []string{}, CertificateData: sensitiveValue{HasValue: true}, Password: sensitiveValue{HasValue: m.HasPassword},
		Links: selfLink("certificates", m.ID)}
}

// archivedAt is Octopus's Archived time. Pulpo keeps whether a certificate
// is archived, not when: this is the last change of its file (upload or
// replace), which the archiving came after.
func archivedAt(m model.Certificate) *time.Time {
	if !m.Archived {
		return nil
	}
	t := m.CreatedAt
	if m.ReplacedAt.After(t) {
		t = m.ReplacedAt
	}
	return &t
}

// nullable is null for "", as Octopus sends an unset reference.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// readCertificate fills what Pulpo's certificate does not list (the
// organizations, the issuer's name, the X.509 version and the signature
// algorithm) from the public certificate: the certificate alone, never
// its key.
func readCertificate(c *call, o *certificate) error {
	var raw []byte
	if err := c.getJSON("/certificates/"+url.PathEscape(o.ID)+"/public", nil, &raw); err != nil {
		return err
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		return fmt.Errorf("read the public certificate of %s: no PEM certificate", o.ID)
	}
	x, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("read the public certificate of %s: %w", o.ID, err)
	}
	o.SubjectOrganization = strings.Join(x.Subject.Organization, ", ")
	o.IssuerCommonName = x.Issuer.CommonName
	o.IssuerOrganization = strings.Join(x.Issuer.Organization, ", ")
	o.Version = x.Version
	o.SignatureAlgorithmName = signatureAlgorithmName(x.SignatureAlgorithm)
	return nil
}

// signatureAlgorithmName names an algorithm as Octopus shows it (.NET's
// friendly names of the OIDs: sha256RSA); others by Go's name.
func signatureAlgorithmName(a x509.SignatureAlgorithm) string {
	switch a {
	case x509.MD5WithRSA:
		return "md5RSA"
	case x509.SHA1WithRSA:
		return "sha1RSA"
	case x509.SHA256WithRSA:
		return "sha256RSA"
	case x509.SHA384WithRSA:
		return "sha384RSA"
	case x509.SHA512WithRSA:
		return "sha512RSA"
	case x509.ECDSAWithSHA1:
		return "sha1ECDSA"
	case x509.ECDSAWithSHA256:
		return "sha256ECDSA"
	case x509.ECDSAWithSHA384:
		return "sha384ECDSA"
	case x509.ECDSAWithSHA512:
		return "sha512ECDSA"
	case x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
		return "RSASSA-PSS"
	case x509.PureEd25519:
		return "Ed25519"
	}
	return a.String()
}

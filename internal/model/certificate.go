package model

import (
	"strings"
	"time"
)

// CertificateExpiryWindow is how long before its end a certificate counts
// as expiring soon, as in Octopus (20 days).
const CertificateExpiryWindow = 20 * 24 * time.Hour

// Certificate is an X.509 certificate (usually with its private key) kept
// in the library, as in Octopus: scripts get it through a certificate
// variable. The material (certificate, key, chain, the file as uploaded and
// its password) is stored sealed and never returned; what is read from it
// is shown.
type Certificate struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Notes string `json:"notes,omitempty"`
	// EnvironmentIDs are the environments that may use it; empty means all.
	EnvironmentIDs []string `json:"environmentIds,omitempty"`
	Archived       bool     `json:"archived,omitempty"`

	// CertificateData (base64 of a PEM, PFX/PKCS#12 or DER file) and
	// Password are write-only: given when uploading or replacing, never
	// returned.
	CertificateData string `json:"certificateData,omitempty"`
	Password        string `json:"password,omitempty"`

	// Read from the certificate.
	// Format is how it was uploaded: Pem, Pkcs12 or Der.
	Format            string `json:"format"`
	Subject           string `json:"subject"`
	SubjectCommonName string `json:"subjectCommonName,omitempty"`
	Issuer            string `json:"issuer"`
	// Thumbprint is the SHA-1 of the DER certificate in upper-case hex, as
	// Octopus and Windows show it.
	Thumbprint              string    `json:"thumbprint"`
	SerialNumber            string    `json:"serialNumber"`
	NotBefore               time.Time `json:"notBefore"`
	NotAfter                time.Time `json:"notAfter"`
	SubjectAlternativeNames []string  `json:"subjectAlternativeNames,omitempty"`
	HasPrivateKey           bool      `json:"hasPrivateKey"`
	SelfSigned              bool      `json:"selfSigned"`
	// ChainLength counts the certificates uploaded with it (intermediates
	// and authorities), not counting itself.
	ChainLength int `json:"chainLength"`
	// HasPassword says the upload had a password (a scripts' Pfx then has
	// the same one).
	HasPassword bool `json:"hasPassword,omitempty"`

	// Expired and ExpiringSoon are judged when read (ExpiringSoon: within
	// CertificateExpiryWindow).
	Expired      bool `json:"expired"`
	ExpiringSoon bool `json:"expiringSoon"`
	// ReplacedAt is when its file was last replaced; on a backup, when it
	// was replaced.
	ReplacedAt time.Time `json:"replacedAt,omitzero"`
	// ReplacedBy is set on a backup of an earlier file, kept by a replace
	// (archived, with a new id): the id of the certificate that replaced it.
	ReplacedBy string    `json:"replacedBy,omitempty"`
	CreatedAt  time.Time `json:"createdAt,omitzero"`
}

// Validate checks what a user sets directly.
func (c *Certificate) Validate() error {
	p := problems{subject: "certificate"}
	checkName(&p, "name", c.Name)
	if len(c.Notes) > 10000 {
		p.add("notes", "is %d characters; the limit is 10000", len(c.Notes))
	}
	return p.err()
}

// JudgeExpiry sets Expired and ExpiringSoon as of now.
func (c *Certificate) JudgeExpiry(now time.Time) {
	c.Expired = !c.NotAfter.After(now)
	c.ExpiringSoon = !c.Expired && c.NotAfter.Sub(now) <= CertificateExpiryWindow
}

// VariableTypeCertificate marks a variable whose value is a certificate's
// id; at deployment it becomes the certificate's properties.
const VariableTypeCertificate = "Certificate"

// IsCertificate reports a certificate variable (its type compares ignoring
// case, so `type: certificate` works in files).
func (v Variable) IsCertificate() bool {
	return strings.EqualFold(v.Type, VariableTypeCertificate)
}

// CertificateUse is a variable that names a certificate.
type CertificateUse struct {
	// Owner is "project" or "library variable set".
	Owner     string `json:"owner"`
	OwnerID   string `json:"ownerId"`
	OwnerName string `json:"ownerName"`
	Variable  string `json:"variable"`
}

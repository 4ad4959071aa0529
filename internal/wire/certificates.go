package wire

// CertificateUpload replaces a certificate's file: the file's bytes in
// base64 (PEM, PFX/PKCS#12 or DER) and the password that opens it.
type CertificateUpload struct {
	CertificateData string `json:"certificateData"`
	Password        string `json:"password,omitempty"`
}

package web

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// maxCertificateForm bounds an upload form: certificate files are small.
const maxCertificateForm = 2 << 20

func (p *Portal) certificateRoutes() {
	p.mux.HandleFunc("GET /certificates", p.certificates)
	p.mux.HandleFunc("POST /certificates", p.uploadCertificate)
	p.mux.HandleFunc("GET /certificates/{id}", p.certificate)
	p.mux.HandleFunc("POST /certificates/{id}", p.editCertificate)
	p.mux.HandleFunc("POST /certificates/{id}/replace", p.replaceCertificate)
	p.mux.HandleFunc("POST /certificates/{id}/archive", p.archiveCertificate)
	p.mux.HandleFunc("POST /certificates/{id}/unarchive", p.archiveCertificate)
	p.mux.HandleFunc("POST /certificates/{id}/delete", p.deleteCertificate)
}

type certificatesData struct {
	Items        []model.Certificate
	ShowArchived bool
	EnvNames     map[string]string
	Environments []model.Environment
	Form         model.Certificate
}

type certificateData struct {
	Certificate model.Certificate
	// ReplacedBy is the certificate that replaced this one, when it is a
	// backup a replace kept; Backups are the ones kept of this one.
	ReplacedBy   *model.Certificate
	Backups      []model.Certificate
	Usage        []model.CertificateUse
	EnvNames     map[string]string
	Environments []model.Environment
}

func (p *Portal) envNames(r *http.Request) ([]model.Environment, map[string]string) {
	var envs wire.Page[model.Environment]
	p.call(r, http.MethodGet, "/environments?take=1000", nil, &envs)
	names := map[string]string{}
	for _, e := range envs.Items {
		names[e.ID] = e.Name
	}
	return envs.Items, names
}

func (p *Portal) certificates(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showCertificates(w, r, v, http.StatusOK, model.Certificate{})
}

func (p *Portal) showCertificates(w http.ResponseWriter, r *http.Request, v *view, status int, form model.Certificate) {
	d := certificatesData{ShowArchived: r.URL.Query().Get("archived") == "true", Form: form}
	var list wire.Page[model.Certificate]
	path := "/certificates?take=1000"
	if d.ShowArchived {
		path += "&archived=true"
	}
	if _, err := p.call(r, http.MethodGet, path, nil, &list); err != nil {
		p.fail(w, r, err)
		return
	}
	d.Items = list.Items
	d.Environments, d.EnvNames = p.envNames(r)
	v.Title, v.Nav, v.Data = "Certificates", "library", d
	p.render(w, status, "certificates", v)
}

// readCertificateForm reads a multipart form with a certificate file; the
// file's bytes go to the API base64-encoded, as the API takes them.
func readCertificateForm(r *http.Request) (model.Certificate, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxCertificateForm)
	if err := r.ParseMultipartForm(maxCertificateForm); err != nil {
		return model.Certificate{}, &apiError{Status: http.StatusBadRequest, Message: "send the certificate as a form upload of at most 2 MB"}
	}
	c := model.Certificate{Name: strings.TrimSpace(r.PostFormValue("name")), Notes: strings.TrimSpace(r.PostFormValue("notes")),
		Password: r.PostFormValue("password"), EnvironmentIDs: r.PostForm["environment"]}
	f, _, err := r.FormFile("file")
	if err != nil {
		return c, &apiError{Status: http.StatusBadRequest, Message: "choose a certificate file (PEM, PFX or DER) to upload",
			Details: []string{"certificateData: choose a file"}}
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return c, &apiError{Status: http.StatusBadRequest, Message: "the upload was cut short: " + err.Error()}
	}
	c.CertificateData = base64.StdEncoding.EncodeToString(b)
	return c, nil
}

func (p *Portal) uploadCertificate(w http.ResponseWriter, r *http.Request) {
	c, formErr := readCertificateForm(r)
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	var out model.Certificate
	err := formErr
	if err == nil {
		_, err = p.call(r, http.MethodPost, "/certificates", c, &out)
	}
	if err != nil {
		v.Error = err
		c.CertificateData, c.Password = "", "" // never drawn back into the page
		p.showCertificates(w, r, v, statusOf(err), c)
		return
	}
	http.Redirect(w, r, "/certificates/"+url.PathEscape(out.ID)+"?done="+url.QueryEscape("Uploaded certificate "+out.Name), http.StatusSeeOther)
}

func (p *Portal) certificate(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showCertificate(w, r, v, http.StatusOK)
}

func (p *Portal) showCertificate(w http.ResponseWriter, r *http.Request, v *view, status int) {
	id := url.PathEscape(r.PathValue("id"))
	var d certificateData
	if _, err := p.call(r, http.MethodGet, "/certificates/"+id, nil, &d.Certificate); err != nil {
		p.fail(w, r, err)
		return
	}
	p.call(r, http.MethodGet, "/certificates/"+id+"/usage", nil, &d.Usage)
	var backups wire.Page[model.Certificate]
	p.call(r, http.MethodGet, "/certificates?take=100&replacedBy="+url.QueryEscape(d.Certificate.ID), nil, &backups)
	d.Backups = backups.Items
	if by := d.Certificate.ReplacedBy; by != "" {
		var c model.Certificate
		if _, err := p.call(r, http.MethodGet, "/certificates/"+url.PathEscape(by), nil, &c); err == nil {
			d.ReplacedBy = &c
		}
	}
	d.Environments, d.EnvNames = p.envNames(r)
	v.Title, v.Nav, v.Data = d.Certificate.Name, "library", d
	p.render(w, status, "certificate", v)
}

func (p *Portal) replaceCertificate(w http.ResponseWriter, r *http.Request) {
	c, err := readCertificateForm(r)
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	id := url.PathEscape(r.PathValue("id"))
	if err == nil {
		_, err = p.call(r, http.MethodPost, "/certificates/"+id+"/replace", wire.CertificateUpload{CertificateData: c.CertificateData, Password: c.Password}, nil)
	}
	if err != nil {
		v.Error = err
		p.showCertificate(w, r, v, statusOf(err))
		return
	}
	http.Redirect(w, r, "/certificates/"+id+"?done="+url.QueryEscape("Replaced the certificate; variables naming it get the new one from their next deployment, and the previous one is kept under Previous versions"), http.StatusSeeOther)
}

func (p *Portal) archiveCertificate(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	id := url.PathEscape(r.PathValue("id"))
	action, done := "/archive", "Archived the certificate"
	if strings.HasSuffix(r.URL.Path, "/unarchive") {
		action, done = "/unarchive", "Restored the certificate"
	}
	if _, err := p.call(r, http.MethodPost, "/certificates/"+id+action, nil, nil); err != nil {
		v.Error = err
		p.showCertificate(w, r, v, statusOf(err))
		return
	}
	http.Redirect(w, r, "/certificates/"+id+"?done="+url.QueryEscape(done), http.StatusSeeOther)
}

func (p *Portal) deleteCertificate(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	id := url.PathEscape(r.PathValue("id"))
	if _, err := p.call(r, http.MethodDelete, "/certificates/"+id, nil, nil); err != nil {
		v.Error = err
		p.showCertificate(w, r, v, statusOf(err))
		return
	}
	http.Redirect(w, r, "/certificates?done="+url.QueryEscape("Deleted the certificate"), http.StatusSeeOther)
}

// editCertificate changes the name, notes and environments.
func (p *Portal) editCertificate(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	id := url.PathEscape(r.PathValue("id"))
	var c model.Certificate
	if _, err := p.call(r, http.MethodGet, "/certificates/"+id, nil, &c); err != nil {
		p.fail(w, r, err)
		return
	}
	c.Name, c.Notes, c.EnvironmentIDs = strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("notes")), r.PostForm["environment"]
	if _, err := p.call(r, http.MethodPut, "/certificates/"+id, c, nil); err != nil {
		v.Error = err
		p.showCertificate(w, r, v, statusOf(err))
		return
	}
	http.Redirect(w, r, "/certificates/"+id+"?done="+url.QueryEscape("Saved "+c.Name), http.StatusSeeOther)
}

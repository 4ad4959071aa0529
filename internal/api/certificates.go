package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// registerCertificates serves the certificate library. Uploads carry the
// file in certificateData (base64) with its password; nothing returned
// ever holds the private key, the file or the password: only what was read
// from the certificate, and on request the public certificate as PEM.
func (a *API) registerCertificates() {
	addCRUD(a, crud[model.Certificate]{path: "/certificates", kind: "certificate",
		plural: "certificates (upload with certificateData, base64 of a PEM, PFX or DER file, and password; both write-only)", tag: "certificates",
		id:    func(v *model.Certificate) *string { return &v.ID },
		perms: crudPerms{model.CertificateView, model.CertificateEdit, model.CertificateEdit, model.CertificateEdit},
		list: func(q *store.Queries, ctx context.Context, r *http.Request, o store.ListOptions) ([]model.Certificate, int, error) {
			archived, _ := strconv.ParseBool(r.URL.Query().Get("archived"))
			return q.ListCertificates(ctx, store.CertificateFilter{ListOptions: o, Archived: archived, ReplacedBy: r.URL.Query().Get("replacedBy")})
		},
		extraQuery: []param{{"archived", "boolean", "list archived certificates too (the earlier versions a replace keeps are archived)"},
			{"replacedBy", "string", "list only the earlier versions a replace kept of this certificate (by id), archived or not, the latest first"}},
		get: (*store.Queries).GetCertificate, create: (*store.Queries).CreateCertificate,
		update: (*store.Queries).UpdateCertificate, delete: (*store.Queries).DeleteCertificate})

	a.add(route{method: "POST", path: Prefix + "/certificates/{id}/replace", tag: "certificates", perm: model.CertificateEdit,
		body: wire.CertificateUpload{}, response: model.Certificate{},
		summary: "Replace a certificate's file with a new one (a renewed certificate), keeping its id: variables naming it get the new one from their next deployment; the previous one is kept, archived, under a new id with replacedBy set",
		h: func(w http.ResponseWriter, r *http.Request) error {
			var up wire.CertificateUpload
			if err := decode(r, &up); err != nil {
				return err
			}
			var out model.Certificate
			err := a.Store.Tx(r.Context(), func(q *store.Queries) (err error) {
				out, err = q.ReplaceCertificate(r.Context(), r.PathValue("id"), model.Certificate{CertificateData: up.CertificateData, Password: up.Password})
				return err
			})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}})
	for _, act := range []struct {
		name    string
		archive bool
		summary string
	}{
		{"archive", true, "Archive a certificate: it leaves the list and new variables cannot name it; variables that name it keep working"},
		{"unarchive", false, "Bring an archived certificate back"},
	} {
		a.add(route{method: "POST", path: Prefix + "/certificates/{id}/" + act.name, tag: "certificates", perm: model.CertificateEdit,
			response: model.Certificate{}, summary: act.summary,
			h: func(w http.ResponseWriter, r *http.Request) error {
				var out model.Certificate
				err := a.Store.Tx(r.Context(), func(q *store.Queries) (err error) {
					out, err = q.SetCertificateArchived(r.Context(), r.PathValue("id"), act.archive)
					return err
				})
				if err != nil {
					return err
				}
				writeJSON(w, http.StatusOK, out)
				return nil
			}})
	}
	a.add(route{method: "GET", path: Prefix + "/certificates/{id}/usage", tag: "certificates", perm: model.CertificateView,
		response: []model.CertificateUse{},
		summary:  "The project and library-set variables that name a certificate",
		h: func(w http.ResponseWriter, r *http.Request) error {
			c, err := a.Store.Read().GetCertificate(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			uses, err := a.Store.Read().CertificateUses(r.Context(), c.ID)
			if err != nil {
				return err
			}
			if uses == nil {
				uses = []model.CertificateUse{}
			}
			writeJSON(w, http.StatusOK, uses)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/certificates/{id}/public", tag: "certificates", perm: model.CertificateView,
		summary: "Download the public certificate as PEM (the certificate alone: never its key or chain file)",
		h: func(w http.ResponseWriter, r *http.Request) error {
			c, m, err := a.Store.Read().CertificateMaterial(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			w.Header().Set("Content-Type", "application/x-pem-file")
			w.Header().Set("Content-Disposition", `attachment; filename="`+c.ID+`.pem"`)
			w.Write([]byte(m.PublicPEM()))
			return nil
		}})
}

// previewCertificates adds the values certificate variables give scripts
// to a variable preview (those with the private key stay sensitive, which
// the preview blanks).
func previewCertificates(ctx context.Context, q *store.Queries, vs []model.Variable, envID string) ([]model.Variable, error) {
	out, err := engine.PreviewCertificates(ctx, q, vs, envID)
	if err != nil {
		return nil, &model.RefusedError{Reason: err.Error()}
	}
	return out, nil
}

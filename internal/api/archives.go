package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/apply"
	"github.com/pulpo-deploy/pulpo/internal/archive"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// maxArchive bounds an uploaded archive; a server's whole configuration
// compresses to far less.
const maxArchive = 64 << 20

// archiveRoutes serve password-encrypted archives of projects. Both need
// AdministerSystem: an export holds every sensitive value it reaches in a
// form the password opens (no other route ever returns one), and an import
// creates and changes environments, lifecycles, library sets and projects
// across every scope at once.
func (a *API) archiveRoutes() {
	a.add(route{method: "POST", path: Prefix + "/archives/export", tag: "configuration", perm: model.AdministerSystem, scope: unscoped,
		body: archive.ExportRequest{}, rawResponse: "application/octet-stream",
		summary: "Export projects (or everything) with what they reference, sensitive values included, as one password-encrypted archive",
		h: func(w http.ResponseWriter, r *http.Request) error {
			var req archive.ExportRequest
			if err := decode(r, &req); err != nil {
				return err
			}
			if err := archive.CheckPassword(req.Password); err != nil {
				return badRequest("password: %v", err)
			}
			doc, err := apply.ExportSelection(r.Context(), a.Store.Read(), apply.Selection{Projects: req.Projects, All: req.All})
			if err != nil {
				return err
			}
			m := archive.Manifest{Format: archive.Format, PulpoVersion: a.Version, CreatedAt: time.Now().UTC().Truncate(time.Second),
				Server: r.Host, ServerThumbprint: a.ServerThumbprint, All: req.All, Projects: req.Projects, Counts: archive.Count(doc)}
			if m.Projects == nil {
				m.Projects = []string{}
			}
			data, err := archive.Seal(&archive.Contents{Manifest: m, Document: *doc}, req.Password)
			if err != nil {
				return err
			}
			rec := audited(r)
			rec.ObjectType, rec.After = "archive", redactJSON(m)
			rec.Summary = "exported an archive of all projects"
			if !req.All {
				rec.Summary = "exported an archive of " + strings.Join(req.Projects, ", ")
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Disposition", `attachment; filename="pulpo`+archive.Extension+`"`)
			w.WriteHeader(http.StatusOK)
			w.Write(data)
			return nil
		}})
	a.add(route{method: "POST", path: Prefix + "/archives/import", tag: "configuration", perm: model.AdministerSystem, scope: unscoped,
		rawBody: "application/octet-stream", response: archive.ImportResult{},
		summary: "Import an archive in one transaction: shared things matched by name, missing ones created, existing projects skipped unless updateExisting. " +
			"The body is the archive file; the password goes in the " + archive.PasswordHeader + " header",
		headers: []param{{archive.PasswordHeader, "string", "the password the archive was exported with"}},
		query: []param{{"dryRun", "boolean", "report every change, change nothing"},
			{"updateExisting", "boolean", "make existing projects (and shared things) match the archive, as apply does"}},
		h: func(w http.ResponseWriter, r *http.Request) error {
			dryRun, err := boolParam(r, "dryRun")
			if err != nil {
				return err
			}
			update, err := boolParam(r, "updateExisting")
			if err != nil {
				return err
			}
			password := r.Header.Get(archive.PasswordHeader)
			if password == "" {
				return badRequest("send the archive's password in the %s header", archive.PasswordHeader)
			}
			data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxArchive))
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return &apiError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("the archive is larger than %d MiB, the most an import accepts", maxArchive>>20)}
			}
			if err != nil {
				return badRequest("the archive could not be read: %v", err)
			}
			if len(data) == 0 {
				return badRequest("the request body is empty: send the archive file")
			}
			contents, err := archive.Open(data, password)
			if err != nil {
				return badRequest("%v", err)
			}
			res, err := apply.Import(r.Context(), a.Store, &contents.Document, apply.ImportOptions{DryRun: dryRun, UpdateExisting: update})
			if err != nil {
				return err
			}
			out := archive.ImportResult{Manifest: contents.Manifest, Result: res}
			rec := audited(r)
			rec.done = dryRun // a dry run changes nothing
			rec.ObjectType, rec.After = "archive", redactJSON(out)
			rec.Summary = fmt.Sprintf("imported an archive from %s made %s (%d changes)", contents.Manifest.Server,
				contents.Manifest.CreatedAt.Format(time.RFC3339), res.Changed())
			writeJSON(w, http.StatusOK, out)
			return nil
		}})
}

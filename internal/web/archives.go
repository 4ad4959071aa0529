package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/archive"
	"github.com/pulpo-deploy/pulpo/internal/confdoc"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// The import and export page drives the archive routes of the API. An
// import is two requests: a dry run, then the real one. Between them the
// server keeps nothing: the dry run's answer holds the uploaded archive
// (it is encrypted, so the page carries nothing readable) in a hidden
// field for the real import to send back, and the password is typed again,
// so it never travels back to the browser in a page.

// maxArchiveUpload bounds what the import form accepts: the API's 64 MiB
// as base64 (the second step sends the archive back that way), and room
// for the other fields.
const maxArchiveUpload = 64<<20*4/3 + 1<<20

type archivesData struct {
	Projects []model.Project
	// The export form as sent: the projects ticked, or all.
	Chosen []string
	All    bool
	// Failed names the form the error belongs to: "export" or "import".
	Failed string
	// Import: the archive held between the dry run and the import (base64),
	// its file name and size, and whether existing projects are updated.
	Held     string
	FileName string
	Size     int
	Update   bool
	// Next is what the held archive's form does: "dry" (run) or "import".
	Next string
	// Result is the dry run's (Imported false) or the import's answer.
	Result   *archive.ImportResult
	Imported bool
}

// Counts of the result's changes by action, for the summary line.
func (d archivesData) Counts() map[string]int {
	out := map[string]int{}
	if d.Result != nil {
		for _, c := range d.Result.Result.Changes {
			out[c.Action]++
		}
	}
	return out
}

// Actions lists the actions in the order the summary names them.
func (d archivesData) Actions() []string {
	return []string{confdoc.Created, confdoc.Updated, confdoc.Unchanged, confdoc.Skipped}
}

// Extension is the archive file's ending, for the file chooser.
func (archivesData) Extension() string { return archive.Extension }

func (p *Portal) archiveRoutes() {
	m := p.mux
	m.HandleFunc("GET /archives", p.archives)
	m.HandleFunc("POST /archives/export", p.exportArchive)
	m.HandleFunc("POST /archives/import", p.importArchive)
}

func (p *Portal) archives(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showArchives(w, r, v, http.StatusOK, archivesData{})
}

// showArchives draws the page, or refuses it to someone who is not an
// administrator (as the API refuses both routes), asking the API who is.
func (p *Portal) showArchives(w http.ResponseWriter, r *http.Request, v *view, status int, d archivesData) {
	var me wire.MyPermissions
	if _, err := p.call(r, http.MethodGet, "/users/me/permissions", nil, &me); err != nil {
		p.fail(w, r, err)
		return
	}
	if !me.IsAdmin {
		p.fail(w, r, &apiError{Status: http.StatusForbidden,
			Message: "only administrators may export and import archives: an archive holds every sensitive value it reaches"})
		return
	}
	var projects wire.Page[model.Project]
	if _, err := p.call(r, http.MethodGet, "/projects?take=1000", nil, &projects); err != nil {
		p.fail(w, r, err)
		return
	}
	d.Projects = sortedByName(projects.Items, func(p model.Project) string { return p.Name })
	v.Title, v.Nav, v.Data = "Import and export", "archives", d
	p.render(w, status, "archives", v)
}

func (p *Portal) exportArchive(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	d := archivesData{Failed: "export", Chosen: r.PostForm["project"], All: r.PostFormValue("all") == "true"}
	req := archive.ExportRequest{All: d.All, Password: r.PostFormValue("password")}
	if !d.All {
		req.Projects = d.Chosen
	}
	if req.Password != r.PostFormValue("password2") {
		v.Error = errors.New("the two passwords differ: type the same password twice")
		p.showArchives(w, r, v, http.StatusBadRequest, d)
		return
	}
	body, err := json.Marshal(req)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	rec, err := p.send(r, http.MethodPost, "/archives/export", bytes.NewReader(body), http.Header{"Content-Type": {"application/json"}})
	if err == nil && rec.status >= 400 {
		err = rec.err()
	}
	if err != nil {
		v.Error = err
		p.showArchives(w, r, v, statusOf(err), d)
		return
	}
	name := "pulpo-" + time.Now().UTC().Format("20060102-150405") + archive.Extension
	if !d.All && len(d.Chosen) == 1 {
		name = "pulpo-" + fileSafe(d.Chosen[0]) + "-" + time.Now().UTC().Format("20060102-150405") + archive.Extension
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(rec.body.Len()))
	w.Header().Set("Cache-Control", "no-store")
	w.Write(rec.body.Bytes())
}

// fileSafe keeps a project's name fit for a file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, s)
}

// importArchive runs a dry run (step "dry", from the upload) or the import
// (step "import", from the dry run's answer, the archive held in the form).
func (p *Portal) importArchive(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	d := archivesData{Failed: "import"}
	r.Body = http.MaxBytesReader(w, r.Body, maxArchiveUpload)
	// All of it in memory: nothing of the upload is written to disk, and
	// nothing of it outlives the request.
	if err := r.ParseMultipartForm(maxArchiveUpload); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			v.Error = &apiError{Status: http.StatusRequestEntityTooLarge, Message: "the archive is larger than 64 MiB, the most an import accepts"}
		} else {
			v.Error = &apiError{Status: http.StatusBadRequest, Message: "the form could not be read: choose the archive file and send it again"}
		}
		p.showArchives(w, r, v, statusOf(v.Error), d)
		return
	}
	d.Update = r.PostFormValue("update") == "true"
	dryRun := r.PostFormValue("step") != "import"
	d.Next = "dry"
	if !dryRun {
		d.Next = "import"
	}
	data, err := uploaded(r, &d)
	if err != nil {
		v.Error = err
		p.showArchives(w, r, v, statusOf(err), d)
		return
	}
	q := url.Values{"dryRun": {strconv.FormatBool(dryRun)}, "updateExisting": {strconv.FormatBool(d.Update)}}
	rec, err := p.send(r, http.MethodPost, "/archives/import?"+q.Encode(), bytes.NewReader(data),
		http.Header{"Content-Type": {"application/octet-stream"}, archive.PasswordHeader: {r.PostFormValue("password")}})
	if err == nil && rec.status >= 400 {
		err = rec.err()
	}
	var res archive.ImportResult
	if err == nil {
		err = json.Unmarshal(rec.body.Bytes(), &res)
	}
	if err != nil {
		// The archive stays in the form (a wrong password is typed again,
		// not the file chosen again); the same step is tried again.
		v.Error = err
		p.showArchives(w, r, v, statusOf(err), d)
		return
	}
	d.Failed, d.Result = "", &res
	if dryRun {
		d.Next = "import"
		p.showArchives(w, r, v, http.StatusOK, d)
		return
	}
	d.Imported, d.Held, d.Next = true, "", ""
	v.Flash = fmt.Sprintf("Imported the archive: %d objects created or updated", res.Result.Changed())
	p.showArchives(w, r, v, http.StatusOK, d)
}

// uploaded reads the archive from the form: the file chosen, or the one
// held since the dry run. It fills d's Held, FileName and Size, so a page
// shown again keeps the archive.
func uploaded(r *http.Request, d *archivesData) ([]byte, error) {
	var data []byte
	if f, h, err := r.FormFile("archive"); err == nil {
		defer f.Close()
		if data, err = io.ReadAll(f); err != nil {
			return nil, &apiError{Status: http.StatusBadRequest, Message: "the archive could not be read: " + err.Error()}
		}
		d.FileName = h.Filename
	} else if held := r.PostFormValue("held"); held != "" {
		if data, err = base64.StdEncoding.DecodeString(held); err != nil {
			return nil, &apiError{Status: http.StatusBadRequest, Message: "the archive held since the dry run is damaged: choose the file again"}
		}
		d.FileName = r.PostFormValue("name")
	}
	if len(data) == 0 {
		return nil, &apiError{Status: http.StatusBadRequest, Message: "choose the archive file to import"}
	}
	d.Held, d.Size = base64.StdEncoding.EncodeToString(data), len(data)
	return data, nil
}

package octoapi

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// packageUpload is Octopus's answer to an upload.
type packageUpload struct {
	ID               string            `json:"Id"`
	PackageID        string            `json:"PackageId"`
	Version          string            `json:"Version"`
	PackageSizeBytes int64             `json:"PackageSizeBytes"`
	Hash             string            `json:"Hash"`
	FileExtension    string            `json:"FileExtension"`
	FeedID           string            `json:"FeedId"`
	Published        time.Time         `json:"Published"`
	Title            string            `json:"Title"`
	Links            map[string]string `json:"Links"`
}

// builtInFeedID is Octopus's name for its built-in feed.
const builtInFeedID = "feeds-builtin"

// packages serves /api/Spaces-1/packages…: the upload, and the delta
// signature request that precedes a delta upload (Pulpo has no delta
// uploads; the 404 makes the client send the whole file).
func (h *Handler) packages(c *call, segs []string) error {
	switch {
	case len(segs) == 1 && strings.EqualFold(segs[0], "raw"):
		if c.r.Method != http.MethodPost {
			return methodNotAllowed(c.r)
		}
		return h.upload(c)
	case len(segs) == 3 && strings.EqualFold(segs[2], "delta-signature"):
		return notFound("Pulpo takes whole packages only; upload %s %s without delta compression", segs[0], segs[1])
	}
	return c.unserved("list packages with /api/v1/packages")
}

// upload streams the multipart "file" part into the built-in feed: the
// file's name gives the package id and version, as in Octopus.
func (h *Handler) upload(c *call) error {
	mediaType, params, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mediaType, "multipart/") {
		return badRequest("send the package as multipart/form-data with the file in a part named \"file\"")
	}
	mode := c.r.URL.Query().Get("overwriteMode")
	if mode == "" {
		// The older clients' replace=true.
		mode = "FailIfExists"
		if strings.EqualFold(c.r.URL.Query().Get("replace"), "true") {
			mode = "OverwriteExisting"
		}
	}
	mr := multipart.NewReader(c.r.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return badRequest("the upload has no file: put the package in a form part named \"file\" with its file name")
		}
		if err != nil {
			return badRequest("read the upload: %v", err)
		}
		if part.FileName() == "" {
			part.Close()
			continue
		}
		q := url.Values{"fileName": {part.FileName()}, "overwriteMode": {mode}}
		var res wire.PushResult
		_, err = c.innerCall(http.MethodPost, "/packages", q, part, "application/octet-stream", &res)
		part.Close()
		if err != nil {
			return err
		}
		p := res.Package
		out := packageUpload{ID: p.ID, PackageID: p.PackageID, Version: p.Version, PackageSizeBytes: p.SizeBytes, Hash: p.SHA256,
			FileExtension: p.Extension, FeedID: builtInFeedID, Published: p.PublishedAt, Title: p.PackageID,
			Links: map[string]string{"Self": "/api/v1/packages/" + p.ID}}
		// 201: a file was stored (new, or replacing one); 200: an
		// existing file was kept (IgnoreIfExists).
		status := http.StatusCreated
		if res.Outcome == "ignored" {
			status = http.StatusOK
		}
		writeJSON(c.w, status, out)
		return nil
	}
}

package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/archive"
)

// ExportArchive asks the server for a password-encrypted archive of the
// named projects (or all) and returns its bytes.
func (c *Client) ExportArchive(ctx context.Context, req archive.ExportRequest) ([]byte, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var data []byte
	err = c.rawCall(ctx, "POST", "/archives/export", body, map[string]string{"Content-Type": "application/json"}, func(r io.Reader) error {
		var err error
		data, err = io.ReadAll(r)
		return err
	})
	return data, err
}

// ImportOptions are an archive import's choices.
type ImportOptions struct {
	DryRun         bool
	UpdateExisting bool
}

// ImportArchive sends an archive with its password (in a header, never the
// URL) and returns what the import did or, in a dry run, would do.
func (c *Client) ImportArchive(ctx context.Context, data []byte, password string, o ImportOptions) (archive.ImportResult, error) {
	q := url.Values{"dryRun": {strconv.FormatBool(o.DryRun)}, "updateExisting": {strconv.FormatBool(o.UpdateExisting)}}
	var res archive.ImportResult
	err := c.rawCall(ctx, "POST", "/archives/import?"+q.Encode(), data,
		map[string]string{"Content-Type": "application/octet-stream", archive.PasswordHeader: password},
		func(r io.Reader) error { return json.NewDecoder(r).Decode(&res) })
	return res, err
}

// rawCall sends body as it is and hands the answer's body to read: for
// routes whose request or answer is a file rather than JSON.
func (c *Client) rawCall(ctx context.Context, method, path string, body []byte, headers map[string]string, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		req = req.WithContext(ctx)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the Pulpo server at %s: %w", strings.TrimSuffix(c.base, "/api/v1"), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return readError(resp)
	}
	if err := read(resp.Body); err != nil {
		return fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	return nil
}

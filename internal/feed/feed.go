// Package feed is the built-in package feed: package files in a folder
// (which every server node shares), their rows in the store, uploads that
// stream to disk and leave nothing behind when they fail, and retention.
package feed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/runner"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/transfer"
)

// OverwriteMode says what a push does when the version is already there.
type OverwriteMode string

// Overwrite modes, with Octopus's names.
const (
	FailIfExists      OverwriteMode = "FailIfExists"
	OverwriteExisting OverwriteMode = "OverwriteExisting"
	IgnoreIfExists    OverwriteMode = "IgnoreIfExists"
)

// ParseOverwriteMode accepts Octopus's names and the short ones.
func ParseOverwriteMode(s string) (OverwriteMode, error) {
	switch strings.ToLower(s) {
	case "", "fail", "failifexists":
		return FailIfExists, nil
	case "overwrite", "overwriteexisting":
		return OverwriteExisting, nil
	case "ignore", "ignoreifexists":
		return IgnoreIfExists, nil
	}
	return "", fmt.Errorf("overwrite mode %q is not one of fail, overwrite, ignore", s)
}

// Retention bounds what the feed keeps of each package; zero keeps all.
type Retention struct {
	// KeepVersions is how many of a package's newest versions stay.
	KeepVersions int
	// MaxAge removes versions published longer ago (the newest stays).
	MaxAge time.Duration
}

// Feed is the built-in feed.
type Feed struct {
	Store     *store.Store
	Dir       string
	Retention Retention
	// MaxBytes bounds one package (default 10 GiB).
	MaxBytes int64
}

// Push says what a push did.
type Push string

// Push outcomes.
const (
	Created  Push = "created"
	Replaced Push = "replaced"
	Ignored  Push = "ignored"
)

// PushRequest describes an upload.
type PushRequest struct {
	FileName string
	// PackageID and Version override what the file name says.
	PackageID, Version string
	Mode               OverwriteMode
	// Size is the announced length, or -1; a shorter body is refused.
	Size int64
	By   string
}

// BadPackageError is a push refused for what was sent.
type BadPackageError struct{ Msg string }

func (e *BadPackageError) Error() string { return e.Msg }

func bad(format string, args ...any) error {
	return &BadPackageError{Msg: fmt.Sprintf(format, args...)}
}

func (f *Feed) path(p model.Package) string { return filepath.Join(f.Dir, p.FileName()) }

// Push stores a package from body, all or nothing: it is written to a
// temporary file, checked to be a whole archive, recorded, and only then
// moved into place.
func (f *Feed) Push(ctx context.Context, req PushRequest, body io.Reader) (model.Package, Push, error) {
	id, version, ext, err := model.ParsePackageFileName(req.FileName)
	if ext == "" {
		return model.Package{}, "", bad("%v", err)
	}
	if req.PackageID != "" {
		id = req.PackageID
	}
	if req.Version != "" {
		version = req.Version
	}
	if id == "" || version == "" {
		return model.Package{}, "", bad("%v", err)
	}
	if err := model.ValidatePackage(id, version); err != nil {
		return model.Package{}, "", err
	}
	if req.Mode == "" {
		req.Mode = FailIfExists
	}
	existing, err := f.Store.Read().FindPackage(ctx, id, version)
	switch {
	case err == nil && req.Mode == IgnoreIfExists:
		return existing, Ignored, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return model.Package{}, "", err
	}
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return model.Package{}, "", fmt.Errorf("packages folder: %w", err)
	}
	tmp, err := os.CreateTemp(f.Dir, ".upload-*"+ext)
	if err != nil {
		return model.Package{}, "", fmt.Errorf("store package: %w", err)
	}
	keep := false
	defer func() {
		tmp.Close()
		if !keep {
			os.Remove(tmp.Name())
		}
	}()
	limit := f.MaxBytes
	if limit <= 0 {
		limit = 10 << 30
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(body, limit+1))
	if err != nil {
		return model.Package{}, "", bad("the upload was cut short after %d bytes: %v", n, err)
	}
	switch {
	case n > limit:
		return model.Package{}, "", bad("the package is larger than the feed's limit of %d bytes", limit)
	case req.Size >= 0 && n != req.Size:
		return model.Package{}, "", bad("the upload was cut short: %d of %d bytes arrived", n, req.Size)
	case n == 0:
		return model.Package{}, "", bad("the package file is empty")
	}
	if err := tmp.Sync(); err != nil {
		return model.Package{}, "", fmt.Errorf("store package: %w", err)
	}
	// The same checks a target makes before extracting, so a package that
	// no target would take is refused now, with the reason.
	if _, _, err := runner.Scan(ctx, tmp.Name(), runner.Options{}); err != nil {
		switch {
		case ctx.Err() != nil:
			return model.Package{}, "", ctx.Err()
		case runner.IsRefused(err):
			return model.Package{}, "", bad("%s is not a safe package: %v", req.FileName, err)
		}
		return model.Package{}, "", bad("%s is not a whole %s archive (%v); was the file cut short?", req.FileName, ext, err)
	}
	p := model.Package{PackageID: id, Version: version, Extension: ext, SizeBytes: n, SHA256: hex.EncodeToString(h.Sum(nil)), PublishedBy: req.By}
	var outcome Push = Created
	err = f.Store.Tx(ctx, func(q *store.Queries) error {
		replaced, err := q.PutPackage(ctx, &p, req.Mode == OverwriteExisting)
		if err != nil {
			return err
		}
		if replaced {
			outcome = Replaced
			if existing.Extension != "" && existing.Extension != p.Extension {
				os.Remove(f.path(existing))
			}
		}
		// Moved into place inside the transaction: if the move fails, the
		// row goes too.
		return os.Rename(tmp.Name(), f.path(p))
	})
	if err != nil {
		return model.Package{}, "", err
	}
	keep = true
	if _, err := f.ApplyRetention(ctx, p.PackageID); err != nil {
		return p, outcome, fmt.Errorf("the package is stored, but retention failed: %w", err)
	}
	return p, outcome, nil
}

// Open opens a package's file for reading.
func (f *Feed) Open(ctx context.Context, id string) (*os.File, model.Package, error) {
	p, err := f.Store.Read().GetPackage(ctx, id)
	if err != nil {
		return nil, p, err
	}
	file, err := os.Open(f.path(p))
	if err != nil {
		return nil, p, fmt.Errorf("package %s is recorded but its file is missing: %w", id, err)
	}
	return file, p, nil
}

// Delete removes a package version and its file.
func (f *Feed) Delete(ctx context.Context, id string) (model.Package, error) {
	var p model.Package
	err := f.Store.Tx(ctx, func(q *store.Queries) (err error) {
		p, err = q.DeletePackage(ctx, id)
		return err
	})
	if err != nil {
		return p, err
	}
	if err := os.Remove(f.path(p)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return p, fmt.Errorf("package %s is removed from the feed, but its file is not: %w", id, err)
	}
	return p, nil
}

// ApplyRetention removes the versions of a package beyond the retention
// rules; the newest version always stays.
func (f *Feed) ApplyRetention(ctx context.Context, packageID string) ([]model.Package, error) {
	if f.Retention.KeepVersions <= 0 && f.Retention.MaxAge <= 0 {
		return nil, nil
	}
	versions, _, err := f.Store.Read().ListPackages(ctx, store.PackageFilter{PackageID: packageID})
	if err != nil {
		return nil, err
	}
	now := f.Store.Now()
	var removed []model.Package
	for i, p := range versions {
		if i == 0 {
			continue
		}
		tooMany := f.Retention.KeepVersions > 0 && i >= f.Retention.KeepVersions
		tooOld := f.Retention.MaxAge > 0 && now.Sub(p.PublishedAt) > f.Retention.MaxAge
		if !tooMany && !tooOld {
			continue
		}
		if _, err := f.Delete(ctx, p.ID); err != nil {
			return removed, err
		}
		removed = append(removed, p)
	}
	return removed, nil
}

// Package finds a package version and gives its content as a transfer
// source (the engine sends it to targets from there).
func (f *Feed) Package(ctx context.Context, packageID, version string) (transfer.Source, model.Package, error) {
	p, err := f.Store.Read().FindPackage(ctx, packageID, version)
	if err != nil {
		return nil, p, err
	}
	if _, err := os.Stat(f.path(p)); err != nil {
		return nil, p, fmt.Errorf("package %s %s is recorded but its file is missing: %w", packageID, version, err)
	}
	return transfer.FileSource{Path: f.path(p), Length: p.SizeBytes, Sum: p.SHA256}, p, nil
}

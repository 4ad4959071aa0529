package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

const packageColumns = `id, package_id, version, extension, size_bytes, sha256, published_at, published_by`

func scanPackage(s scanner) (model.Package, error) {
	var p model.Package
	var at int64
	err := s.Scan(&p.ID, &p.PackageID, &p.Version, &p.Extension, &p.SizeBytes, &p.SHA256, &at, &p.PublishedBy)
	p.PublishedAt = fromMicros(at)
	return p, err
}

// PutPackage records a package version; replace says what to do when the
// version exists: "" refuses (409), otherwise the row is replaced.
func (q *Queries) PutPackage(ctx context.Context, p *model.Package, replace bool) (replaced bool, err error) {
	if err := model.ValidatePackage(p.PackageID, p.Version); err != nil {
		return false, err
	}
	p.ID = model.PackageKey(p.PackageID, p.Version)
	if p.PublishedAt.IsZero() {
		p.PublishedAt = q.now().UTC()
	}
	old, err := q.FindPackage(ctx, p.PackageID, p.Version)
	switch {
	case err == nil && !replace:
		return false, conflict("package %s version %s is already in the feed; push with --overwrite-mode overwrite to replace it, or ignore to keep it", old.PackageID, old.Version)
	case err == nil:
		if _, err := q.exec(ctx, `DELETE FROM packages WHERE id = ?`, old.ID); err != nil {
			return false, fmt.Errorf("replace package: %w", err)
		}
		replaced = true
	case !errors.Is(err, ErrNotFound):
		return false, err
	}
	_, err = q.exec(ctx, `INSERT INTO packages (id, package_id, package_key, version, version_key, extension, size_bytes, sha256, published_at, published_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.PackageID, strings.ToLower(p.PackageID), p.Version, strings.ToLower(p.Version),
		p.Extension, p.SizeBytes, p.SHA256, toMicros(p.PublishedAt), p.PublishedBy)
	if err != nil {
		return false, fmt.Errorf("record package: %w", translate(q.d, err))
	}
	p.PublishedAt = fromMicros(toMicros(p.PublishedAt))
	return replaced, nil
}

// GetPackage reads a package version by its feed id.
func (q *Queries) GetPackage(ctx context.Context, id string) (model.Package, error) {
	p, err := scanPackage(q.queryRow(ctx, `SELECT `+packageColumns+` FROM packages WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("package", id)
	}
	return p, err
}

// FindPackage reads a package version by id and version (ignoring case).
func (q *Queries) FindPackage(ctx context.Context, packageID, version string) (model.Package, error) {
	p, err := scanPackage(q.queryRow(ctx, `SELECT `+packageColumns+` FROM packages WHERE package_key = ? AND version_key = ?`,
		strings.ToLower(packageID), strings.ToLower(version)))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("package", packageID+" "+version)
	}
	return p, err
}

// PackageFilter narrows a package list.
type PackageFilter struct {
	ListOptions
	// PackageID keeps one package's versions.
	PackageID string
}

// ListPackages returns package versions, newest version first within a
// package, packages by id, and the total.
func (q *Queries) ListPackages(ctx context.Context, f PackageFilter) ([]model.Package, int, error) {
	var where []string
	var args []any
	if f.PackageID != "" {
		where, args = append(where, "package_key = ?"), append(args, strings.ToLower(f.PackageID))
	}
	if f.PartialName != "" {
		where, args = append(where, "package_key LIKE ? ESCAPE '\\'"), append(args, "%"+escapeLike(strings.ToLower(f.PartialName))+"%")
	}
	rows, err := q.query(ctx, `SELECT `+packageColumns+` FROM packages`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list packages: %w", err)
	}
	all, err := collect(rows, scanPackage)
	if err != nil {
		return nil, 0, fmt.Errorf("list packages: %w", err)
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if !strings.EqualFold(a.PackageID, b.PackageID) {
			return strings.ToLower(a.PackageID) < strings.ToLower(b.PackageID)
		}
		va, _ := model.ParseVersion(a.Version)
		vb, _ := model.ParseVersion(b.Version)
		return va.Compare(vb) > 0
	})
	total := len(all)
	skip := min(max(f.Skip, 0), total)
	all = all[skip:]
	if f.Take > 0 && len(all) > f.Take {
		all = all[:f.Take]
	}
	return all, total, nil
}

// DeletePackage removes a package version's row; the caller removes the file.
func (q *Queries) DeletePackage(ctx context.Context, id string) (model.Package, error) {
	p, err := q.GetPackage(ctx, id)
	if err != nil {
		return p, err
	}
	_, err = q.exec(ctx, `DELETE FROM packages WHERE id = ?`, id)
	return p, err
}

// Package backup makes and restores backups of a single-node server's data
// folder (the embedded SQLite default): a consistent snapshot of the
// database taken while the server runs, the feed's packages, the tasks'
// artifacts, and the master key only when asked for, since whoever holds
// both the database and its key can read every secret.
package backup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // the embedded database's driver
)

// Manifest describes a backup; it is the archive's first entry.
type Manifest struct {
	Format     int       `json:"format"`
	CreatedAt  time.Time `json:"createdAt"`
	Version    string    `json:"version"`
	MasterKey  bool      `json:"masterKey"`
	Packages   int       `json:"packages"`
	Artifacts  int       `json:"artifacts"`
	DBBytes    int64     `json:"databaseBytes"`
	SourceData string    `json:"sourceData"`
}

const (
	manifestName = "backup.json"
	dbName       = "pulpo.db"
	keyName      = "master.key"
	formatV1     = 1
)

// Options say what goes into a backup.
type Options struct {
	// DataDir is the server's data folder (holding pulpo.db).
	DataDir string
	// PackagesDir is the feed's folder (DataDir/packages when empty); the
	// artifacts folder sits beside it.
	PackagesDir string
	// IncludeMasterKey puts DataDir/master.key in the backup.
	IncludeMasterKey bool
	Version          string
}

// Create writes a backup archive (tar.gz) to w. The server may be running:
// the database is copied with VACUUM INTO, which reads one consistent
// snapshot; package and artifact files never change once recorded, and
// files still being uploaded (".partial") are left out.
func Create(ctx context.Context, w io.Writer, opts Options) (Manifest, error) {
	m := Manifest{Format: formatV1, CreatedAt: time.Now().UTC(), Version: opts.Version, SourceData: opts.DataDir}
	dbPath := filepath.Join(opts.DataDir, dbName)
	if _, err := os.Stat(dbPath); err != nil {
		return m, fmt.Errorf("no database in %s (is it the server's --data folder? PostgreSQL servers are backed up with pg_dump): %w", opts.DataDir, err)
	}
	tmp, err := os.MkdirTemp("", "pulpo-backup-")
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	snapshot := filepath.Join(tmp, dbName)
	if err := vacuumInto(ctx, dbPath, snapshot); err != nil {
		return m, err
	}
	st, err := os.Stat(snapshot)
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	m.DBBytes = st.Size()
	packagesDir := opts.PackagesDir
	if packagesDir == "" {
		packagesDir = filepath.Join(opts.DataDir, "packages")
	}
	artifactsDir := filepath.Join(filepath.Dir(packagesDir), "artifacts")
	var keyData []byte
	if opts.IncludeMasterKey {
		if keyData, err = os.ReadFile(filepath.Join(opts.DataDir, keyName)); err != nil {
			return m, fmt.Errorf("read the master key to include it (servers started with --master-key keep it elsewhere; back it up yourself): %w", err)
		}
		m.MasterKey = true
	}
	// Count first, so the manifest at the head of the archive is complete.
	if m.Packages, err = countFiles(packagesDir); err != nil {
		return m, err
	}
	if m.Artifacts, err = countFiles(artifactsDir); err != nil {
		return m, err
	}

	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	manifest, _ := json.MarshalIndent(m, "", "  ")
	if err := writeBytes(tw, manifestName, manifest, 0o600); err != nil {
		return m, err
	}
	if err := writeFile(tw, dbName, snapshot); err != nil {
		return m, err
	}
	if keyData != nil {
		if err := writeBytes(tw, keyName, keyData, 0o600); err != nil {
			return m, err
		}
	}
	for _, tree := range []struct{ dir, prefix string }{{packagesDir, "packages"}, {artifactsDir, "artifacts"}} {
		if err := writeTree(ctx, tw, tree.dir, tree.prefix); err != nil {
			return m, err
		}
	}
	if err := tw.Close(); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	if err := gz.Close(); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	return m, nil
}

// vacuumInto copies the database as one consistent snapshot.
func vacuumInto(ctx context.Context, dbPath, to string) error {
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("open %s: %w", dbPath, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, to); err != nil {
		return fmt.Errorf("snapshot %s: %w", dbPath, err)
	}
	return checkIntegrity(ctx, to)
}

func countFiles(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !strings.HasSuffix(p, ".partial") {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", dir, err)
	}
	return n, nil
}

func writeBytes(tw *tar.Writer, name string, data []byte, mode int64) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: time.Now(), Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	return nil
}

func writeFile(tw *tar.Writer, name, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), ModTime: st.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	// Copy exactly the size announced: a file must not change under us.
	if _, err := io.CopyN(tw, f, st.Size()); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	return nil
}

func writeTree(ctx context.Context, tw *tar.Writer, dir, prefix string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !d.Type().IsRegular() || strings.HasSuffix(p, ".partial") {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		err = writeFile(tw, path.Join(prefix, filepath.ToSlash(rel)), p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed by retention meanwhile
		}
		return err
	})
}

// RestoreOptions say where a backup goes.
type RestoreOptions struct {
	DataDir string
	// PackagesDir receives the packages (DataDir/packages when empty).
	PackagesDir string
	// Force replaces an existing database (never while a server runs).
	Force bool
}

// Restore unpacks a backup into a data folder. It refuses while a server
// uses the folder, and refuses to replace a database or a different master
// key unless forced.
func Restore(ctx context.Context, r io.Reader, opts RestoreOptions) (Manifest, error) {
	var m Manifest
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	unlock, err := lockDataDir(opts.DataDir)
	if err != nil {
		return m, err
	}
	defer unlock()
	dbPath := filepath.Join(opts.DataDir, dbName)
	if _, err := os.Stat(dbPath); err == nil && !opts.Force {
		return m, fmt.Errorf("%s already holds a database; restore into an empty folder, or give --force to replace it", opts.DataDir)
	}
	packagesDir := opts.PackagesDir
	if packagesDir == "" {
		packagesDir = filepath.Join(opts.DataDir, "packages")
	}
	artifactsDir := filepath.Join(filepath.Dir(packagesDir), "artifacts")
	staging, err := os.MkdirTemp(opts.DataDir, ".restore-")
	if err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(staging)

	gz, err := gzip.NewReader(r)
	if err != nil {
		return m, fmt.Errorf("the backup is not a Pulpo backup (gzip): %w", err)
	}
	tr := tar.NewReader(gz)
	first := true
	var key []byte
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return m, fmt.Errorf("the backup is damaged: %w", err)
		}
		if first {
			if h.Name != manifestName {
				return m, fmt.Errorf("the backup is not a Pulpo backup: it does not start with %s", manifestName)
			}
			if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&m); err != nil || m.Format != formatV1 {
				return m, fmt.Errorf("the backup's manifest is not one this version reads (format %d): %v", m.Format, err)
			}
			first = false
			continue
		}
		name := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || path.IsAbs(name) || strings.HasPrefix(name, "..") {
			return m, fmt.Errorf("the backup holds %q, which a backup never does; it was not made by Pulpo", h.Name)
		}
		var dest string
		switch {
		case name == dbName:
			dest = filepath.Join(staging, dbName)
		case name == keyName:
			if key, err = io.ReadAll(io.LimitReader(tr, 4096)); err != nil {
				return m, fmt.Errorf("the backup is damaged: %w", err)
			}
			continue
		case strings.HasPrefix(name, "packages/"):
			dest = filepath.Join(staging, "packages", filepath.FromSlash(strings.TrimPrefix(name, "packages/")))
		case strings.HasPrefix(name, "artifacts/"):
			dest = filepath.Join(staging, "artifacts", filepath.FromSlash(strings.TrimPrefix(name, "artifacts/")))
		default:
			return m, fmt.Errorf("the backup holds %q, which this version does not know", h.Name)
		}
		if err := extract(tr, dest, h.Size); err != nil {
			return m, err
		}
	}
	if first {
		return m, errors.New("the backup is empty")
	}
	if _, err := os.Stat(filepath.Join(staging, dbName)); err != nil {
		return m, errors.New("the backup holds no database")
	}
	if err := checkIntegrity(ctx, filepath.Join(staging, dbName)); err != nil {
		return m, err
	}
	keyPath := filepath.Join(opts.DataDir, keyName)
	if key != nil {
		if old, err := os.ReadFile(keyPath); err == nil && string(old) != string(key) && !opts.Force {
			return m, fmt.Errorf("%s holds another master key; move it away, or give --force to replace it", keyPath)
		}
	}
	// Everything is checked: put it in place.
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(dbPath + suffix)
	}
	if err := os.Rename(filepath.Join(staging, dbName), dbPath); err != nil {
		return m, fmt.Errorf("restore the database: %w", err)
	}
	for _, tree := range []struct{ from, to string }{{filepath.Join(staging, "packages"), packagesDir}, {filepath.Join(staging, "artifacts"), artifactsDir}} {
		if err := moveTree(tree.from, tree.to); err != nil {
			return m, err
		}
	}
	if key != nil {
		if err := os.WriteFile(keyPath, key, 0o600); err != nil {
			return m, fmt.Errorf("restore the master key: %w", err)
		}
	}
	return m, nil
}

func extract(r io.Reader, dest string, size int64) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("restore %s: %w", dest, err)
	}
	if _, err := io.CopyN(f, r, size); err != nil {
		f.Close()
		return fmt.Errorf("the backup is damaged (%s is cut short): %w", filepath.Base(dest), err)
	}
	return f.Close()
}

func checkIntegrity(ctx context.Context, dbPath string) error {
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		return fmt.Errorf("open the backed-up database: %w", err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&result); err != nil || result != "ok" {
		return fmt.Errorf("the backed-up database is damaged: %s %v", result, err)
	}
	return nil
}

// moveTree moves every file under from to the same place under to.
func moveTree(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dest := filepath.Join(to, rel)
		if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
			return err
		}
		if err := os.Rename(p, dest); err != nil {
			return fmt.Errorf("restore %s: %w", dest, err)
		}
		return nil
	})
}

// lockDataDir takes the lock a server holds on its data folder.
func lockDataDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "server.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("a Pulpo server is running on %s; stop it before restoring", dir)
	}
	return func() { f.Close() }, nil
}

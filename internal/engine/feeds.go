package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/extfeed"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/runner"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/transfer"
)

// FeedVersions reads, from the external feeds they name, the versions of
// the packages the steps take: what release creation chooses from. It runs
// before the transaction that creates the release, so no feed is waited on
// while the database is held. A feed that cannot be read is recorded
// against its packages, and release creation reports it.
func (e *Engine) FeedVersions(ctx context.Context, steps []model.Step) (store.FeedVersions, error) {
	out := store.FeedVersions{}
	var problems []string
	for _, step := range steps {
		if step.Disabled {
			continue
		}
		for _, sp := range step.Packages() {
			if !sp.External() {
				continue
			}
			key := store.FeedPackage{FeedID: sp.FeedID, PackageID: sp.PackageID}
			if _, done := out[key]; done {
				continue
			}
			if e.cfg.Feeds == nil {
				out[key] = store.FeedVersionList{Err: errors.New("this server reads no external feeds")}
				continue
			}
			client, feed, err := e.cfg.Feeds.Client(ctx, sp.FeedID)
			if err != nil {
				out[key] = store.FeedVersionList{Err: err}
				continue
			}
			if feed.Type == model.FeedDocker && sp.Reference == "" {
				problems = append(problems, fmt.Sprintf("packages: step %q takes %s from container registry %s: a container image is not a package to extract or run scripts from; refer to it from a script step's packages (acquisition none) and use #{Octopus.Action.Package[NAME].Image}",
					step.Name, sp.PackageID, feed.Name))
				continue
			}
			versions, err := client.Versions(ctx, sp.PackageID)
			out[key] = store.FeedVersionList{Feed: feed.Name, Versions: versions, Err: err}
		}
	}
	if len(problems) > 0 {
		return nil, &model.ValidationError{Subject: "release", Problems: problems}
	}
	return out, nil
}

// located is an external package version: where it is, and its feed.
type located struct {
	feed model.Feed
	loc  extfeed.Location
}

func (e *Engine) locate(ctx context.Context, rp model.ReleasePackage) (located, error) {
	if e.cfg.Feeds == nil {
		return located{}, errors.New("this server reads no external feeds")
	}
	client, feed, err := e.cfg.Feeds.Client(ctx, rp.FeedID)
	if err != nil {
		return located{}, err
	}
	loc, err := client.Locate(ctx, rp.PackageID, rp.Version)
	if err != nil {
		return located{}, fmt.Errorf("feed %s: find %s %s: %w", feed.Name, rp.PackageID, rp.Version, err)
	}
	return located{feed: feed, loc: loc}, nil
}

// fileNameUnsafe turns a feed's package id (library/nginx, group:artifact)
// into one file-name part.
var fileNameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// externalFileName is the cache file name of an external package version,
// the same on the server and on targets.
func externalFileName(rp model.ReleasePackage, ext string) string {
	return fileNameUnsafe.ReplaceAllString(rp.FeedID, "_") + "/" + fileNameUnsafe.ReplaceAllString(rp.PackageID, "_") + "." +
		fileNameUnsafe.ReplaceAllString(rp.Version, "_") + ext
}

// cachedMeta is what the server knows of a package it downloaded.
type cachedMeta struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// downloadExternal gives an external package version from the server's
// cache, downloading it first when it is not there. Each version is
// downloaded once: concurrent asks wait for the first, and the file
// appears whole or not at all (written beside its place, renamed, then
// its size and hash recorded), so several nodes sharing the folder agree.
func (e *Engine) downloadExternal(ctx context.Context, rp model.ReleasePackage, at located) (transfer.Source, model.Package, error) {
	if e.cfg.FeedCacheDir == "" {
		return nil, model.Package{}, errors.New("this server has no folder for packages of external feeds")
	}
	name := filepath.Join(e.cfg.FeedCacheDir, filepath.FromSlash(externalFileName(rp, at.loc.Extension)))
	pkg := model.Package{PackageID: rp.PackageID, Version: rp.Version, Extension: at.loc.Extension}
	unlock := e.lockFile(name)
	defer unlock()
	if meta, ok := readCachedMeta(name); ok {
		// A use renews the file's time: PruneFeedCache keeps what is used.
		now := time.Now()
		os.Chtimes(name, now, now)
		pkg.SizeBytes, pkg.SHA256 = meta.Size, meta.SHA256
		return transfer.FileSource{Path: name, Length: meta.Size, Sum: meta.SHA256}, pkg, nil
	}
	size, sum, err := runner.DownloadFile(ctx, e.feedHTTP(), at.loc.URL, at.loc.Header, name)
	if err != nil {
		return nil, pkg, fmt.Errorf("download %s %s from feed %s: %w", rp.PackageID, rp.Version, at.feed.Name, err)
	}
	meta := cachedMeta{Size: size, SHA256: sum}
	b, _ := json.Marshal(meta)
	if err := writeFileAtomic(name+".json", b); err != nil {
		return nil, pkg, fmt.Errorf("feed cache: %w", err)
	}
	pkg.SizeBytes, pkg.SHA256 = meta.Size, meta.SHA256
	return transfer.FileSource{Path: name, Length: meta.Size, Sum: meta.SHA256}, pkg, nil
}

// readCachedMeta reads the record of a downloaded package; a file without
// one (a download cut short before it was recorded) does not count.
func readCachedMeta(name string) (cachedMeta, bool) {
	var m cachedMeta
	b, err := os.ReadFile(name + ".json")
	if err != nil || json.Unmarshal(b, &m) != nil {
		return m, false
	}
	st, err := os.Stat(name)
	if err != nil || st.Size() != m.Size {
		return m, false
	}
	return m, true
}

func writeFileAtomic(name string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".meta-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// lockFile serialises downloads of one file within this node.
func (e *Engine) lockFile(name string) func() {
	v, _ := e.downloads.LoadOrStore(name, make(chan struct{}, 1))
	ch := v.(chan struct{})
	ch <- struct{}{}
	return func() { <-ch }
}

// tryLockFile is lockFile without waiting: ok is false while the file is
// being downloaded or sent.
func (e *Engine) tryLockFile(name string) (unlock func(), ok bool) {
	v, _ := e.downloads.LoadOrStore(name, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, true
	default:
		return nil, false
	}
}

// PruneFeedCache removes the packages of external feeds that no deployment
// has taken for maxAge (each use renews a file's time), and downloads a
// crash left half-written; a file in use is left for the next sweep. It
// returns how many files it removed. Releases that still name a removed
// version download it again when they are deployed.
func (e *Engine) PruneFeedCache(now time.Time, maxAge time.Duration) (int, error) {
	if e.cfg.FeedCacheDir == "" || maxAge <= 0 {
		return 0, nil
	}
	cutoff := now.Add(-maxAge)
	removed := 0
	err := filepath.WalkDir(e.cfg.FeedCacheDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasSuffix(p, ".json") || strings.HasPrefix(d.Name(), ".meta-") {
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".download-") { // a download a crash cut short
			if os.Remove(p) == nil {
				removed++
			}
			return nil
		}
		unlock, ok := e.tryLockFile(p)
		if !ok {
			return nil
		}
		defer unlock()
		// The record goes first: a file without one is never used.
		if err := os.Remove(p + ".json"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("prune the feed cache: %w", err)
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("prune the feed cache: %w", err)
		}
		removed++
		return nil
	})
	return removed, err
}

func (e *Engine) feedHTTP() *http.Client {
	if e.cfg.FeedHTTP != nil {
		return e.cfg.FeedHTTP
	}
	return http.DefaultClient
}

// headerMap flattens a feed's credentials for the runner's manifest.
func headerMap(h http.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, vs := range h {
		out[k] = strings.Join(vs, ", ")
	}
	return out
}

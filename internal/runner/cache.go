package runner

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/filesvc"
)

// PackageCache is the machine's folder of packages, HOME/packages: those
// the server sent (built-in feed packages, and external ones the server
// acquired), those the machine downloaded itself (in feeds/ under it), and
// the partial uploads and downloads on their way in. A package no step used
// for KeepSeconds goes, whichever step used it last (a package step, a
// script step's referenced package, a script kept in a package) and
// whether or not that step still runs. Every manifest carries it; a
// manifest without it (or KeepSeconds 0) keeps every package.
type PackageCache struct {
	Root        string `json:"root"`
	KeepSeconds int64  `json:"keepSeconds,omitempty"`
	// Journal is the installations journal. The package of an installation
	// retention still keeps (an entry not marked Removed) stays whatever
	// its age: its folder stays too, so a redeploy or rollback to it is
	// expected, and would otherwise send the package again. Retention
	// removes it with the installation (applyRetention), so it does not
	// leak; with retention keeping all installations, the folders (bigger
	// than their packages) grow without bound anyway, by the user's
	// choice.
	Journal string `json:"journal,omitempty"`
	// Runners is the machine's folder of runners the server sent
	// (HOME/runners): one binary per server version whose runner differs
	// from the machine's own, tens of MB each. The server's check before
	// each use renews a runner's time (filesvc.StatFile), so one no step
	// used for KeepSeconds is one an upgrade left behind, and goes too;
	// the runner doing the sweeping is always kept.
	Runners string `json:"runners,omitempty"`
}

// problems lists what is wrong with c for a manifest's Validate.
func (c *PackageCache) problems(add func(format string, args ...any)) {
	if c == nil {
		return
	}
	if !filepath.IsAbs(c.Root) {
		add("packageCache.root must be an absolute path, not %q", c.Root)
	}
	if c.Runners != "" && !filepath.IsAbs(c.Runners) {
		add("packageCache.runners must be an absolute path, not %q", c.Runners)
	}
	if c.Journal != "" && !filepath.IsAbs(c.Journal) {
		add("packageCache.journal must be an absolute path, not %q", c.Journal)
	}
	if c.KeepSeconds < 0 {
		add("packageCache.keepSeconds must be 0 (keep all) or more, not %d", c.KeepSeconds)
	}
}

// cacheFor is the manifest's cache, or, for a manifest written before
// there was one, the cache of downloads its Download named.
func cacheFor(c *PackageCache, pkgs ...PackageFile) *PackageCache {
	if c != nil {
		return c
	}
	for _, p := range pkgs {
		if d := p.Download; d != nil && d.CacheRoot != "" && d.KeepSeconds > 0 && within(d.CacheRoot, p.Path) {
			return &PackageCache{Root: d.CacheRoot, KeepSeconds: d.KeepSeconds}
		}
	}
	return nil
}

// usePackages is called once a step has its packages: it renews their
// time (a use) and then sweeps the cache. The packages named here are
// never removed, even by a sweep that read their time before the renewal.
// Nothing here fails the step: a file that cannot be renewed or removed
// is a warning, and a package the sweep removed is sent or downloaded
// again when a step needs it.
func usePackages(c *PackageCache, pkgs []PackageFile, out *output) {
	now := time.Now()
	inUse := map[string]bool{}
	for _, p := range pkgs {
		inUse[filepath.Clean(p.Path)] = true
		if err := filesvc.Renew(p.Path, now); err != nil && !errors.Is(err, fs.ErrNotExist) {
			out.Warnf("package cache: could not renew the time of %s: %v", p.Path, err)
		}
	}
	if c == nil || c.Root == "" || c.KeepSeconds <= 0 {
		return
	}
	if c.Journal != "" {
		entries, err := readJournal(c.Journal)
		if err != nil {
			out.Warnf("package cache: nothing was removed, since the installations it keeps are unknown: %v", err)
			return
		}
		for _, e := range entries {
			if !e.Removed && e.PackagePath != "" {
				inUse[filepath.Clean(e.PackagePath)] = true
			}
		}
	}
	cutoff := now.Add(-time.Duration(c.KeepSeconds) * time.Second)
	sweepPackages(c.Root, cutoff, inUse, "the package cache", out)
	if c.Runners != "" {
		running := map[string]bool{}
		if self, err := os.Executable(); err == nil {
			running[filepath.Clean(self)] = true
			if real, err := filepath.EvalSymlinks(self); err == nil {
				running[real] = true
			}
		}
		sweepPackages(c.Runners, cutoff, running, "the runners the server sent", out)
	}
}

// sweepPackages removes the files under dir last used before cutoff and
// not kept. Each folder is swept under its lock (filesvc.LockForSweep),
// so the server's cache check cannot renew a file between the moment the
// sweep reads its time and the moment it removes it. A file another step
// is reading stays readable (it is only unlinked). Partial uploads and
// downloads are files like the others: one in progress is being written,
// so it is recent; an abandoned one goes once old.
func sweepPackages(dir string, cutoff time.Time, keep map[string]bool, what string, out *output) {
	var subdirs []string
	unlock := filesvc.LockForSweep(dir)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		out.Warnf("%s: could not read %s: %v", what, dir, err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			subdirs = append(subdirs, p)
			continue
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) || keep[p] {
			continue
		}
		switch err := os.Remove(p); {
		case err == nil:
			out.Infof("Removed %s from %s: unused since %s", e.Name(), what, info.ModTime().UTC().Format(time.DateOnly))
		case errors.Is(err, fs.ErrNotExist):
		default:
			out.Warnf("%s: could not remove %s: %v", what, p, err)
		}
	}
	unlock()
	for _, sub := range subdirs {
		sweepPackages(sub, cutoff, keep, what, out)
	}
}

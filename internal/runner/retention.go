package runner

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// applyRetention keeps the newest keep successful installations of the
// current entry's project, environment, tenant and package. Older entries
// of that group (failed ones included) have their extracted folder deleted
// and are marked Removed; then cached package files no remaining entry
// uses are deleted. It never deletes the current folder, a custom
// installation folder, or anything outside appsRoot and cacheDir (the
// journal is only trusted that far). Problems are warnings: a deployment
// that worked does not fail over cleaning up.
func applyRetention(entries []JournalEntry, current, keep int, appsRoot, cacheDir string, out *output) {
	if keep <= 0 {
		return
	}
	cur := entries[current]
	var group []int
	for i, e := range entries {
		if !e.Removed && e.sameInstallation(cur.Project, cur.Environment, cur.Tenant, cur.PackageID) {
			group = append(group, i)
		}
	}
	cutoff, successes := -1, 0
	for k := len(group) - 1; k >= 0; k-- {
		if entries[group[k]].Success {
			if successes++; successes == keep {
				cutoff = group[k]
				break
			}
		}
	}
	if cutoff < 0 {
		return
	}
	protected := func(folder string) bool {
		for i, e := range entries {
			if e.Removed && i != current {
				continue
			}
			if e.CustomInstallDir != "" && (sameOrWithin(folder, e.CustomInstallDir) || sameOrWithin(e.CustomInstallDir, folder)) {
				return true
			}
			if i >= cutoff && filepath.Clean(e.InstalledTo) == filepath.Clean(folder) {
				return true
			}
		}
		return false
	}
	var retired []int
	for _, i := range group {
		if i >= cutoff {
			break
		}
		e := entries[i]
		switch {
		case e.InstalledTo == "":
		case !within(appsRoot, e.InstalledTo):
			out.Warnf("retention: %s is not under %s, so it was left alone", e.InstalledTo, appsRoot)
		case protected(e.InstalledTo):
			out.Warnf("retention: %s is still in use, so it was left alone", e.InstalledTo)
		default:
			if err := os.RemoveAll(e.InstalledTo); err != nil {
				out.Warnf("retention: could not remove %s: %v", e.InstalledTo, err)
				continue // tried again next time
			}
			out.Infof("Retention: removed %s (%s %s, deployed %s)", e.InstalledTo, e.PackageID, e.Version, e.DeployedAt.Format("2006-01-02 15:04:05Z07:00"))
		}
		entries[i].Removed = true
		retired = append(retired, i)
	}
	if cacheDir == "" {
		return
	}
	for _, i := range retired {
		pkg := entries[i].PackagePath
		if pkg == "" || !within(cacheDir, pkg) || packageInUse(entries, pkg) {
			continue
		}
		err := os.Remove(pkg)
		switch {
		case err == nil:
			out.Infof("Retention: removed the cached package %s", pkg)
		case errors.Is(err, fs.ErrNotExist):
		default:
			out.Warnf("retention: could not remove the cached package %s: %v", pkg, err)
		}
	}
}

func packageInUse(entries []JournalEntry, pkg string) bool {
	for _, e := range entries {
		if !e.Removed && filepath.Clean(e.PackagePath) == filepath.Clean(pkg) {
			return true
		}
	}
	return false
}

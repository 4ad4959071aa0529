package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// JournalEntry is one installation on this machine (Calamari's
// DeploymentJournal.xml holds the same). The journal is a JSON array in
// the order installations finished.
type JournalEntry struct {
	Project     string `json:"project"`
	Environment string `json:"environment"`
	Tenant      string `json:"tenant,omitempty"`
	PackageID   string `json:"packageId"`
	Version     string `json:"version"`
	// PackagePath is the cached package file it was installed from.
	PackagePath string `json:"packagePath,omitempty"`
	// InstalledTo is the folder the package was extracted into.
	InstalledTo string `json:"installedTo"`
	// CustomInstallDir is where it was copied, if anywhere; retention never
	// touches it.
	CustomInstallDir string    `json:"customInstallDir,omitempty"`
	DeployedAt       time.Time `json:"deployedAt"`
	Success          bool      `json:"success"`
	// Removed: retention deleted InstalledTo.
	Removed bool `json:"removed,omitempty"`
}

func (e JournalEntry) sameInstallation(project, environment, tenant, packageID string) bool {
	return strings.EqualFold(e.Project, project) && strings.EqualFold(e.Environment, environment) &&
		strings.EqualFold(e.Tenant, tenant) && strings.EqualFold(e.PackageID, packageID)
}

// PreviousInstallation is the folder of the latest successful installation
// of the package for a project and environment without tenant that
// retention has not removed.
func PreviousInstallation(journalPath, project, environment, packageID string) (string, bool) {
	return PreviousTenantInstallation(journalPath, project, environment, "", packageID)
}

// PreviousTenantInstallation is PreviousInstallation for a tenant.
func PreviousTenantInstallation(journalPath, project, environment, tenant, packageID string) (string, bool) {
	entries, err := readJournal(journalPath)
	if err != nil {
		return "", false
	}
	return previousInstallation(entries, project, environment, tenant, packageID)
}

// latestInstallations are the newest installation of the package for the
// project, environment and tenant, whether it succeeded or not, and the
// newest that succeeded: Calamari's PreviousInstallation and
// PreviousSuccessfulInstallation.
func latestInstallations(entries []JournalEntry, project, environment, tenant, packageID string) (latest, successful *JournalEntry) {
	for i := len(entries) - 1; i >= 0 && successful == nil; i-- {
		e := &entries[i]
		if !e.sameInstallation(project, environment, tenant, packageID) {
			continue
		}
		if latest == nil {
			latest = e
		}
		if e.Success {
			successful = e
		}
	}
	return latest, successful
}

func previousInstallation(entries []JournalEntry, project, environment, tenant, packageID string) (string, bool) {
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Success && !e.Removed && e.sameInstallation(project, environment, tenant, packageID) {
			return e.InstalledTo, true
		}
	}
	return "", false
}

// readJournal reads the journal; a missing file is an empty journal. It
// needs no lock: writers replace the file atomically.
func readJournal(path string) ([]JournalEntry, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	var entries []JournalEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("read journal %s: %w (fix or remove the file)", path, err)
	}
	return entries, nil
}

// writeJournal replaces the journal atomically and durably.
func writeJournal(path string, entries []JournalEntry) error {
	if entries == nil {
		entries = []JournalEntry{}
	}
	b, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write journal: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write journal: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	return nil
}

// journalLockPoll is how often a waiting run tries the lock again.
const journalLockPoll = 50 * time.Millisecond

// updateJournal runs change on the journal's entries under an exclusive
// flock of PATH.lock, so concurrent runs on a machine take turns, and
// writes the result back. The kernel drops the lock if the process dies.
func updateJournal(ctx context.Context, path string, change func([]JournalEntry) ([]JournalEntry, error)) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create journal folder: %w", err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("open journal lock: %w", err)
	}
	defer lock.Close()
	for {
		err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("lock journal: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the journal lock: %w", context.Cause(ctx))
		case <-time.After(journalLockPoll):
		}
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	entries, err := readJournal(path)
	if err != nil {
		return err
	}
	entries, err = change(entries)
	if err != nil {
		return err
	}
	return writeJournal(path, entries)
}

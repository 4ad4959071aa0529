package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestJournalUpdatesFromConcurrentRunsAreAllKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j", "journal.json")
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			errs <- updateJournal(context.Background(), path, func(entries []JournalEntry) ([]JournalEntry, error) {
				return append(entries, JournalEntry{Version: fmt.Sprint(i)}), nil
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	entries, err := readJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 20 {
		t.Errorf("%d entries, want 20", len(entries))
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".journal.json.*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %q", leftovers)
	}
}

func TestJournalWaitForTheLockEndsWithTheContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.json")
	holding := make(chan struct{})
	release := make(chan struct{})
	holderDone := make(chan struct{})
	go func() {
		defer close(holderDone)
		_ = updateJournal(context.Background(), path, func(e []JournalEntry) ([]JournalEntry, error) {
			close(holding)
			<-release
			return e, nil
		})
	}()
	<-holding
	// The holder writes the journal after it is released: wait for it, or the
	// temporary directory is removed under its feet.
	defer func() { close(release); <-holderDone }()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := updateJournal(ctx, path, func(e []JournalEntry) ([]JournalEntry, error) { return e, nil })
	if err == nil || !strings.Contains(err.Error(), "wait for the journal lock") {
		t.Fatalf("error %v", err)
	}
}

func TestJournalRefusesToOverwriteACorruptFile(t *testing.T) {
	path := writeFile(t, filepath.Join(t.TempDir(), "journal.json"), "{not json")
	err := updateJournal(context.Background(), path, func(e []JournalEntry) ([]JournalEntry, error) { return e, nil })
	if err == nil || !strings.Contains(err.Error(), "fix or remove the file") {
		t.Fatalf("error %v", err)
	}
	if got := readFile(t, path); got != "{not json" {
		t.Errorf("the corrupt journal was replaced: %q", got)
	}
}

func TestPreviousInstallationIsTheLatestSuccessStillThere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.json")
	entry := func(tenant, version string, success, removed bool) JournalEntry {
		return JournalEntry{Project: "web", Environment: "Prod", Tenant: tenant, PackageID: "app", Version: version,
			InstalledTo: "/apps/" + tenant + version, Success: success, Removed: removed}
	}
	if err := writeJournal(path, []JournalEntry{
		entry("", "1", true, true),
		entry("", "2", true, false),
		entry("Acme", "3", true, false),
		entry("", "4", false, false),
		{Project: "web", Environment: "Test", PackageID: "app", Version: "5", InstalledTo: "/apps/test", Success: true},
	}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		tenant, want string
		ok           bool
	}{{"", "/apps/2", true}, {"acme", "/apps/Acme3", true}, {"Other", "", false}}
	for _, c := range cases {
		if got, ok := PreviousTenantInstallation(path, "WEB", "prod", c.tenant, "APP"); got != c.want || ok != c.ok {
			t.Errorf("tenant %q: got %q, %v; want %q, %v", c.tenant, got, ok, c.want, c.ok)
		}
	}
	if got, ok := PreviousInstallation(path, "web", "Prod", "app"); got != "/apps/2" || !ok {
		t.Errorf("PreviousInstallation = %q, %v", got, ok)
	}
	if _, ok := PreviousInstallation(filepath.Join(t.TempDir(), "none.json"), "web", "Prod", "app"); ok {
		t.Error("found an installation in a missing journal")
	}
}

func TestRetentionNeverDeletesOutsideAppsRootOrCustomFolders(t *testing.T) {
	dir := t.TempDir()
	apps := filepath.Join(dir, "apps")
	outside := filepath.Join(dir, "outside")
	custom := filepath.Join(apps, "Production", "site")
	for _, p := range []string{outside, custom, filepath.Join(apps, "old"), filepath.Join(apps, "new")} {
		os.MkdirAll(p, 0o755)
	}
	e := func(folder, customDir string) JournalEntry {
		return JournalEntry{Project: "web", Environment: "Prod", PackageID: "app", InstalledTo: folder, CustomInstallDir: customDir, Success: true}
	}
	entries := []JournalEntry{e(outside, ""), e(custom, ""), e(filepath.Join(apps, "old"), ""), e(filepath.Join(apps, "new"), custom)}
	out, log := newTestOutput()
	applyRetention(entries, 3, 1, apps, "", out)

	for _, p := range []string{outside, custom, filepath.Join(apps, "new")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed", p)
		}
	}
	mustNotExist(t, filepath.Join(apps, "old"))
	for _, line := range []string{"is not under " + apps, custom + " is still in use"} {
		if !strings.Contains(log.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, log)
		}
	}
}

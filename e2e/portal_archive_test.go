package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// TestThePortalMovesAProjectBetweenServers exports a project from one
// server process on the portal's import and export page, in headless
// Chromium (the archive downloaded as a person downloads it), and imports
// the file into a second server from the same page: a wrong password is
// shown and imports nothing, the dry run lists the changes, Import makes
// them.
func TestThePortalMovesAProjectBetweenServers(t *testing.T) {
	br := newBrowser(t)
	a := startServer(t, t.TempDir(), "", freePort(t))
	b := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, a, archiveSource)
	downloads := t.TempDir()
	const archivePassword = "tide pool octopus 2026"
	type css = chromedp.CSS

	do, text, accessible := br.do, br.text, br.page
	logIn := br.logIn

	// Export from A: the project ticked, the password twice, downloaded.
	logIn(a)
	do("export",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
			return err
		}),
		chromedp.Click(`//a[text()="Import/export"]`),
		chromedp.WaitVisible(`//h1[text()="Import and export"]`),
		accessible("archives"),
		chromedp.Click(css(`input[name=project][value=shop]`)),
		chromedp.SendKeys(css("#export-password"), archivePassword),
		chromedp.SendKeys(css("#export-password2"), archivePassword),
		chromedp.Click(css("#export-button")),
	)
	var file string
	for deadline := time.Now().Add(30 * time.Second); file == ""; time.Sleep(50 * time.Millisecond) {
		// Chromium writes NAME.crdownload and renames it when it is whole.
		found, _ := filepath.Glob(filepath.Join(downloads, "pulpo-shop-*.pulpoarchive"))
		if len(found) == 1 {
			file = found[0]
		} else if time.Now().After(deadline) {
			entries, _ := os.ReadDir(downloads)
			t.Fatalf("no archive downloaded: %v", entries)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil || !strings.HasPrefix(string(data), "PULPOARC") || strings.Contains(string(data), "s3cr3t") {
		t.Fatalf("the downloaded file (%v) is not a sealed archive: %.40q", err, data)
	}

	// Import into B: a wrong password first, shown on the page; the
	// archive stays in the form, so the right password is all it takes.
	logIn(b)
	do("a dry run with a wrong password",
		chromedp.Navigate(b.url+"/archives"),
		chromedp.WaitVisible(css("#import-file")),
		chromedp.SetUploadFiles(css("#import-file"), []string{file}),
		chromedp.SendKeys(css("#import-password"), "not the password at all"),
		chromedp.Click(css("#import-button")),
		chromedp.WaitVisible(css("#import-error")),
	)
	if e := text("#import-error"); !strings.Contains(e, "the password does not open this archive") {
		t.Errorf("a wrong password's message: %q", e)
	}
	if r := b.pulpo("project", "show", "shop"); r.code == 0 {
		t.Fatal("a wrong password imported the project")
	}
	do("the dry run",
		chromedp.SendKeys(css("#import-password"), archivePassword),
		chromedp.Click(css("#import-button")),
		chromedp.WaitVisible(css("#import-changes")),
		accessible("archives-dry-run"),
	)
	changes := text("#import-changes")
	for _, want := range []string{"project\tshop\tcreated", "lifecycle\tDev then Production\tcreated", "library set\tCommon\tcreated"} {
		if !strings.Contains(changes, want) {
			t.Errorf("the dry run's table lacks %q:\n%s", want, changes)
		}
	}
	if r := b.pulpo("project", "show", "shop"); r.code == 0 {
		t.Fatal("the dry run imported the project")
	}
	do("the import",
		chromedp.SendKeys(css("#import-password"), archivePassword),
		chromedp.Click(`//button[text()="Import"]`),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "Imported the archive")]`),
	)
	out := b.ok("project", "show", "shop")
	if !strings.Contains(out, "shop") {
		t.Errorf("the imported project: %s", out)
	}
}

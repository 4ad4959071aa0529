package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The release board as someone outside engineering sees it: a share link
// opened in a real browser, without logging in; everything set up through
// the CLI.
func TestTheSharedReleaseBoardInABrowser(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	s.ok("environment", "create", "Dev")
	s.ok("project", "create", "shop")
	s.ok("process", "step", "add", "-p", "shop", "--name", "Hello", "--script", "echo hi")
	s.ok("variable", "set", "-p", "shop", "Colour", "leak-me-not-42")
	var pushed struct {
		Outcome string `json:"outcome"`
	}
	s.okJSON(&pushed, "build-information", "push", "--package-id", "shop", "--version", "1.0.0", "--build-url", "https://ci.example/builds/1",
		"--commit", "abc123|Faster checkout", "--work-item", "SHOP-1|Checkout <b>fast</b>|https://issues.example/SHOP-1")
	if pushed.Outcome != "Created" {
		t.Fatalf("build-information push: %+v", pushed)
	}
	if out := s.ok("build-information", "list"); !strings.Contains(out, "SHOP-1") {
		t.Fatalf("build-information list:\n%s", out)
	}
	s.ok("release", "create", "-p", "shop", "--version", "1.0.0", "--notes", "**Gift cards** are here",
		"--work-item", "SHOP-2|Gift cards|https://issues.example/SHOP-2")
	s.ok("release", "deploy", "--project", "shop", "--version", "1.0.0", "--environment", "Dev", "--watch")
	if out := s.ok("board"); !strings.Contains(out, "1.0.0") || !strings.Contains(out, "SHOP-2") {
		t.Fatalf("pulpo board:\n%s", out)
	}
	var link struct {
		Share struct{ ID string } `json:"share"`
		Path  string              `json:"path"`
	}
	s.okJSON(&link, "board", "share", "create", "Wall screen", "--project", "shop", "--expires", "24h")
	if !strings.HasPrefix(link.Path, "/board/") {
		t.Fatalf("share create: %+v", link)
	}

	b := newBrowser(t)
	run, eval := b.do, b.eval
	run("open the shared board", chromedp.Navigate(s.url+link.Path), chromedp.WaitVisible(`//h1[text()="Release board"]`))
	main := eval(`document.querySelector("main").innerText`)
	for _, want := range []string{"shop", "Dev", "1.0.0", "Live since", "SHOP-2 Gift cards"} {
		if !strings.Contains(main, want) {
			t.Errorf("the shared board lacks %q:\n%s", want, main)
		}
	}
	if strings.Contains(eval(`document.documentElement.outerHTML`), "leak-me-not-42") {
		t.Error("the shared board shows a variable's value")
	}
	if got := eval(`(document.querySelector('a[href="https://issues.example/SHOP-2"]') || {}).textContent || ""`); got != "SHOP-2" {
		t.Errorf("the work item is not a link: %q", got)
	}
	if got := eval(`(document.querySelector(".notes strong") || {}).textContent || ""`); got != "Gift cards" {
		t.Errorf("the notes' markdown: %q", got)
	}
	if got := eval(`String(document.querySelectorAll(".work-items b, script:not([src])").length)`); got != "0" {
		t.Errorf("markup from a work item's title became elements: %s", got)
	}
	if got := eval(`document.querySelector("nav, form.logout") ? "yes" : "no"`); got != "no" {
		t.Error("the shared page shows the signed-in navigation")
	}
	run("check the shared board", b.page("board-shared"))

	// A release manager makes a link in the portal: the page shows its
	// address once, and the address opens the board.
	run("log in and open the board",
		chromedp.Navigate(s.url+"/login?next=/release-board"),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "admin"+kb.Tab),
		chromedp.SendKeys(chromedp.CSS(`#password`), adminPassword(t, s)+kb.Enter),
		chromedp.WaitVisible(`//h2[text()="Share the board"]`))
	run("check the board page", b.page("board"))
	run("share through the form",
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Portal link"),
		chromedp.Submit(chromedp.CSS(`input[name=name]`)),
		chromedp.WaitVisible(chromedp.CSS(`code.share-link`)))
	made := eval(`document.querySelector("code.share-link").textContent`)
	if !strings.HasPrefix(made, "/board/") || !strings.Contains(eval(`document.querySelector("main").innerText`), "Wall screen") {
		t.Fatalf("the link made in the portal: %q", made)
	}
	run("open the portal's link", chromedp.Navigate(s.url+made), chromedp.WaitVisible(`//h1[text()="Release board"]`))
	if main := eval(`document.querySelector("main").innerText`); !strings.Contains(main, "1.0.0") {
		t.Errorf("the portal's link shows:\n%s", main)
	}

	s.ok("board", "share", "revoke", link.Share.ID)
	run("open it revoked", chromedp.Navigate(s.url+link.Path), chromedp.WaitVisible(`//h1`))
	if main := eval(`document.querySelector("main").innerText`); !strings.Contains(main, "revoked") || strings.Contains(main, "1.0.0") {
		t.Errorf("a revoked link still shows the board:\n%s", main)
	}
}

package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestThePortalEditsARunbooksSteps, in headless Chromium against a server
// process: a runbook made on the operations page is opened on its own page
// (checked for accessibility), gets an email step through the add form of
// the process (the email fields shown for that kind), which is then
// edited (its recipients), moved up, disabled and deleted; a python step is added, the
// runbook published and run in Dev, and its page lists the run.
func TestThePortalEditsARunbooksSteps(t *testing.T) {
	br := newBrowser(t)
	s := startServer(t, t.TempDir(), "", freePort(t))
	type css = chromedp.CSS
	do, text, page := br.do, br.text, br.page

	br.logIn(s)
	do("an environment and a project",
		chromedp.Navigate(s.url+"/environments"),
		chromedp.WaitVisible(css("#env-name")),
		chromedp.SendKeys(css("#env-name"), "Dev"),
		chromedp.Submit(css("#env-name")),
		chromedp.WaitVisible(css(".flash")),
		chromedp.Navigate(s.url+"/projects"),
		chromedp.WaitVisible(css("#project-name")),
		chromedp.SendKeys(css("#project-name"), "web"),
		chromedp.Submit(css("#project-name")),
		chromedp.WaitVisible(css("#step-name")),
	)
	do("a runbook, opened on its page",
		chromedp.Click(`//a[starts-with(text(), "Channels, triggers")]`),
		chromedp.WaitVisible(`//h2[text()="Runbooks"]`),
		chromedp.Click(`//summary[text()="Add a runbook"]`),
		chromedp.SendKeys(css("#rb-name"), "Restart"),
		chromedp.SendKeys(css("#rb-body"), `echo "restarting in #{Octopus.Environment.Name}"`),
		chromedp.Submit(css("#rb-name")),
		chromedp.WaitVisible(css(".flash")),
		chromedp.Click(`//a[text()="Restart"]`),
		chromedp.WaitVisible(`//h1[text()="Runbook: Restart"]`),
		page("runbook"),
	)
	if d := text("#draft-state"); !strings.Contains(d, "not published yet") {
		t.Errorf("the new runbook's draft: %q", d)
	}
	do("an email step",
		chromedp.Click(css(`input[name=kind][value=email]`)),
		chromedp.WaitVisible(css("#step-email-to")),
		chromedp.SendKeys(css("#step-name"), "Mail ops"),
		chromedp.SendKeys(css("#step-email-to"), "ops@example.com"),
		chromedp.SendKeys(css("#step-email-subject"), "Restarted"),
		chromedp.Submit(css("#step-name")),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "Added step Mail ops") and contains(., "publish")]`),
		chromedp.WaitVisible(`//strong[text()="Mail ops"]`),
	)
	do("edit it",
		chromedp.Click(`//a[@aria-label="Edit Mail ops"]`),
		chromedp.WaitVisible(css("#edit-email-to")),
		page("runbook-step"),
		chromedp.SetValue(css("#edit-email-to"), "ops@example.com, lead@example.com"),
		chromedp.Submit(css("#edit-name")),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "Saved step Mail ops")]`),
		chromedp.WaitVisible(`//span[@class="kind" and contains(., "to ops@example.com, lead@example.com")]`),
	)
	do("move it up, disable it",
		chromedp.Click(`//button[@aria-label="Move Mail ops up"]`),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "moved up")]`),
		chromedp.Click(`//li[.//strong[text()="Mail ops"]]//button[text()="Disable"]`),
		chromedp.WaitVisible(`//li[contains(@class, "disabled")]//strong[text()="Mail ops"]`),
	)
	if first := text("ol.steps > li:first-child strong"); first != "Mail ops" {
		t.Errorf("the first step after moving up: %q", first)
	}
	do("delete it; publish; run in Dev",
		chromedp.Click(`//button[@aria-label="Delete Mail ops"]`),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "deleted")]`),
		chromedp.Click(`//button[text()="Publish the draft"]`),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "Published")]`),
		chromedp.WaitVisible(css("#run-env")),
		chromedp.Click(`//button[text()="Run"]`),
		poll(`document.getElementById("task-state") && document.getElementById("task-state").textContent === "Success"`),
	)
	if log := text("#log"); !strings.Contains(log, "restarting in Dev") {
		t.Errorf("the run's log:\n%s", log)
	}
	do("the run on the runbook's page",
		chromedp.Navigate(s.url+"/projects"),
		chromedp.Click(`//a[text()="web"]`),
		chromedp.Click(`//a[starts-with(text(), "Channels, triggers")]`),
		chromedp.Click(`//a[text()="Restart"]`),
		chromedp.WaitVisible(`//td/a[text()="Success"]`),
	)
	if d := text("#draft-state"); !strings.Contains(d, "the same steps") {
		t.Errorf("the published draft: %q", d)
	}
}

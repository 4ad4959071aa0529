package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestThePortalMakesAStepTemplateAndAStepFromIt creates a step template
// with two parameters in the Library, in headless Chromium against a
// server process (the script's fields shown for a script, the package's
// for a package, a third parameter row added on request), and adds a
// project step made from it, whose page asks for the parameters.
func TestThePortalMakesAStepTemplateAndAStepFromIt(t *testing.T) {
	br := newBrowser(t)
	ctx := br.ctx
	s := startServer(t, t.TempDir(), "", freePort(t))
	type css = chromedp.CSS
	do, text, accessible := br.do, br.text, br.page
	visible := func(sel string) bool {
		t.Helper()
		readCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		v, err := chromedp.Run(readCtx, chromedp.Evaluate[bool](`document.querySelector(`+"`"+sel+"`"+`).offsetParent !== null`))
		if err != nil {
			t.Fatalf("look at %s: %v", sel, err)
		}
		return v
	}

	br.logIn(s)

	do("open the new template form",
		chromedp.Click(`//a[text()="Library"]`),
		chromedp.WaitVisible(`//a[text()="Step templates"]`),
		chromedp.Click(`//a[text()="Step templates"]`),
		chromedp.WaitVisible(`//a[text()="New step template"]`),
		chromedp.Click(`//a[text()="New step template"]`),
		chromedp.WaitVisible(css("#tmpl-name")),
		accessible("steptemplate-new"),
	)
	if visible("#tmpl-package") || !visible("#tmpl-body") {
		t.Errorf("a script template shows the package's fields, or hides its script")
	}
	do("a package template's fields", chromedp.Click(css(`input[name=kind][value=package]`)), chromedp.WaitVisible(css("#tmpl-package")))
	if visible("#tmpl-body") {
		t.Errorf("a package template shows the script")
	}
	do("fill the template in",
		chromedp.Click(css(`input[name=kind][value=script]`)),
		chromedp.WaitVisible(css("#tmpl-body")),
		chromedp.SendKeys(css("#tmpl-name"), "Notify"),
		chromedp.SendKeys(css("#tmpl-body"), `echo "to #{Channel} as #{Mode}"`),
		chromedp.SendKeys(css("#par-0-name"), "Channel"),
		chromedp.SendKeys(css("#par-0-label"), "Chat channel"),
		chromedp.SendKeys(css("#par-0-default"), "#ops"),
		chromedp.Click(`//button[text()="Add another parameter"]`),
		chromedp.WaitVisible(css("#par-2-name")),
		chromedp.SendKeys(css("#par-2-name"), "Mode"),
		chromedp.SetValue(css("#par-2-control"), "select"),
		chromedp.SendKeys(css("#par-2-options"), "loud\nquiet"),
		chromedp.SendKeys(css("#par-2-default"), "quiet"),
		chromedp.Click(`//button[text()="Create step template"]`),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "Created step template Notify")]`),
		accessible("steptemplate"),
	)
	if v := text("#current-version"); v != "version 1" {
		t.Errorf("the new template's version: %q", v)
	}
	if h := text("#versions"); !strings.Contains(h, "the first version") {
		t.Errorf("the history: %q", h)
	}

	do("a project with a step made from it",
		chromedp.Navigate(s.url+"/projects"),
		chromedp.WaitVisible(css("#project-name")),
		chromedp.SendKeys(css("#project-name"), "web"),
		chromedp.Submit(css("#project-name")),
		chromedp.WaitVisible(css("#step-name")),
		chromedp.Click(css(`input[name=kind][value=template]`)),
		chromedp.WaitVisible(css("#step-template")),
		chromedp.SendKeys(css("#step-name"), "Tell the team"),
		chromedp.Submit(css("#step-name")),
		chromedp.WaitVisible(`//strong[text()="Tell the team"]`),
		chromedp.Click(`//a[@aria-label="Edit Tell the team"]`),
		chromedp.WaitVisible(css("#template-h")),
	)
	if h := text("#template-h"); !strings.Contains(h, "Notify, version 1") {
		t.Errorf("the step page's template: %q", h)
	}
	do("the step's parameters", chromedp.WaitVisible(css(`input[name="param.Channel"]`)), chromedp.WaitVisible(css(`select[name="param.Mode"]`)))

	// The template page lists the step as using it.
	do("the template's usage",
		chromedp.Click(`//h2[@id="template-h"]/a`),
		chromedp.WaitVisible(`//a[text()="Tell the team"]`),
	)
}

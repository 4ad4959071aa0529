package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// portalBrowser drives one headless Chromium for a test: each step has its own
// deadline and a failure ends the test with where the page was and what it
// said; page() checks a page's accessibility basics and keeps a picture.
type portalBrowser struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

func newBrowser(t *testing.T) *portalBrowser {
	return &portalBrowser{t: t, ctx: browserContext(t), shots: screenshotDir(t)}
}

// do runs the steps of one thing a user does, each within a minute.
func (b *portalBrowser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	for i, step := range steps {
		stepCtx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
		_, err := chromedp.Run(stepCtx, step)
		// A node found in a document the browser then replaced has an id
		// Chromium no longer knows, and the action failed before it acted:
		// once the page has settled, the step finds the node again.
		for tries := 0; err != nil && tries < 3 && strings.Contains(err.Error(), "No node with given id found"); tries++ {
			if _, err = chromedp.Run(stepCtx, settled()); err == nil {
				_, err = chromedp.Run(stepCtx, step)
			}
		}
		cancel()
		if err != nil {
			diagCtx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
			body, _ := chromedp.Run(diagCtx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			url, _ := chromedp.Run(diagCtx, chromedp.Location())
			cancel()
			b.t.Fatalf("%s, step %d: %v\nat %s\npage:\n%s", what, i+1, err, url, body)
		}
	}
}

// eval evaluates a JavaScript expression giving a string.
func (b *portalBrowser) eval(expr string) string {
	b.t.Helper()
	readCtx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(readCtx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// poll waits until the JavaScript expression expr holds, across page
// loads (a form's redirect may still be landing when it starts).
func poll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, tg)
			if err == nil && ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w (last error %v)", expr, ctx.Err(), err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
}

// settled waits until the page has loaded whole.
func settled() chromedp.Action[chromedp.Void] { return poll(`document.readyState === "complete"`) }

// adminPassword is the administrator's password the server printed at its
// first start (the server may still be printing: wait for the line).
func adminPassword(t *testing.T, s *server) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(s.out.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server printed no administrator password:\n%s", s.out)
		}
	}
}

// logIn signs in to s as its administrator, through the login form.
func (b *portalBrowser) logIn(s *server) {
	b.t.Helper()
	password := adminPassword(b.t, s)
	b.do("log in to "+s.url,
		chromedp.Navigate(s.url+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(`//h1[text()="Dashboard"]`),
	)
}

// text reads the text of the element sel (CSS) names.
func (b *portalBrowser) text(sel string) string {
	b.t.Helper()
	readCtx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(readCtx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return v
}

// page checks the page's accessibility basics (a11y) and keeps a screenshot
// named name.
func (b *portalBrowser) page(name string) chromedp.Action[chromedp.Void] {
	t := b.t
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		// The page must be whole before it is judged and pictured.
		if _, err := poll(`document.readyState === "complete" && document.body.clientWidth > 0`)(ctx, tg); err != nil {
			return err
		}
		problems, err := chromedp.Evaluate[[]string](a11y)(ctx, tg)
		if err != nil {
			return err
		}
		for _, p := range problems {
			t.Errorf("%s page: %s", name, p)
		}
		// A picture of the window (full-page captures resize the
		// viewport, which stalls now and then). It is a by-product: one
		// that does not come in time is noted, not a failure.
		shotCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		png, err := chromedp.CaptureScreenshot()(shotCtx, tg)
		if err != nil {
			t.Logf("no screenshot of %s: %v", name, err)
			return nil
		}
		return os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644)
	})
}

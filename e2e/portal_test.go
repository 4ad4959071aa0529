package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chromium finds the browser; in CI a missing one fails the run.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found; .ci/run installs Debian's chromium package")
	}
	t.Skip("no Chromium on this machine (apt-get install chromium)")
	return ""
}

// browserContext starts a headless Chromium for the test.
func browserContext(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("headless", true),
		// No password manager: its prompts can stall screenshots of pages
		// that held a password field.
		chromedp.Flag("password-store", "basic"), chromedp.Flag("disable-features", "PasswordManagerEnabled,PasswordLeakDetection"))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first run starts the browser and ties it to its context: give it
	// the test's, and bound each later step by a context of its own.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// screenshotDir is where the test run leaves pictures of the main pages.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("PULPO_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "pulpo-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// a11y lists what keeps a page from being used without a mouse or a
// screen: no heading, fields without labels, clickable things that are not
// links or buttons.
const a11y = `(() => {
  const problems = [];
  if (!document.querySelector("h1")) problems.push("the page has no h1");
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    const labelled = (el.id && document.querySelector('label[for="' + el.id + '"]')) || el.closest("label") ||
      el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!labelled) problems.push("field without a label: " + el.outerHTML.slice(0, 100));
  }
  for (const el of document.querySelectorAll("[onclick], [tabindex='-1']")) {
    if (!["A", "BUTTON"].includes(el.tagName)) problems.push("mouse-only control: " + el.outerHTML.slice(0, 100));
  }
  for (const el of document.querySelectorAll("a:not([href])")) problems.push("link without a target: " + el.outerHTML.slice(0, 100));
  for (const el of document.querySelectorAll("button")) {
    if (!el.textContent.trim() && !el.getAttribute("aria-label")) problems.push("button without a name");
  }
  return problems;
})()`

func TestThePortalFromLoginToApproval(t *testing.T) {
	br := newBrowser(t)
	ctx := br.ctx
	s := startServer(t, t.TempDir(), "", freePort(t))
	password := adminPassword(t, s)
	type css = chromedp.CSS
	do, text, page := br.do, br.text, br.page

	// Logging in with the keyboard alone.
	do("log in",
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitVisible(css("#username")),
		page("login"),
		chromedp.SendKeys(css("#username"), "admin"+kb.Tab),
		chromedp.SendKeys(css("#password"), password+kb.Enter),
		chromedp.WaitVisible(`//h1[text()="Dashboard"]`),
		page("dashboard-empty"),
	)
	if !strings.Contains(text("main"), "Create an environment") {
		t.Errorf("the empty dashboard does not say what to do first:\n%s", text("main"))
	}

	// An environment, through the form; the same name again is refused
	// with the reason.
	do("create an environment",
		chromedp.Click(`//a[text()="Create an environment"]`),
		chromedp.WaitVisible(css("#env-name")),
		chromedp.SendKeys(css("#env-name"), "Dev"),
		chromedp.Submit(css("#env-name")),
		chromedp.WaitVisible(css(".flash")),
		chromedp.SendKeys(css("#env-name"), "Production"),
		chromedp.Submit(css("#env-name")),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "Production")]`),
		page("environments"),
		chromedp.SendKeys(css("#env-name"), "dev"),
		chromedp.Submit(css("#env-name")),
		chromedp.WaitVisible(css(".error")),
	)
	if e := text(".error"); !strings.Contains(e, "already exists") {
		t.Errorf("a duplicate environment: %q", e)
	}

	// A project with a script step and an approval.
	do("create a project",
		chromedp.Navigate(s.url+"/projects"),
		chromedp.WaitVisible(css("#project-name")),
		page("projects"),
		chromedp.SendKeys(css("#project-name"), "web"),
		chromedp.Submit(css("#project-name")),
		chromedp.WaitVisible(css("#step-name")),
		chromedp.SendKeys(css("#step-name"), "Say hello"),
		chromedp.SendKeys(css("#step-body"), `echo "hello from #{Octopus.Environment.Name}: #{Greeting}"`),
		chromedp.Submit(css("#step-name")),
		chromedp.WaitVisible(`//strong[text()="Say hello"]`),
		chromedp.Click(css(`input[name=kind][value=manual]`)),
		chromedp.SendKeys(css("#step-name"), "Approve"),
		chromedp.SendKeys(css("#step-instructions"), "Check the page, then proceed."),
		chromedp.Submit(css("#step-name")),
		chromedp.WaitVisible(`//strong[text()="Approve"]`),
		page("project"),
	)

	// Variables: a plain one for Dev and a sensitive one, which the page
	// shows only as set.
	do("variables",
		chromedp.Click(`//a[text()="Variables"]`),
		chromedp.WaitVisible(css("#var-name")),
		chromedp.SendKeys(css("#var-name"), "Greeting"),
		chromedp.SendKeys(css("#var-value"), "hi there"),
		chromedp.Click(css(`input[name=environment]`)),
		chromedp.Submit(css("#var-name")),
		chromedp.WaitVisible(css(".flash")),
		chromedp.SendKeys(css("#var-name"), "ApiToken"),
		chromedp.SendKeys(css("#var-value"), "tok-5ec2e7-value"),
		chromedp.Click(css(`input[name=sensitive]`)),
		chromedp.Submit(css("#var-name")),
		chromedp.WaitVisible(css(".flash")),
		page("variables"),
	)
	if vars := text("main"); !strings.Contains(vars, "hi there") || !strings.Contains(vars, "sensitive: set") || strings.Contains(vars, "tok-5ec2e7-value") {
		t.Errorf("the variables page:\n%s", vars)
	}
	do("back to the project", chromedp.Click(`//a[starts-with(text(), "Back to")]`), chromedp.WaitVisible(`//h2[text()="Releases"]`))

	// Editing a step in place: too many retries are refused next to the
	// form; a right number is kept with the step being required.
	do("edit a step",
		chromedp.Click(`//a[@aria-label="Edit Say hello"]`),
		chromedp.WaitVisible(css("#edit-retries")),
		chromedp.SetValue(css("#edit-retries"), "11"),
		chromedp.Submit(css("#edit-name")),
		chromedp.WaitVisible(css("#edit-retries + .field-error")),
	)
	if e := text("#edit-retries + .field-error"); !strings.Contains(e, "must be 0 to 10") {
		t.Errorf("too many retries: %q", e)
	}
	do("edit a step, corrected",
		chromedp.SetValue(css("#edit-retries"), "2"),
		chromedp.Click(css(`input[name=required]`)),
		chromedp.Submit(css("#edit-name")),
		chromedp.WaitVisible(`//h2[text()="Deployment process"]`),
		page("step-saved"),
	)
	if proc := text("#process"); !strings.Contains(proc, "required") || !strings.Contains(proc, "retries 2") {
		t.Errorf("the edited step:\n%s", proc)
	}

	// A release, deployed to Dev; the log streams in and the approval
	// appears on the task page by itself.
	do("create a release and deploy it",
		chromedp.Click(`//button[text()="Create release"]`),
		chromedp.WaitVisible(`//h2[text()="Deploy"]`),
		page("release"),
		chromedp.Click(css(`input[name=environment]`)),
		chromedp.Click(`//button[text()="Deploy"]`),
		chromedp.WaitVisible(css("#task-state")),
		chromedp.WaitVisible(css(".question")),
		page("task-waiting"),
		chromedp.SendKeys(css(`textarea[name=notes]`), "Looks right"),
		chromedp.Click(`//button[@value="Proceed"]`),
		poll(`!document.querySelector(".question") && document.getElementById("task-state").textContent === "Success"`),
		page("task"),
	)
	if log := text("#log"); !strings.Contains(log, "hello from Dev: hi there") {
		t.Errorf("the task page's log lacks the script's line:\n%s", log)
	}

	// The dashboard follows a deployment made elsewhere without a reload.
	do("dashboard",
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitVisible(css(".cell")),
		page("dashboard"),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`)(ctx, tg)
			return err
		}),
	)
	if cell := text(".cell"); !strings.Contains(cell, "0.0.1") || !strings.Contains(cell, "Success") {
		t.Errorf("the dashboard cell: %q", cell)
	}
	s.ok("release", "create", "--project", "web", "--version", "0.0.2")
	s.ok("release", "deploy", "--project", "web", "--version", "0.0.2", "--environment", "Dev")
	do("dashboard updates", poll(`document.querySelector(".cell .version").textContent === "0.0.2"`))
	stayed, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded === true`))
	if err != nil || !stayed {
		t.Errorf("the dashboard reloaded instead of updating its cell (%v)", err)
	}

	// Links that Octopus's tools print (…/app#/Spaces-1/…) open the same
	// project, release or task here.
	var web struct{ ID string }
	s.okJSON(&web, "project", "show", "web", "-o", "json")
	for link, path := range map[string]string{
		"/app#/Spaces-1/projects/" + web.ID:                          "/projects/" + web.ID,
		"/app#/Spaces-1/projects/" + web.ID + "/deployments/process": "/projects/" + web.ID,
		"/app#/Spaces-1/tasks/ServerTasks-1":                         "/tasks/Tasks-1",
		"/app#/Spaces-1/infrastructure/environments/Environments-1":  "/environments",
		"/app": "/",
	} {
		do("Octopus link "+link, chromedp.Navigate(s.url+link), poll(`location.pathname === "`+path+`"`), chromedp.WaitVisible(css("h1")))
	}

	// A runbook: added, published and run from the project's operations.
	do("runbook",
		chromedp.Navigate(s.url+"/projects"),
		chromedp.Click(`//a[text()="web"]`),
		chromedp.Click(`//a[starts-with(text(), "Channels, triggers")]`),
		chromedp.WaitVisible(`//h2[text()="Runbooks"]`),
		page("operations"),
		chromedp.Click(`//summary[text()="Add a runbook"]`),
		chromedp.SendKeys(css("#rb-name"), "Restart"),
		chromedp.SendKeys(css("#rb-body"), `echo "restarting in #{Octopus.Environment.Name}"`),
		chromedp.Submit(css("#rb-name")),
		chromedp.WaitVisible(css(".flash")),
		chromedp.Click(`//button[@aria-label="Publish Restart"]`),
		chromedp.WaitVisible(`//button[@aria-label="Run Restart"]`),
		chromedp.Click(`//button[@aria-label="Run Restart"]`),
		poll(`document.getElementById("task-state") && document.getElementById("task-state").textContent === "Success"`),
	)
	if log := text("#log"); !strings.Contains(log, "restarting in Dev") {
		t.Errorf("the runbook run's log:\n%s", log)
	}

	// Infrastructure: a listening machine added through the form, its
	// health checked on demand (nothing listens there: Unavailable, with
	// the reason), and the polling agent's registration command.
	do("infrastructure",
		chromedp.Navigate(s.url+"/infrastructure"),
		chromedp.WaitVisible(css("#machine-name")),
		chromedp.SendKeys(css("#machine-name"), "web-01"),
		chromedp.SendKeys(css("#machine-address"), fmt.Sprintf("127.0.0.1:%d", freePort(t))),
		chromedp.SendKeys(css("#machine-thumbprint"), "not a thumbprint"),
		chromedp.Click(css(`input[name=environment]`)),
		chromedp.SendKeys(css("#machine-roles"), "web"),
		chromedp.Submit(css("#machine-name")),
		chromedp.WaitVisible(css(".field-error")),
	)
	if e := text(".field-error"); !strings.Contains(e, "thumbprint") {
		t.Errorf("a bad thumbprint's message next to its field: %q", e)
	}
	do("infrastructure, corrected",
		chromedp.SetValue(css("#machine-thumbprint"), strings.Repeat("AB", 32)),
		chromedp.Click(css(`input[name=environment]`)),
		chromedp.Submit(css("#machine-name")),
		chromedp.WaitVisible(css(".flash")),
		chromedp.Click(`//button[text()="Check health now"]`),
		poll(`document.querySelector(".flash") && document.querySelector(".flash").textContent.includes("Unavailable")`),
		page("infrastructure"),
	)
	if cmd := text("#register-command"); !strings.Contains(cmd, "pulpo agent register --server "+s.url) {
		t.Errorf("the registration command: %q", cmd)
	}

	// The machine's own page: its roles changed through the form, its
	// health checked from there (and back there), then its pool and policy.
	do("machine",
		chromedp.Click(`//a[text()="web-01"]`),
		chromedp.WaitVisible(`//h1[text()="web-01"]`),
		page("machine"),
		chromedp.SetValue(css("#machine-roles"), "web, api"),
		chromedp.Submit(css("#machine-roles")),
		poll(`document.querySelector(".flash") && document.querySelector(".flash").textContent.includes("Saved web-01")`),
		chromedp.Click(`//button[text()="Check health now"]`),
		poll(`location.pathname.startsWith("/machines/") && document.querySelector(".flash") && document.querySelector(".flash").textContent.includes("Unavailable")`),
	)
	do("worker pool and machine policy",
		chromedp.Navigate(s.url+"/infrastructure"),
		chromedp.Click(`//summary[text()="Add a worker pool"]`),
		chromedp.WaitVisible(css("#pool-name")),
		chromedp.SendKeys(css("#pool-name"), "Linux"),
		chromedp.Submit(css("#pool-name")),
		chromedp.WaitVisible(`//h1[text()="Linux"]`),
		page("workerpool"),
		chromedp.Navigate(s.url+"/infrastructure"),
		chromedp.Click(`//a[text()="Default Machine Policy"]`),
		chromedp.WaitVisible(css("#policy-interval")),
		page("machinepolicy"),
		chromedp.SetValue(css("#policy-interval"), "soon"),
		chromedp.Submit(css("#policy-interval")),
		chromedp.WaitVisible(css(".field-error")),
	)
	if e := text(".field-error"); !strings.Contains(e, "not a duration") {
		t.Errorf("an unreadable interval's message next to its field: %q", e)
	}

	// One's own API key, shown once; the audit log and the node list.
	do("profile",
		chromedp.Click(`//a[@class="who"]`),
		// The click navigates; wait for the new page to finish loading, so
		// the form found next is not replaced under the typing.
		poll(`location.pathname === "/profile" && document.readyState === "complete"`),
		chromedp.WaitVisible(css("#key-purpose")),
		chromedp.SendKeys(css("#key-purpose"), "laptop"),
		chromedp.Submit(css("#key-purpose")),
		chromedp.WaitVisible(css("#new-key")),
		page("profile"),
	)
	key := strings.TrimSpace(text("#new-key"))
	if r := run(t, []string{"PULPO_SERVER=" + s.url, "PULPO_API_KEY=" + key}, "", "whoami"); r.code != 0 {
		t.Errorf("the key made in the portal does not work: %s", r.stderr)
	}
	do("audit",
		chromedp.Navigate(s.url+"/audit?action=deploy"),
		chromedp.WaitVisible(`//h1[text()="Audit log"]`),
		page("audit"),
	)
	if a := text("table.list"); !strings.Contains(a, "deployed web release 0.0.1 to Dev") || strings.Contains(a, "created environment") {
		t.Errorf("the audit log filtered by deploy:\n%s", a)
	}
	do("nodes", chromedp.Navigate(s.url+"/nodes"), chromedp.WaitVisible(`//h1[text()="Nodes and queue"]`), page("nodes"))
	if n := text("table.list"); !strings.Contains(n, "alive") {
		t.Errorf("the node list:\n%s", n)
	}

	// Library: a package uploaded with its progress shown, and a lifecycle.
	pkg := filepath.Join(t.TempDir(), "app.1.2.3.tar.gz")
	writeTarGz(t, pkg, map[string]string{"index.html": "hello"})
	do("upload a package",
		chromedp.Navigate(s.url+"/packages"),
		chromedp.WaitVisible(css("#package-file")),
		chromedp.SetUploadFiles(css("#package-file"), []string{pkg}),
		chromedp.Click(`//button[text()="Upload"]`),
		chromedp.WaitVisible(`//h2[text()="Versions of app"]`),
		page("packages"),
	)
	if versions := text("main"); !strings.Contains(versions, "1.2.3") || !strings.Contains(versions, "Pushed app 1.2.3 (created)") {
		t.Errorf("the packages page after the upload:\n%s", versions)
	}
	do("lifecycle",
		chromedp.Navigate(s.url+"/lifecycles"),
		chromedp.WaitVisible(css("#lc-name")),
		chromedp.SendKeys(css("#lc-name"), "Fast lane"),
		chromedp.Click(`//label[contains(., "Dev") and not(contains(., "automatically"))]/input`),
		chromedp.Click(`//label[contains(., "deploy to Dev automatically")]/input`),
		chromedp.Click(`//label[contains(., "Production") and not(contains(., "automatically"))]/input`),
		chromedp.Submit(css("#lc-name")),
		chromedp.WaitVisible(`//h2[text()="Fast lane"]`),
		page("lifecycles"),
	)
	if lc := text("main"); !strings.Contains(lc, "Dev · automatic") {
		t.Errorf("the lifecycle's phases:\n%s", lc)
	}

	// A package step; its release takes the version chosen from the feed.
	do("a package step and its release",
		chromedp.Navigate(s.url+"/projects"),
		chromedp.WaitVisible(css("#project-name")),
		chromedp.SendKeys(css("#project-name"), "site"),
		chromedp.Submit(css("#project-name")),
		chromedp.WaitVisible(css("#step-name")),
		chromedp.Click(css(`input[name=kind][value=package]`)),
		chromedp.SendKeys(css("#step-name"), "Deploy app"),
		chromedp.SendKeys(css("#step-package"), "app"),
		chromedp.Submit(css("#step-name")),
		chromedp.WaitVisible(`//strong[text()="Deploy app"]`),
		chromedp.SetValue(css(`select[name="package:Deploy app"]`), "1.2.3"),
		chromedp.Click(`//button[text()="Create release"]`),
		chromedp.WaitVisible(`//h2[text()="Deploy"]`),
	)
	if rel := text("main"); !strings.Contains(rel, "app 1.2.3") {
		t.Errorf("the release page does not show the package version:\n%s", rel)
	}

	// Stagings: the template set through its form (scripts that say ok),
	// a staging created through the form; its page refreshes itself until
	// the staging runs.
	do("staging template",
		chromedp.Navigate(s.url+"/projects"),
		chromedp.Click(`//a[text()="web"]`),
		chromedp.WaitVisible(`//h2[text()="Releases"]`),
		chromedp.Click(`//nav[@aria-label="Project"]/a[text()="Stagings"]`),
		chromedp.WaitVisible(`//h2[text()="No staging template yet"]`),
		page("stagings-without-template"),
		chromedp.Click(`//a[text()="set up the staging template"]`),
		chromedp.WaitVisible(css("#script-create")),
		chromedp.SendKeys(css("#script-create"), "echo ok"),
		chromedp.SendKeys(css("#script-update"), "echo ok"),
		chromedp.SendKeys(css("#script-archive"), "echo ok"),
		chromedp.SendKeys(css("#script-cleanup"), "echo ok"),
		chromedp.SendKeys(css("#script-info"), `echo "web,https://#{Staging.Name}.example.test/"`),
		chromedp.SendKeys(css("#tpl-defaults"), "app.replicas=1"),
		page("staging-template"),
		chromedp.Submit(css("#script-create")),
		chromedp.WaitVisible(`//p[@class="flash" and contains(., "Saved the staging template")]`),
	)
	var stagingPath, templatePath string
	do("create a staging",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			var err error
			templatePath, err = chromedp.Evaluate[string](`location.pathname`)(ctx, tg)
			return err
		}),
		chromedp.Click(`//a[text()="stagings"]`),
		chromedp.WaitVisible(css("#staging-name")),
		chromedp.SendKeys(css("#staging-name"), "feature-a"),
		chromedp.SendKeys(css("#staging-config"), "app.tag=ab12cd"),
		page("stagings-new"),
		chromedp.Submit(css("#staging-name")),
		chromedp.WaitVisible(css("#staging-state")),
		poll(`document.getElementById("staging-state") && document.getElementById("staging-state").textContent === "Running" && !document.querySelector("[data-busy]")`),
		page("staging"),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			var err error
			stagingPath, err = chromedp.Evaluate[string](`location.pathname`)(ctx, tg)
			return err
		}),
	)
	if st := text("main"); !strings.Contains(st, "ab12cd") || !strings.Contains(st, "app.replicas") || !strings.Contains(st, "Promote to a release") {
		t.Errorf("the staging's page:\n%s", st)
	}
	do("every staging", chromedp.Navigate(s.url+"/stagings"), chromedp.WaitVisible(`//a[text()="feature-a"]`), page("stagings"))
	if list := text("table.list"); !strings.Contains(list, "Running") || !strings.Contains(list, "app.tag=ab12cd") {
		t.Errorf("the stagings list:\n%s", list)
	}

	// A narrow window (a phone): pages fit its width; the dashboard's
	// table scrolls within itself.
	const overflowing = `(() => {
	  const out = [];
	  for (const el of document.querySelectorAll("body *")) {
	    if (el.closest("table.dashboard, table.list, pre")) continue; // these scroll within themselves
	    const r = el.getBoundingClientRect();
	    if (r.right > window.innerWidth + 1) out.push(el.tagName + "." + el.className + " right=" + Math.round(r.right));
	  }
	  return out;
	})()`
	// In a tab of its own, so the main tab keeps its size.
	narrow, closeNarrow := chromedp.NewContext(ctx)
	defer closeNarrow()
	if err := chromedp.Do(narrow, chromedp.Navigate("about:blank")); err != nil { // opens the tab, tied to narrow
		t.Fatalf("open a narrow tab: %v", err)
	}
	for _, path := range []string{"/", "/projects", "/infrastructure", "/packages", "/stagings", stagingPath, templatePath} {
		stepCtx, cancel := context.WithTimeout(narrow, 30*time.Second)
		err := chromedp.Do(stepCtx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.url+path), chromedp.WaitVisible(css("h1")))
		var wide []string
		if err == nil {
			wide, err = chromedp.Run(stepCtx, chromedp.Evaluate[[]string](overflowing))
		}
		cancel()
		if err != nil || len(wide) > 0 {
			t.Errorf("at 390 px wide, %s has elements past the window's edge: %v %v", path, wide, err)
		}
	}

	// A subscription: a webhook that a test event reaches.
	var hooks atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Pulpo-Signature") != "" {
			hooks.Add(1)
		}
	}))
	defer hook.Close()
	do("subscription",
		chromedp.Navigate(s.url+"/subscriptions"),
		chromedp.WaitVisible(css("#sub-name")),
		chromedp.SendKeys(css("#sub-name"), "Chat room"),
		chromedp.Click(css(`input[name=event][value=deployment-failed]`)),
		chromedp.SendKeys(css("#sub-url"), hook.URL+"/pulpo"),
		chromedp.SendKeys(css("#sub-secret"), "hook secret"),
		chromedp.Submit(css("#sub-name")),
		chromedp.WaitVisible(css(".flash")),
		chromedp.Click(`//button[@aria-label="Send a test event to Chat room"]`),
		chromedp.WaitVisible(css(".flash")),
	)
	for deadline := time.Now().Add(30 * time.Second); hooks.Load() == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the test event never reached the webhook")
		}
	}
	do("subscription delivered", chromedp.Navigate(s.url+"/subscriptions"), chromedp.WaitVisible(`//td[text()="ping"]`), page("subscriptions"))

	// People: a user, and a team giving them Project deployer for Dev only.
	do("people",
		chromedp.Navigate(s.url+"/people"),
		chromedp.WaitVisible(css("#user-name")),
		chromedp.SendKeys(css("#user-name"), "dana"),
		chromedp.SendKeys(css("#user-password"), "dana's long passphrase"),
		chromedp.Submit(css("#user-name")),
		chromedp.WaitVisible(css(".flash")),
		chromedp.SendKeys(css("#team-name"), "Dev deployers"),
		chromedp.Click(`//label[contains(., "dana")]/input[@name="member"]`),
		chromedp.SetValue(css("#team-role"), "Roles-ProjectDeployer"),
		chromedp.Click(`//fieldset[legend[starts-with(., "Only for environments")]]//input`),
		chromedp.Submit(css("#team-name")),
		chromedp.WaitVisible(css(".flash")),
		page("people"),
	)
	if teams := text("main"); !strings.Contains(teams, "Dev deployers") || !strings.Contains(teams, "Project deployer") {
		t.Errorf("the teams:\n%s", teams)
	}
	// A custom role from chosen permissions.
	do("custom role",
		chromedp.Click(`//summary[text()="Add a custom role"]`),
		chromedp.SendKeys(css("#role-name"), "Variable editor"),
		chromedp.Click(css(`input[name=permission][value=VariableEdit]`)),
		chromedp.Click(css(`input[name=permission][value=VariableView]`)),
		chromedp.Submit(css("#role-name")),
		chromedp.WaitVisible(`//td[starts-with(., "Variable editor")]`),
	)
	// A service account for CI, and its key made here.
	do("service account",
		chromedp.SendKeys(css("#user-name"), "ci-bot"),
		chromedp.Click(css(`input[name=service]`)),
		chromedp.Submit(css("#user-name")),
		chromedp.WaitVisible(css(".flash")),
		chromedp.Click(`//button[@aria-label="Create an API key for ci-bot"]`),
		chromedp.WaitVisible(css("#new-key")),
	)
	ciKey := strings.TrimSpace(text("#new-key"))
	if r := run(t, []string{"PULPO_SERVER=" + s.url, "PULPO_API_KEY=" + ciKey}, "", "whoami"); r.code != 0 || !strings.Contains(r.stdout, "ci-bot") {
		t.Errorf("the service account's key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Dana sees what her role reaches, and not the people page.
	do("log in as dana",
		chromedp.Click(`//button[text()="Log out"]`),
		chromedp.WaitVisible(css("#username")),
		chromedp.SendKeys(css("#username"), "dana"),
		chromedp.SendKeys(css("#password"), "dana's long passphrase"+kb.Enter),
		chromedp.WaitVisible(css(".cell")),
	)
	if header := text("table.dashboard thead"); !strings.Contains(header, "Dev") || strings.Contains(header, "Production") {
		t.Errorf("dana's dashboard header: %q", header)
	}
	do("dana may not see people", chromedp.Navigate(s.url+"/people"), chromedp.WaitVisible(css(".error")))
	if e := text(".error"); !strings.Contains(e, "UserView") {
		t.Errorf("dana on the people page: %q", e)
	}
	t.Logf("screenshots in %s", br.shots)
}

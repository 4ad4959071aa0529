package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fixture is a machine's folders for Run tests: apps, cache, journal, and
// a log file scripts append to (its path comes from the bootstrap, which
// also defines a function, to prove scripts see it).
type fixture struct {
	dir, apps, cache, journal, log string
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	f := &fixture{dir: dir, apps: filepath.Join(dir, "apps"), cache: filepath.Join(dir, "cache"),
		journal: filepath.Join(dir, "journal", "deployments.json"), log: filepath.Join(dir, "scripts.log")}
	os.MkdirAll(f.cache, 0o755)
	return f
}

// pkg writes a cached package of version with entries.
func (f *fixture) pkg(t *testing.T, version string, entries ...archiveEntry) string {
	return writeArchive(t, filepath.Join(f.cache, "app."+version+".tar.gz"), entries...)
}

func (f *fixture) manifest(pkgPath, version string) Manifest {
	return Manifest{
		Package:     PackageFile{Path: pkgPath, ID: "app", Version: version},
		Project:     "web",
		Environment: "Production",
		AppsRoot:    f.apps,
		Variables: []Variable{
			{Name: "Url", Value: "https://#{Host}"},
			{Name: "Host", Value: "prod.example.com"},
			{Name: "Port", Value: "443"},
			{Name: "Password", Value: "s3cret", Sensitive: true},
		},
		Bootstrap:         fmt.Sprintf("LOG=%s\nlog() { echo \"$*\" >> \"$LOG\"; }\n", shellQuote(f.log)),
		RunPackageScripts: true,
		JournalPath:       f.journal,
		CacheDir:          f.cache,
	}
}

func (f *fixture) logLines(t *testing.T) []string {
	b, err := os.ReadFile(f.log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func (f *fixture) journalEntries(t *testing.T) []JournalEntry {
	entries, err := readJournal(f.journal)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func run(t *testing.T, m Manifest) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := Run(context.Background(), m, Options{}, &out, &out)
	return out.String(), err
}

func TestRunFollowsOctopusOrder(t *testing.T) {
	f := newFixture(t)
	p := f.pkg(t, "1.4.0",
		file("PreDeploy.sh", `log "package PreDeploy sees $(cat config/app.config) in $(basename "$PWD")"`),
		file("Deploy.sh", "log \"package Deploy sees $(cat config/app.config) and $(tr -d ' \\n' < appsettings.json)\"\necho \"stdout line\"\necho \"stderr line\" >&2"),
		file("PostDeploy.sh", `log "package PostDeploy in $PULPO_INSTALL_DIR, stage $PULPO_DEPLOY_STAGE"`),
		file("config/app.config", "url=#{Url}"),
		file("appsettings.json", `{ "Port": 80 }`),
	)
	m := f.manifest(p, "1.4.0")
	m.SubstituteFiles = []string{"config/*.config"}
	m.StructuredConfig = StructuredConfig{Enabled: true, Files: []string{"appsettings.json"}}
	m.Scripts = InlineScripts{
		PreDeploy:  &InlineScript{Body: `log "inline PreDeploy"`},
		Deploy:     &InlineScript{Syntax: "sh", Body: `log "inline Deploy"`},
		PostDeploy: &InlineScript{Body: `log "inline PostDeploy"`},
	}

	out, err := run(t, m)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	folder := filepath.Join(f.apps, "Production", "app", "1.4.0")
	want := []string{
		"inline PreDeploy", // Calamari runs the step's PreDeploy before the package's
		"package PreDeploy sees url=#{Url} in 1.4.0",
		`package Deploy sees url=https://prod.example.com and {"Port":443}`,
		"inline Deploy",
		"package PostDeploy in " + folder + ", stage PostDeploy",
		"inline PostDeploy",
	}
	if got := f.logLines(t); !slices.Equal(got, want) {
		t.Errorf("scripts ran as\n%q\nwant\n%q", got, want)
	}
	for _, line := range []string{
		"Deploying package app 1.4.0 (project web, environment Production)",
		"Extracting app.1.4.0.tar.gz into " + folder,
		"Running inline PreDeploy script",
		"Running PreDeploy.sh",
		"Substituted variables in config/app.config",
		"Structured configuration: appsettings.json (JSON): replaced Port",
		"stdout line",
		"stderr line",
		"Deployed app 1.4.0 to " + folder,
	} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	if entries := f.journalEntries(t); len(entries) != 1 || !entries[0].Success || entries[0].InstalledTo != folder || entries[0].PackagePath != p {
		t.Errorf("journal %+v", entries)
	}
}

func TestRunFailureRunsDeployFailedAndNamesTheStep(t *testing.T) {
	f := newFixture(t)
	p := f.pkg(t, "1.0.0",
		file("Deploy.sh", "log deploy\nexit 3"),
		file("DeployFailed.sh", `log "package DeployFailed after $PULPO_FAILED_STEP: $PULPO_DEPLOYMENT_ERROR"`),
		file("PostDeploy.sh", "log post"),
	)
	m := f.manifest(p, "1.0.0")
	m.Scripts.DeployFailed = &InlineScript{Body: "log inline DeployFailed"}

	out, err := run(t, m)
	if err == nil || err.Error() != "Deploy: Deploy.sh exited with code 3" {
		t.Fatalf("error %v\n%s", err, out)
	}
	want := []string{"deploy", "package DeployFailed after Deploy: Deploy: Deploy.sh exited with code 3", "inline DeployFailed"}
	if got := f.logLines(t); !slices.Equal(got, want) {
		t.Errorf("scripts ran as %q, want %q", got, want)
	}
	if !strings.Contains(out, "Step Deploy failed: Deploy.sh exited with code 3\n") {
		t.Errorf("output does not say which step failed:\n%s", out)
	}
	if entries := f.journalEntries(t); len(entries) != 1 || entries[0].Success {
		t.Errorf("journal %+v", entries)
	}
}

func TestRunFailureInAConfigurationStepRunsDeployFailedToo(t *testing.T) {
	f := newFixture(t)
	p := f.pkg(t, "1.0.0", file("a.config", "#{if Broken}"), file("DeployFailed.sh", "log failed in $PULPO_FAILED_STEP"))
	m := f.manifest(p, "1.0.0")
	m.SubstituteFiles = []string{"*.config"}
	_, err := run(t, m)
	if err == nil || !strings.HasPrefix(err.Error(), "substitute variables in files: a.config:1:1: ") {
		t.Fatalf("error %v", err)
	}
	if got := f.logLines(t); !slices.Equal(got, []string{"failed in substitute variables in files"}) {
		t.Errorf("scripts ran as %q", got)
	}
}

func TestRunNeverReusesAFolderAndTellsScriptsThePreviousOne(t *testing.T) {
	f := newFixture(t)
	p := f.pkg(t, "2.0.0", file("Deploy.sh", `log "previous=$PULPO_PREVIOUS_INSTALLATION"`))
	m := f.manifest(p, "2.0.0")
	for range 3 {
		if out, err := run(t, m); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	base := filepath.Join(f.apps, "Production", "app")
	want := []string{"previous=", "previous=" + base + "/2.0.0", "previous=" + base + "/2.0.0_2"}
	if got := f.logLines(t); !slices.Equal(got, want) {
		t.Errorf("scripts saw %q, want %q", got, want)
	}
	if got, ok := PreviousInstallation(f.journal, "WEB", "production", "App"); !ok || got != base+"/2.0.0_3" {
		t.Errorf("PreviousInstallation = %q, %v", got, ok)
	}
	if _, ok := PreviousTenantInstallation(f.journal, "web", "Production", "Acme", "app"); ok {
		t.Error("a tenant saw an untenanted installation")
	}
}

func TestRunSetsCalamarisPreviousInstallationVariables(t *testing.T) {
	f := newFixture(t)
	conf := file("previous.conf", "latest=#{Octopus.Tentacle.PreviousInstallation.OriginalInstalledPath} #{Octopus.Tentacle.PreviousInstallation.PackageVersion}\n"+
		"successful=#{Octopus.Tentacle.PreviousSuccessfulInstallation.OriginalInstalledPath}\n"+
		"here=#{Octopus.Action.Package.InstallationDirectoryPath}\n")
	deploy := func(version, script string) string {
		p := f.pkg(t, version, conf, file("Deploy.sh", script))
		m := f.manifest(p, version)
		m.SubstituteFiles = []string{"*.conf"}
		// A bootstrap like the server's: get_octopusvariable over a table
		// that __pulpo_define extends.
		m.Bootstrap = "declare -A __v=()\n__pulpo_define() { __v[${1,,}]=$2; }\nget_octopusvariable() { printf '%s' \"${__v[${1,,}]-}\"; }\n"
		out, _ := run(t, m)
		return out
	}
	base := filepath.Join(f.apps, "Production", "app")
	deploy("1.0.0", "cat previous.conf")
	deploy("1.1.0", "cat previous.conf; exit 1") // fails: the latest, not the latest successful
	out := deploy("1.2.0", `cat previous.conf; echo "script sees $(get_octopusvariable Octopus.Tentacle.PreviousInstallation.PackageVersion) in $(get_octopusvariable Octopus.Action.Package.InstallationDirectoryPath)"`)
	for _, want := range []string{
		"latest=" + base + "/1.1.0 1.1.0",
		"successful=" + base + "/1.0.0",
		"here=" + base + "/1.2.0",
		"script sees 1.1.0 in " + base + "/1.2.0",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestRunTenantsGetTheirOwnFolders(t *testing.T) {
	f := newFixture(t)
	p := f.pkg(t, "1.0.0", file("a.txt", "a"))
	m := f.manifest(p, "1.0.0")
	m.Tenant = "Acme"
	if out, err := run(t, m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got, ok := PreviousTenantInstallation(f.journal, "web", "Production", "acme", "app"); !ok || got != filepath.Join(f.apps, "Acme", "Production", "app", "1.0.0") {
		t.Errorf("PreviousTenantInstallation = %q, %v", got, ok)
	}
}

func TestRunCopiesToTheCustomFolderAfterPurgingItAndRunsDeployThere(t *testing.T) {
	f := newFixture(t)
	custom := filepath.Join(f.dir, "site")
	writeFile(t, filepath.Join(custom, "logs/app.log"), "kept log")
	writeFile(t, filepath.Join(custom, "data/keep.db"), "kept db")
	writeFile(t, filepath.Join(custom, "data/cache.tmp"), "purged")
	writeFile(t, filepath.Join(custom, "old.txt"), "purged")
	writeFile(t, filepath.Join(custom, "index.html"), "old page")
	p := f.pkg(t, "3.0.0",
		file("index.html", "<p>#{Url}</p>"),
		executable("bin/start.sh", "echo"),
		file("Deploy.sh", `log "Deploy in $PWD, extracted to $(basename "$PULPO_EXTRACTED_DIR"), custom $PULPO_CUSTOM_INSTALL_DIR"`),
	)
	m := f.manifest(p, "3.0.0")
	m.SubstituteFiles = []string{"*.html"}
	m.CustomInstallDir = CustomInstallDir{Path: custom, Purge: true, Exclude: []string{"logs/**", "data/*.db"}}

	out, err := run(t, m)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := []string{
		"Deploy.sh: log \"Deploy in $PWD, extracted to $(basename \"$PULPO_EXTRACTED_DIR\"), custom $PULPO_CUSTOM_INSTALL_DIR\"",
		"bin/", "bin/start.sh: echo",
		"data/", "data/keep.db: kept db",
		"index.html: <p>https://prod.example.com</p>",
		"logs/", "logs/app.log: kept log",
	}
	if got := tree(t, custom); !slices.Equal(got, want) {
		t.Errorf("custom folder holds\n%q\nwant\n%q", got, want)
	}
	if fi, _ := os.Stat(filepath.Join(custom, "bin/start.sh")); fi.Mode().Perm() != 0o755 {
		t.Errorf("copied mode %v", fi.Mode().Perm())
	}
	if got := f.logLines(t); !slices.Equal(got, []string{"Deploy in " + custom + ", extracted to 3.0.0, custom " + custom}) {
		t.Errorf("scripts ran as %q", got)
	}
	if entries := f.journalEntries(t); entries[0].CustomInstallDir != custom {
		t.Errorf("journal %+v", entries)
	}
}

func TestRunRetentionRemovesOldInstallationsAndCachedPackages(t *testing.T) {
	f := newFixture(t)
	deploy := func(version string, fail bool) {
		t.Helper()
		body := "true"
		if fail {
			body = "exit 1"
		}
		p := filepath.Join(f.cache, "app."+version+".tar.gz")
		if _, err := os.Stat(p); err != nil {
			f.pkg(t, version, file("Deploy.sh", body))
		}
		m := f.manifest(p, version)
		m.RetainInstallations = 2
		if out, err := run(t, m); (err != nil) != fail {
			t.Fatalf("deploy %s: %v\n%s", version, err, out)
		}
	}
	deploy("1.0", false)
	deploy("1.1", true)
	os.Remove(filepath.Join(f.cache, "app.1.1.tar.gz"))
	f.pkg(t, "1.1", file("Deploy.sh", "true")) // fixed and pushed again
	deploy("1.1", false)
	deploy("1.2", false)

	base := filepath.Join(f.apps, "Production", "app")
	if got := tree(t, base); !slices.Equal(got, []string{"1.1_2/", "1.1_2/Deploy.sh: true", "1.2/", "1.2/Deploy.sh: true"}) {
		t.Errorf("installations left: %q", got)
	}
	var cached []string
	for _, e := range tree(t, f.cache) {
		cached = append(cached, strings.SplitN(e, ":", 2)[0])
	}
	if want := []string{"app.1.1.tar.gz", "app.1.2.tar.gz"}; !slices.Equal(cached, want) {
		t.Errorf("cache holds %q, want %q", cached, want)
	}
	var removed []bool
	for _, e := range f.journalEntries(t) {
		removed = append(removed, e.Removed)
	}
	if want := []bool{true, true, false, false}; !slices.Equal(removed, want) {
		t.Errorf("journal removed flags %v, want %v", removed, want)
	}
}

func TestRunSkipRemainingConventionsEndsSuccessfully(t *testing.T) {
	f := newFixture(t)
	p := f.pkg(t, "1.0.0",
		file("PreDeploy.sh", `echo "##octopus[setVariable name='$(printf %s Octopus.Action.SkipRemainingConventions | base64)' value='$(printf True | base64)']"`),
		file("Deploy.sh", "log deploy"),
	)
	out, err := run(t, f.manifest(p, "1.0.0"))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := f.logLines(t); got != nil {
		t.Errorf("Deploy ran: %q", got)
	}
	if !strings.Contains(out, "##octopus[setVariable name='T2N0b3B1cy5BY3Rpb24uU2tpcFJlbWFpbmluZ0NvbnZlbnRpb25z'") {
		t.Errorf("the service message did not pass through:\n%s", out)
	}
}

func TestRunPythonScripts(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	f := newFixture(t)
	p := f.pkg(t, "1.0.0",
		file("Deploy.py", "import os\nprint('python in', os.path.basename(os.getcwd()), os.environ['PULPO_PACKAGE_VERSION'])"),
		file("PostDeploy.sh", "log sh wins"), file("PostDeploy.py", "raise SystemExit(1)"),
	)
	m := f.manifest(p, "1.0.0")
	m.Scripts.PreDeploy = &InlineScript{Syntax: "python", Body: "print('inline python')"}
	out, err := run(t, m)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, line := range []string{"inline python", "python in 1.0.0 1.0.0"} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	if got := f.logLines(t); !slices.Equal(got, []string{"sh wins"}) {
		t.Errorf("scripts ran as %q", got)
	}
}

func TestRunScriptsCanBeTurnedOff(t *testing.T) {
	f := newFixture(t)
	p := f.pkg(t, "1.0.0", file("Deploy.sh", "log package"))
	m := f.manifest(p, "1.0.0")
	m.RunPackageScripts = false
	m.Scripts.Deploy = &InlineScript{Body: "log inline"}
	if out, err := run(t, m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := f.logLines(t); !slices.Equal(got, []string{"inline"}) {
		t.Errorf("scripts ran as %q", got)
	}
}

func TestRunRefusesBadPackagesBeforeRunningAnything(t *testing.T) {
	f := newFixture(t)
	p := f.pkg(t, "1.0.0", file("DeployFailed.sh", "log failed"), file("../escape", "x"))
	_, err := run(t, f.manifest(p, "1.0.0"))
	if err == nil || !strings.Contains(err.Error(), `extract: app.1.0.0.tar.gz: refused entry "../escape"`) {
		t.Fatalf("error %v", err)
	}
	if got := tree(t, f.apps); !slices.Equal(got, []string{"Production/", "Production/app/"}) {
		t.Errorf("apps folder holds %q", got)
	}
	if f.logLines(t) != nil || len(f.journalEntries(t)) != 0 {
		t.Error("something ran or was recorded after a refused extraction")
	}

	good := f.pkg(t, "2.0.0", file("a", "a"))
	m := f.manifest(good, "2.0.0")
	m.Package.SHA256 = hex.EncodeToString(sha256.New().Sum(nil))
	if _, err := run(t, m); err == nil || !strings.Contains(err.Error(), "but "+m.Package.SHA256+" was expected") {
		t.Fatalf("error %v", err)
	}
}

func TestRunStopsWhenCanceled(t *testing.T) {
	f := newFixture(t)
	p := f.pkg(t, "1.0.0", file("Deploy.sh", "log started; sleep 30; log finished"), file("DeployFailed.sh", "log failed"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- Run(ctx, f.manifest(p, "1.0.0"), Options{}, &out, &out) }()
	// The shell creates the log file before it writes the line: wait for the whole line.
	for !slices.Equal(f.logLines(t), []string{"started"}) {
		select {
		case err := <-done:
			t.Fatalf("ended early: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "Deploy.sh was stopped") {
		t.Fatalf("error %v", err)
	}
	if got := f.logLines(t); !slices.Equal(got, []string{"started"}) {
		t.Errorf("scripts ran as %q", got)
	}
	if entries := f.journalEntries(t); len(entries) != 1 || entries[0].Success {
		t.Errorf("journal %+v", entries)
	}
}

func TestRunScriptOutputIsPassedOnInWholeLines(t *testing.T) {
	f := newFixture(t)
	p := f.pkg(t, "1.0.0", file("Deploy.sh", "printf 'part one, '; sleep 0.05; printf 'part two\\r\\n'; printf 'no newline at the end'"))
	out, err := run(t, f.manifest(p, "1.0.0"))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, line := range []string{"\npart one, part two\n", "\nno newline at the end\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

func TestRunScriptLeavingABackgroundProcessOnItsOutputStillSucceeds(t *testing.T) {
	f := newFixture(t)
	p := f.pkg(t, "1.0.0", file("Deploy.sh", "(sleep 3; echo late) &\nlog started"))
	out, err := run(t, f.manifest(p, "1.0.0"))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "Warning: Deploy.sh left processes writing to its output") {
		t.Errorf("no warning:\n%s", out)
	}
}

func TestRunRefusesACustomFolderHoldingThePackageFolder(t *testing.T) {
	f := newFixture(t)
	p := f.pkg(t, "1.0.0", file("a", "a"))
	m := f.manifest(p, "1.0.0")
	m.CustomInstallDir = CustomInstallDir{Path: f.apps, Purge: true}
	_, err := run(t, m)
	if err == nil || !strings.Contains(err.Error(), "must not contain each other") {
		t.Fatalf("error %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.apps, "Production", "app", "1.0.0", "a")); err != nil {
		t.Error("the package folder was purged")
	}
}

func TestRunIntoAnExistingCustomFolderReplacesFilesAndLinksWithoutPurging(t *testing.T) {
	f := newFixture(t)
	custom := filepath.Join(f.dir, "site")
	writeFile(t, filepath.Join(custom, "index.html"), "old page")
	writeFile(t, filepath.Join(custom, "elsewhere.txt"), "must not be written through a link")
	os.Symlink("elsewhere.txt", filepath.Join(custom, "current"))
	writeFile(t, filepath.Join(custom, "other.txt"), "kept: no purge")
	p := f.pkg(t, "1.0.0", file("index.html", "new page"), file("current", "a file now"))
	m := f.manifest(p, "1.0.0")
	m.CustomInstallDir = CustomInstallDir{Path: custom}
	if out, err := run(t, m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := []string{"current: a file now", "elsewhere.txt: must not be written through a link", "index.html: new page", "other.txt: kept: no purge"}
	if got := tree(t, custom); !slices.Equal(got, want) {
		t.Errorf("custom folder holds %q, want %q", got, want)
	}

	os.Mkdir(filepath.Join(custom, "blocker"), 0o755)
	writeFile(t, filepath.Join(custom, "blocker", "data"), "x")
	p2 := f.pkg(t, "2.0.0", file("blocker", "a file where a folder is"))
	m2 := f.manifest(p2, "2.0.0")
	m2.CustomInstallDir = CustomInstallDir{Path: custom}
	if _, err := run(t, m2); err == nil || !strings.Contains(err.Error(), "is a folder, and the package has a file there") {
		t.Fatalf("error %v", err)
	}
}

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/testutil/archivetest"
)

func writeTarGz(t *testing.T, path string, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPackageFeedThroughTheCLI(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	dir := t.TempDir()
	pkg := filepath.Join(dir, "app.1.0.0.tar.gz")
	body := writeTarGz(t, pkg, map[string]string{"Deploy.sh": "echo deploying\n", "appsettings.json": `{"Level":"Info"}`})
	sum := sha256.Sum256(body)

	out := s.ok("package", "push", pkg)
	if !strings.Contains(out, "Created app 1.0.0") || !strings.Contains(out, hex.EncodeToString(sum[:])) {
		t.Fatalf("push:\n%s", out)
	}
	again := s.pulpo("package", "push", pkg)
	if again.code == 0 || !strings.Contains(again.stderr, "already in the feed") {
		t.Fatalf("pushing the same version again should fail by default; exit %d\n%s", again.code, again.stderr)
	}
	if out := s.ok("package", "push", pkg, "--overwrite-mode", "ignore"); !strings.Contains(out, "Ignored app 1.0.0") {
		t.Fatalf("ignore:\n%s", out)
	}
	if out := s.ok("package", "push", pkg, "--overwrite-mode", "overwrite"); !strings.Contains(out, "Replaced app 1.0.0") {
		t.Fatalf("overwrite:\n%s", out)
	}
	other := filepath.Join(dir, "build-output.tar.gz")
	writeTarGz(t, other, map[string]string{"x": "y"})
	s.ok("package", "push", other, "--package-id", "app", "--version", "1.1.0-beta.1")

	// A file cut short is refused, and the feed is as it was.
	cut := filepath.Join(dir, "app.2.0.0.tar.gz")
	os.WriteFile(cut, body[:len(body)-20], 0o644)
	if r := s.pulpo("package", "push", cut); r.code == 0 || !strings.Contains(r.stderr, "not a whole .tar.gz archive") {
		t.Fatalf("a truncated package: exit %d\n%s", r.code, r.stderr)
	}
	list := s.ok("package", "list")
	if !strings.Contains(list, "1.1.0-beta.1") || strings.Contains(list, "2.0.0") || strings.Index(list, "1.1.0-beta.1") > strings.Index(list, "1.0.0") {
		t.Fatalf("list (newest first, no 2.0.0):\n%s", list)
	}

	downloaded := filepath.Join(dir, "down.tar.gz")
	s.ok("package", "download", "app", "1.0.0", "-f", downloaded)
	if b, _ := os.ReadFile(downloaded); !bytes.Equal(b, body) {
		t.Fatal("the downloaded file differs from the pushed one")
	}
	s.ok("package", "delete", "app", "1.0.0")
	if r := s.pulpo("package", "show", "app", "1.0.0"); r.code == 0 || !strings.Contains(r.stderr, "was not found") {
		t.Fatalf("show after delete: exit %d\n%s", r.code, r.stderr)
	}
}

// TestDeployingAPackage deploys a package to two agents and an SSH machine:
// files hold the environment's values, scripts run in order, the journal
// records it, a redeploy sends no bytes, and retention removes old folders.
func TestDeployingAPackage(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, `environments:
  - name: Dev
projects:
  - name: shop
    steps:
      - name: Install
        targetRoles: [web]
        package:
          packageId: app
          substituteFiles: [config.yaml]
          structuredConfigFiles: [appsettings.json]
          retainInstallations: 2
    variables:
      - {name: Greeting, value: hello dev}
      - {name: "Logging:Level", value: Debug}
`)
	agentHomes := map[string]string{}
	for _, name := range []string{"agent-1", "agent-2"} {
		addListeningAgent(t, s, name, "--environment", "Dev", "--role", "web")
		agentHomes[name] = ""
	}
	addSSHMachine(t, s, "ssh-1", "--environment", "Dev", "--role", "web")

	dir := t.TempDir()
	deployScript := "#!/bin/bash\necho \"deploy.sh in $(pwd)\"\ncat config.yaml\necho order >> ../order.log\n"
	push := func(version string) {
		pkg := filepath.Join(dir, "app."+version+".tar.gz")
		writeTarGz(t, pkg, map[string]string{
			"PreDeploy.sh": "echo pre >> ../order.log\n",
			"Deploy.sh":    deployScript,
			"PostDeploy.sh": "echo post >> ../order.log\necho \"posted $(get_octopusvariable Octopus.Release.Number)\"\n" +
				"echo \"previous installation: $(get_octopusvariable Octopus.Tentacle.PreviousInstallation.OriginalInstalledPath)\"\n",
			"config.yaml":      "greeting: \"#{Greeting}\"\nversion: " + version + "\n",
			"appsettings.json": `{"Logging":{"Level":"Info"},"Name":"app"}`,
		})
		s.ok("package", "push", pkg)
	}
	push("1.0.0")
	d := deploy(t, s, "shop", "1.0.0")
	out := s.ok("task", "watch", d.TaskID)
	for _, want := range []string{`greeting: "hello dev"`, "Sent package app 1.0.0 to agent-1", "Sent package app 1.0.0 to ssh-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the first deployment's log lacks %q:\n%s", want, out)
		}
	}

	// The same release again: nothing is sent.
	var again deployment
	s.okJSON(&again, "release", "deploy", "-p", "shop", "--version", "1.0.0", "--environment", "Dev")
	out = s.ok("task", "watch", again.TaskID)
	if strings.Count(out, "is on") != 3 || !strings.Contains(out, "0 bytes sent") || strings.Contains(out, "Sent package") {
		t.Errorf("the redeploy should send no package bytes:\n%s", out)
	}
	if !strings.Contains(out, "1.0.0_2") {
		t.Errorf("a redeploy extracts into a new folder (1.0.0_2):\n%s", out)
	}

	// Two more versions with retention 2: the oldest installations go.
	for _, v := range []string{"1.1.0", "1.2.0"} {
		push(v)
		s.ok("release", "create", "-p", "shop", "--version", v, "--package", "app:"+v)
		var dep deployment
		s.okJSON(&dep, "release", "deploy", "-p", "shop", "--version", v, "--environment", "Dev")
		out = s.ok("task", "watch", dep.TaskID)
	}
	if !strings.Contains(out, "version: 1.2.0") || !strings.Contains(out, "posted 1.2.0") {
		t.Fatalf("1.2.0:\n%s", out)
	}
	// On disk, on an agent: the installed files hold the environment's values.
	installed := regexp.MustCompile(`Deployed app 1\.2\.0 to (\S*agent-1\S*)`).FindStringSubmatch(out)
	if installed == nil {
		t.Fatalf("no installation folder for agent-1 in the log:\n%s", out)
	}
	cfg, _ := os.ReadFile(filepath.Join(installed[1], "config.yaml"))
	settings, _ := os.ReadFile(filepath.Join(installed[1], "appsettings.json"))
	if !strings.Contains(string(cfg), `greeting: "hello dev"`) || !strings.Contains(string(settings), `"Debug"`) {
		t.Fatalf("installed files:\n%s\n%s", cfg, settings)
	}
	order, _ := os.ReadFile(filepath.Join(installed[1], "..", "order.log"))
	if !strings.HasPrefix(string(order), "pre\norder\npost\n") {
		t.Fatalf("scripts ran out of order:\n%s", order)
	}
	home := installed[1][:strings.Index(installed[1], "/apps/")]
	if want := "previous installation: " + filepath.Join(filepath.Dir(installed[1]), "1.1.0"); !strings.Contains(out, want) {
		t.Errorf("PostDeploy should see the previous installation (%q):\n%s", want, out)
	}
	journal, _ := os.ReadFile(filepath.Join(home, "journal.json"))
	if strings.Count(string(journal), `"version": "1.2.0"`)+strings.Count(string(journal), `"version":"1.2.0"`) == 0 {
		t.Fatalf("the journal has no 1.2.0 entry:\n%s", journal)
	}
	// Retention 2: of 1.0.0, 1.0.0_2, 1.1.0 and 1.2.0, only the last two stay.
	entries, _ := os.ReadDir(filepath.Join(home, "apps", "Dev", "app"))
	var kept []string
	for _, e := range entries {
		if e.IsDir() {
			kept = append(kept, e.Name())
		}
	}
	if strings.Join(kept, ",") != "1.1.0,1.2.0" {
		t.Fatalf("installations kept: %v", kept)
	}
}

// TestAPackageTransferResumesAfterABreak cuts the connection to an agent in
// the middle of sending a 200 MiB package: the deployment succeeds and the
// transfer continues from where it stopped.
func TestAPackageTransferResumesAfterABreak(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 200 MiB")
	}
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, `environments:
  - name: Dev
projects:
  - name: big
    steps:
      - name: Install
        targetRoles: [web]
        package: {packageId: blob}
`)
	// A listening agent reached through a proxy the test can cut.
	home := filepath.Join(t.TempDir(), "agent")
	port := freePort(t)
	agent := startAgent(t, home, "--name", "far", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--trust", s.thumbprint())
	agent.waitOutput("its thumbprint", regexp.MustCompile(`thumbprint [0-9A-F]{64}`))
	px := startProxy(t, fmt.Sprintf("127.0.0.1:%d", port))
	thumb := strings.TrimSpace(s.ok("agent", "show-thumbprint", "--home", home))
	s.ok("machine", "add", "far", "--listening", px.addr(), "--thumbprint", thumb, "--environment", "Dev", "--role", "web")

	// 200 MiB that does not compress, in a plain tar.
	data := make([]byte, 200<<20)
	rand.Read(data)
	pkg := filepath.Join(t.TempDir(), "blob.1.0.0.tar")
	f, _ := os.Create(pkg)
	tw := tar.NewWriter(f)
	tw.WriteHeader(&tar.Header{Name: "blob.bin", Mode: 0o644, Size: int64(len(data))})
	tw.Write(data)
	tw.Close()
	f.Close()
	s.ok("package", "push", pkg, "--no-progress")

	d := deploy(t, s, "big", "1.0.0")
	// Cut every connection once a good part of the package has arrived.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		parts, _ := filepath.Glob(filepath.Join(home, "packages", ".blob.1.0.0.*.partial-*"))
		var size int64
		for _, p := range parts {
			if st, err := os.Stat(p); err == nil {
				size = st.Size()
			}
		}
		if size > 40<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the transfer never got going:\n%s", s.ok("task", "log", d.TaskID))
		}
		time.Sleep(5 * time.Millisecond)
	}
	px.cut()
	px.restore()
	out := s.ok("task", "watch", d.TaskID)
	if !regexp.MustCompile(`resumed at byte [1-9][0-9]{7,}`).MatchString(out) || !strings.Contains(out, "Deployed blob 1.0.0") {
		t.Fatalf("the transfer should have resumed, and the deployment succeeded:\n%s", out)
	}
}

// buildPulpo builds pulpo as another version, as an agent installed long
// ago would be.
func buildPulpo(t *testing.T, version string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pulpo-"+version)
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+version, "-o", bin, "../cmd/pulpo")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build pulpo %s: %v\n%s", version, err, out)
	}
	return bin
}

// TestAnAgentOfAnotherBuildRunsTheServersRunner: an agent installed from an
// older build gets the server's runner, once, and the conventions run with
// it; an agent of the server's own build is sent nothing.
func TestAnAgentOfAnotherBuildRunsTheServersRunner(t *testing.T) {
	old := buildPulpo(t, "0.0.9-old")
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, `environments:
  - name: Dev
projects:
  - name: shop
    steps:
      - name: Install
        targetRoles: [web]
        package:
          packageId: app
`)
	oldAgent := addListeningAgentBinary(t, s, old, "old-agent", "--environment", "Dev", "--role", "web")
	addListeningAgent(t, s, "current-agent", "--environment", "Dev", "--role", "web")
	pkg := filepath.Join(t.TempDir(), "app.1.0.0.tar.gz")
	writeTarGz(t, pkg, map[string]string{"Deploy.sh": "echo deployed\n"})
	s.ok("package", "push", pkg)

	d := deploy(t, s, "shop", "1.0.0")
	out := s.ok("task", "watch", d.TaskID)
	serverVersion := regexp.MustCompile(`pulpo (\S+)`).FindStringSubmatch(s.ok("version"))
	if serverVersion == nil {
		t.Fatal("pulpo version printed no version")
	}
	current := serverVersion[1]
	for _, want := range []string{
		"Sent the runner of Pulpo " + current + " to old-agent, whose own binary is Pulpo 0.0.9-old",
		"The runner on current-agent is the server's (Pulpo " + current + ")",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "Runner: Pulpo "+current); n != 2 || strings.Contains(out, "Runner: Pulpo 0.0.9-old") || strings.Contains(out, "to current-agent, whose") {
		t.Errorf("both agents should run the server's runner (%d did), and only old-agent be sent it:\n%s", n, out)
	}
	runners, _ := filepath.Glob(filepath.Join(oldAgent.home, "runners", "pulpo-*"))
	if len(runners) != 1 {
		t.Fatalf("old-agent should hold one runner, holds %v", runners)
	}
	if st, err := os.Stat(runners[0]); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Fatalf("the runner on old-agent is not executable: %v %v", st, err)
	}

	// Again: the runner is there, nothing is sent.
	var again deployment
	s.okJSON(&again, "release", "deploy", "-p", "shop", "--version", "1.0.0", "--environment", "Dev")
	out = s.ok("task", "watch", again.TaskID)
	if strings.Contains(out, "Sent the runner") || !strings.Contains(out, "The runner of Pulpo "+current+" is on old-agent already: 0 bytes sent") {
		t.Errorf("the second deployment should find the runner on old-agent:\n%s", out)
	}
}

// writeTarGzEntries writes a .tar.gz of entries exactly as given.
func writeTarGzEntries(t *testing.T, path string, entries ...tar.Header) {
	t.Helper()
	if err := os.WriteFile(path, archivetest.TarGz(t, entries...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMaliciousPackagesAreRefused: the feed refuses packages that would
// write outside their folder or expand without bound, saying which entry
// and why; what only extraction can see (links that lead outside together)
// fails the deployment on the target and leaves no folder behind.
func TestMaliciousPackagesAreRefused(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	dir := t.TempDir()
	zipSlip := filepath.Join(dir, "evil.1.0.0.tar.gz")
	writeTarGzEntries(t, zipSlip, tar.Header{Name: "../../home/user/.bashrc", Size: 10})
	linkOut := filepath.Join(dir, "evil.1.0.1.tar.gz")
	writeTarGzEntries(t, linkOut, tar.Header{Name: "Deploy.sh", Size: 5}, tar.Header{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: "/etc"})
	bomb := filepath.Join(dir, "evil.1.0.2.tar.gz")
	{
		f, _ := os.Create(bomb)
		gz, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
		tw := tar.NewWriter(gz)
		const size = 2 << 30 // 2 GiB of zeros in about 2 MiB
		tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Size: size})
		zero := make([]byte, 1<<20)
		for n := 0; n < size; n += len(zero) {
			tw.Write(zero)
		}
		tw.Close()
		gz.Close()
		f.Close()
	}
	for _, c := range []struct{ file, want string }{
		{zipSlip, `refused entry "../../home/user/.bashrc": its path leaves the extraction folder`},
		{linkOut, `refused entry "etc": it is a symbolic link to the absolute path "/etc"`},
		{bomb, "like a zip bomb"},
	} {
		r := s.pulpo("package", "push", c.file)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("pushing %s: exit %d, want a refusal saying %q:\n%s", filepath.Base(c.file), r.code, c.want, r.stderr)
		}
	}
	if out := s.ok("package", "list"); strings.Contains(out, "evil") {
		t.Fatalf("a refused package is in the feed:\n%s", out)
	}
	if entries, _ := os.ReadDir(filepath.Join(s.data, "packages")); len(entries) != 0 {
		t.Fatalf("refused pushes left files in the feed's folder: %v", entries)
	}

	// Each link stays inside on its own, but "out" reaches outside
	// through "d/up": only the target's extraction can see it.
	applyText(t, s, `environments:
  - name: Dev
projects:
  - name: shop
    steps:
      - name: Install
        targetRoles: [web]
        package:
          packageId: chain
`)
	agent := addListeningAgent(t, s, "agent-1", "--environment", "Dev", "--role", "web")
	chain := filepath.Join(dir, "chain.1.0.0.tar.gz")
	writeTarGzEntries(t, chain,
		tar.Header{Name: "d/", Typeflag: tar.TypeDir},
		tar.Header{Name: "d/up", Typeflag: tar.TypeSymlink, Linkname: ".."},
		tar.Header{Name: "out", Typeflag: tar.TypeSymlink, Linkname: "d/up/.."},
		tar.Header{Name: "Deploy.sh", Size: 5})
	s.ok("package", "push", chain)
	d := deploy(t, s, "shop", "1.0.0")
	r := s.pulpo("task", "watch", d.TaskID)
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, `refused entry "out"`) || !strings.Contains(r.stdout+r.stderr, "leads outside the extraction folder through other links") {
		t.Fatalf("the deployment should fail on the link chain (exit %d):\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if entries, _ := os.ReadDir(filepath.Join(agent.home, "apps", "Dev", "chain")); len(entries) != 0 {
		t.Fatalf("the refused extraction left %v on the agent", entries)
	}
}

// TestAScriptKeptInAPackage runs a step whose script is a file in a
// package, at the version the release chose, with rendered arguments,
// on an agent and an SSH target; the extracted files go with the script's
// workspace.
func TestAScriptKeptInAPackage(t *testing.T) {
	s := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, s, `environments:
  - name: Dev
projects:
  - name: db
    steps:
      - name: Migrate
        targetRoles: [db]
        script:
          fromPackage:
            packageId: db-tools
            file: scripts/migrate.sh
            arguments: "--env #{Octopus.Environment.Name} --label '#{Label}'"
            substituteFiles: [conf/*.conf]
    variables:
      - {name: Label, value: nightly run}
      - {name: Dsn, value: "postgres://dev-db/app"}
`)
	agent := addListeningAgent(t, s, "db-agent", "--environment", "Dev", "--role", "db")
	addSSHMachine(t, s, "db-ssh", "--environment", "Dev", "--role", "db")
	dir := t.TempDir()
	for _, v := range []string{"1.0.0", "2.0.0"} {
		pkg := filepath.Join(dir, "db-tools."+v+".tar.gz")
		writeTarGz(t, pkg, map[string]string{
			"scripts/migrate.sh": `echo "migrate ` + v + ` with $# arguments: $*"; echo "label [$4]"; cat conf/db.conf; ` +
				`echo "release number $(get_octopusvariable Octopus.Release.Number)"; set_octopusvariable Migrated yes` + "\n",
			"conf/db.conf": "dsn=#{Dsn}\n",
		})
		s.ok("package", "push", pkg)
	}
	s.ok("release", "create", "-p", "db", "--version", "5.0.0", "--package", "db-tools:1.0.0")
	var d deployment
	s.okJSON(&d, "release", "deploy", "-p", "db", "--version", "5.0.0", "--environment", "Dev")
	out := s.ok("task", "watch", d.TaskID)
	for _, want := range []string{"Sent package db-tools 1.0.0 to db-agent", "Sent package db-tools 1.0.0 to db-ssh"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{
		"migrate 1.0.0 with 4 arguments: --env Dev --label nightly run", "label [nightly run]",
		"dsn=postgres://dev-db/app", "release number 5.0.0",
	} {
		if n := strings.Count(out, want); n != 2 {
			t.Errorf("the log has %q %d times, want once per target:\n%s", want, n, out)
		}
	}
	if strings.Contains(out, "2.0.0") {
		t.Errorf("the release chose 1.0.0, yet 2.0.0 appears:\n%s", out)
	}
	if leftover, _ := filepath.Glob(filepath.Join(agent.home, "work", "*", "package")); len(leftover) != 0 {
		t.Errorf("the extracted package outlived the script: %v", leftover)
	}
	var rel struct {
		Packages []struct{ PackageID, Version string } `json:"packages"`
	}
	s.okJSON(&rel, "release", "show", "-p", "db", "--version", "5.0.0")
	if len(rel.Packages) != 1 || rel.Packages[0].Version != "1.0.0" {
		t.Errorf("the release's packages: %+v", rel.Packages)
	}
}

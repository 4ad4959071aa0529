package main

// Issue 11, scenarios 1 and 2: Pulpo against the tools people use instead,
// on the same machine in the same run.
//
//  1. Fan-out: a tar.gz of incompressible files goes to N targets, is
//     extracted there, and a small script counts the extracted files.
//  2. Redeploy: (a) the same version again, (b) a new version in which one
//     64 KiB file changed.
//
// The tools: Pulpo (N listening agents, a package step with a PostDeploy
// script), Ansible with its defaults, Ansible tuned, and rsync over ssh to
// every host at once followed by ssh to extract and run the script. The
// peers reach N real sshd processes on loopback (sshfleet.go), each host
// with a folder of its own. The "physical limit" row is N × package size
// over one TLS connection's loopback throughput, measured in the same run.
//
// Every run starts from a state set up untimed: for the fan-out the
// peers' host folders are empty and Pulpo deploys a version its agents
// never had; for a redeploy every tool starts with the first version
// deployed. The tools take turns run by run, so a disturbance on the
// machine spreads over all of them.
//
// Bytes on the wire: Pulpo's are the server's transfer counter (the
// package bytes it sent, summed over the targets, from the task log); the
// peers' are every byte their ssh connections carried, both ways, as the
// ssh client counts them (its "Transferred: sent …, received …" line), so
// ssh's framing and Ansible's modules are included.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// peersConfig is what the peers-fanout group measures.
type peersConfig struct {
	Sizes        []int // numbers of targets
	Runs         int   // repetitions of each measurement
	PackageBytes int64 // the package's size (before gzip, which cannot shrink it)
	// TLSBytes is how much the loopback TLS measurement moves.
	TLSBytes int64
	// Progress gets a line per measurement (nil: none).
	Progress io.Writer
}

// The tools, as the comparison table names them.
const (
	toolPulpo         = "pulpo"
	toolAnsible       = "ansible (default)"
	toolAnsibleTuned  = "ansible (tuned)"
	toolRsync         = "rsync+ssh (parallel)"
	toolPhysicalLimit = "physical limit"
)

var peerTools = []string{toolPulpo, toolAnsible, toolAnsibleTuned, toolRsync}

// fanFileSize is the size of each file in the package; one of them changes
// in the redeploy scenario.
const fanFileSize = 64 << 10

// countScript is the script every tool runs in the extracted folder: it
// writes the number of extracted files and the folder to ../files.count.
const countScript = `echo "$(find . -type f | wc -l) $PWD" > ../files.count`

// parseIntList reads "1,10,50".
func parseIntList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// fanPackage is the package's content: files of fanFileSize random bytes,
// the same bytes for the same file and generation, so a new version can
// differ from the first in one file only.
type fanPackage struct{ files int }

func newFanPackage(size int64) fanPackage {
	return fanPackage{files: max(2, int(size/fanFileSize))}
}

// size is the content's total.
func (p fanPackage) size() int64 { return int64(p.files) * fanFileSize }

// name is file k's path in the archive.
func (p fanPackage) name(k int) string { return fmt.Sprintf("d%02d/f%04d.bin", k/32, k) }

// content is file k of generation gen: ChaCha8 output, which deflate
// cannot shrink.
func (p fanPackage) content(k, gen int) []byte {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[0:], uint64(k))
	binary.LittleEndian.PutUint64(seed[8:], uint64(gen))
	b := make([]byte, fanFileSize)
	rand.NewChaCha8(seed).Read(b)
	return b
}

// write makes the tar.gz: generation 0 of every file, except that file
// changed (if >= 0) is generation gen and newer.
func (p fanPackage) write(path string, changed, gen int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := bufio.NewWriterSize(f, 1<<20)
	gz := gzip.NewWriter(buf)
	tw := tar.NewWriter(gz)
	built := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for k := 0; k < p.files; k++ {
		if k%32 == 0 {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("d%02d/", k/32), Mode: 0o755, ModTime: built}); err != nil {
				return err
			}
		}
		g, mtime := 0, built
		if k == changed {
			g, mtime = gen, built.Add(time.Duration(gen)*time.Hour)
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p.name(k), Mode: 0o644, Size: fanFileSize, ModTime: mtime}); err != nil {
			return err
		}
		if _, err := tw.Write(p.content(k, g)); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	if err := buf.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// peersBench holds what every measurement shares: the Pulpo server, the
// sshd fleet, the packages and the Ansible configurations.
type peersBench struct {
	cfg     peersConfig
	dir     string
	tb      *targetBench
	fleet   *sshFleet
	pkg     fanPackage
	v1      string   // the first version's tar.gz
	changed []string // per run: v1 with file run+1 changed
	v1Size  int64
	// mibps is one TLS connection's loopback throughput.
	mibps float64
	// sshWrapper is the ssh the peers run, which counts bytes into sshLogs.
	sshWrapper, sshLogs string
	// ansible holds the two configurations, by tool name.
	ansible map[string]*ansibleSetup

	// The current size's Pulpo side.
	n        int
	env      model.Environment
	project  model.Project
	agents   []string // agent names (their homes are tb.dir/name)
	agentsAt int      // where this size's agents start in tb.agents
	// The release of the last first-time deployment: the version the
	// redeploy scenarios start from.
	lastRelease, lastVersion string
}

// checkPeerTools says which of the peers' programs are missing.
func checkPeerTools() error {
	var missing []string
	for _, p := range []string{"ansible-playbook", "rsync", "ssh", "tar"} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the peers-fanout group compares Pulpo with Ansible and rsync, but %s %s not installed (apt-get install ansible rsync openssh-client)",
			strings.Join(missing, ", "), map[bool]string{true: "is", false: "are"}[len(missing) == 1])
	}
	return nil
}

func newPeersBench(ctx context.Context, cfg peersConfig) (_ *peersBench, err error) {
	if err := checkPeerTools(); err != nil {
		return nil, err
	}
	if cfg.Runs < 1 || len(cfg.Sizes) == 0 || cfg.PackageBytes < 2*fanFileSize {
		return nil, fmt.Errorf("peers-fanout needs a size, a run and a package of at least %d KiB", 2*fanFileSize>>10)
	}
	if cfg.TLSBytes == 0 {
		cfg.TLSBytes = 1 << 30
	}
	dir, err := os.MkdirTemp("", "pulpo-bench-peers-")
	if err != nil {
		return nil, err
	}
	p := &peersBench{cfg: cfg, dir: dir, pkg: newFanPackage(cfg.PackageBytes), ansible: map[string]*ansibleSetup{}}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	p.progress("building pulpo and starting its server")
	if p.tb, err = startTargetBench(ctx); err != nil {
		return nil, err
	}
	if p.mibps, err = loopbackTLS(cfg.TLSBytes); err != nil {
		return nil, fmt.Errorf("loopback TLS throughput: %w", err)
	}
	maxN := slices.Max(cfg.Sizes)
	p.progress("starting %d sshd hosts", maxN)
	if p.fleet, err = startSSHFleet(filepath.Join(dir, "fleet"), maxN); err != nil {
		return nil, err
	}
	p.progress("writing the packages (%d files of 64 KiB)", p.pkg.files)
	p.v1 = filepath.Join(dir, "app-v1.tar.gz")
	if err := p.pkg.write(p.v1, -1, 0); err != nil {
		return nil, err
	}
	st, err := os.Stat(p.v1)
	if err != nil {
		return nil, err
	}
	p.v1Size = st.Size()
	for r := 0; r < cfg.Runs; r++ {
		path := filepath.Join(dir, fmt.Sprintf("app-v2-%d.tar.gz", r))
		if err := p.pkg.write(path, p.changedFile(r), r+1); err != nil {
			return nil, err
		}
		p.changed = append(p.changed, path)
	}
	if err := p.writeSSHWrapper(); err != nil {
		return nil, err
	}
	for _, tool := range []string{toolAnsible, toolAnsibleTuned} {
		if p.ansible[tool], err = p.newAnsibleSetup(tool); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// changedFile is the file that run r's new version changes.
func (p *peersBench) changedFile(r int) int { return 1 + r%(p.pkg.files-1) }

func (p *peersBench) progress(format string, args ...any) {
	if p.cfg.Progress != nil {
		fmt.Fprintf(p.cfg.Progress, "peers-fanout: "+format+"\n", args...)
	}
}

func (p *peersBench) close() {
	for _, a := range p.ansible {
		a.closeMasters()
	}
	if p.tb != nil {
		p.tb.close()
	}
	if p.fleet != nil {
		p.fleet.stop()
	}
	// An ssh master that was still ending may remove its socket late.
	for try := 0; try < 10 && os.RemoveAll(p.dir) != nil; try++ {
		time.Sleep(100 * time.Millisecond)
	}
}

// sizeLabel is the package size for the table: "50 MiB".
func (p *peersBench) sizeLabel() string {
	if p.pkg.size()%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", p.pkg.size()>>20)
	}
	return humanBytes(p.pkg.size())
}

// ---- Pulpo ----

// startPulpoSize starts n listening agents with a role of their own and a
// project whose package step goes to all of them at once, and warms the
// connections with one script step. All sizes share one environment (with
// one per size, the default lifecycle would ask for each in turn).
func (p *peersBench) startPulpoSize(ctx context.Context, n int) error {
	p.stopPulpoSize()
	p.n, p.agents, p.agentsAt = n, nil, len(p.tb.agents)
	var err error
	name := fmt.Sprintf("fan-%d", n)
	if p.env.ID == "" {
		if p.env, err = p.tb.c.CreateEnvironment(ctx, model.Environment{Name: "peers"}); err != nil {
			return err
		}
	}
	for i := 0; i < n; i++ {
		agent := fmt.Sprintf("peer-n%d-%02d", n, i)
		if err := p.tb.startAgent(ctx, agent, "listening", p.env.ID, name); err != nil {
			return err
		}
		p.agents = append(p.agents, agent)
	}
	if p.project, err = p.tb.c.CreateProject(ctx, model.Project{Name: "fan-out " + name}); err != nil {
		return err
	}
	if _, err := p.tb.c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.project.ID, Steps: []model.Step{{
		Name: "Install", TargetRoles: []string{name}, MaxParallelism: n,
		Package: &model.PackageAction{PackageID: "fanapp", RetainInstallations: 1,
			PostDeploy: &model.ScriptAction{Syntax: model.SyntaxBash, Body: countScript}}}}}); err != nil {
		return err
	}
	warm, err := p.tb.project(ctx, "warm "+name, []model.Step{{Name: "Echo", TargetRoles: []string{name}, MaxParallelism: n,
		Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo ok"}}})
	if err != nil {
		return err
	}
	_, _, err = p.tb.deployAndWait(ctx, warm.ID, p.env.ID)
	return err
}

// stopPulpoSize stops the current size's agents, removes their homes and
// deletes their machines, so the server does not check on them.
func (p *peersBench) stopPulpoSize() {
	if p.tb == nil || p.agentsAt >= len(p.tb.agents) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ms, err := p.tb.c.Machines(ctx, client.ListOptions{PartialName: fmt.Sprintf("peer-n%d-", p.n)}); err == nil {
		for _, m := range ms {
			if slices.Contains(p.agents, m.Name) {
				p.tb.c.DeleteMachine(ctx, m.ID)
			}
		}
	}
	for _, a := range p.tb.agents[p.agentsAt:] {
		a.Process.Kill()
		a.Wait()
	}
	p.tb.agents = p.tb.agents[:p.agentsAt]
	for _, a := range p.agents {
		os.RemoveAll(filepath.Join(p.tb.dir, a))
	}
	p.agents = nil
}

// pulpoRelease pushes archive as fanapp version and makes a release of it.
func (p *peersBench) pulpoRelease(ctx context.Context, archive, version string) (string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if _, err := p.tb.c.PushPackage(ctx, "fanapp."+version+".tar.gz", f, st.Size(), client.PushOptions{PackageID: "fanapp", Version: version}); err != nil {
		return "", fmt.Errorf("push fanapp %s: %w", version, err)
	}
	rel, err := p.tb.c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.project.ID, Version: version, Packages: map[string]string{"fanapp": version}})
	if err != nil {
		return "", err
	}
	return rel.ID, nil
}

var pulpoSentRE = regexp.MustCompile(`^(?:Sent package|Package) fanapp .*: (\d+) bytes sent`)

// pulpoDeploy deploys a release to the current size's agents and returns
// the time and the package bytes the server sent. The count files go
// first, so verification sees this deployment's.
func (p *peersBench) pulpoDeploy(ctx context.Context, releaseID string) (time.Duration, int64, error) {
	for i := range p.agents {
		os.Remove(p.pulpoCountFile(i))
	}
	l, took, err := p.tb.deployAndWait(ctx, releaseID, p.env.ID)
	if err != nil {
		return 0, 0, err
	}
	var sent int64
	transfers := 0
	for since := int64(0); ; {
		page, err := p.tb.c.TaskLog(ctx, l.Task.ID, since)
		if err != nil {
			return 0, 0, err
		}
		for _, line := range page.Lines {
			if m := pulpoSentRE.FindStringSubmatch(line.Text); m != nil {
				n, _ := strconv.ParseInt(m[1], 10, 64)
				sent += n
				transfers++
			}
		}
		if !page.More || page.LastSeq == since {
			break
		}
		since = page.LastSeq
	}
	if transfers != p.n {
		return 0, 0, fmt.Errorf("the task log of %s reports %d package transfers for %d targets", l.Task.ID, transfers, p.n)
	}
	return took, sent, nil
}

func (p *peersBench) pulpoCountFile(i int) string {
	return filepath.Join(p.tb.dir, p.agents[i], "apps", p.env.Name, "fanapp", "files.count")
}

// ---- the hosts the peers deploy to ----

// hostCountFile is where the script on host i writes its count.
func (p *peersBench) hostCountFile(i int) string {
	return filepath.Join(p.fleet.HostDir(i), "files.count")
}

// resetHosts puts hosts 0..n-1 in a known state before a measurement,
// untimed: with archive "" an empty app folder (a first deployment),
// otherwise archive deployed as the peers leave it: app.tar.gz (a hard link
// to it, so rsync's quick check sees the same size and time) and its files
// extracted into app by GNU tar, as Ansible's unarchive extracts them.
func (p *peersBench) resetHosts(ctx context.Context, n int, archive string) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = p.resetHost(ctx, i, archive)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p *peersBench) resetHost(ctx context.Context, i int, archive string) error {
	dir := p.fleet.HostDir(i)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		return err
	}
	if archive == "" {
		return nil
	}
	if err := os.Link(archive, filepath.Join(dir, "app.tar.gz")); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "tar", "-xzf", archive, "-C", filepath.Join(dir, "app")).CombinedOutput(); err != nil {
		return fmt.Errorf("extract %s for host %d: %v: %s", archive, i, err, out)
	}
	return nil
}

// verify checks that each count file says the package's files were
// extracted into the expected kind of folder, and, for a new version, that
// the changed file there holds the new bytes.
func (p *peersBench) verify(tool string, counts []string, wantDir func(i int) string, changed, gen int) error {
	for i, c := range counts {
		b, err := os.ReadFile(c)
		if err != nil {
			return fmt.Errorf("%s, target %d: the script did not run: %w", tool, i, err)
		}
		num, dir, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		if num != strconv.Itoa(p.pkg.files) || !strings.HasPrefix(dir, wantDir(i)) {
			return fmt.Errorf("%s, target %d: the script counted %q files in %q; want %d in %s", tool, i, num, dir, p.pkg.files, wantDir(i))
		}
		if changed >= 0 {
			got, err := os.ReadFile(filepath.Join(dir, p.pkg.name(changed)))
			if err != nil || !bytes.Equal(got, p.pkg.content(changed, gen)) {
				return fmt.Errorf("%s, target %d: %s does not hold the new version's bytes (%v)", tool, i, p.pkg.name(changed), err)
			}
		}
	}
	return nil
}

func (p *peersBench) hostCounts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = p.hostCountFile(i)
	}
	return out
}

// The peers' bytes on the wire are what their ssh clients counted: every
// ssh they start is a wrapper that has ssh log, at level VERBOSE into a
// file of its own, "Transferred: sent …, received … bytes" when its
// connection ends (a ControlMaster counts its multiplexed sessions; the
// sessions themselves, which authenticate nothing, log no count).

// writeSSHWrapper writes the wrapper that the peers run as ssh.
func (p *peersBench) writeSSHWrapper() error {
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		return err
	}
	p.sshWrapper = filepath.Join(p.dir, "bin", "ssh")
	p.sshLogs = filepath.Join(p.dir, "ssh-logs")
	if err := os.MkdirAll(filepath.Dir(p.sshWrapper), 0o755); err != nil {
		return err
	}
	script := "#!/bin/sh\nexec " + ssh + " -E " + p.sshLogs + "/ssh-$$.log -o LogLevel=VERBOSE \"$@\"\n"
	return os.WriteFile(p.sshWrapper, []byte(script), 0o755)
}

// resetSSHCount forgets the counts so far.
func (p *peersBench) resetSSHCount() error {
	if err := os.RemoveAll(p.sshLogs); err != nil {
		return err
	}
	return os.MkdirAll(p.sshLogs, 0o755)
}

// sshBytes sums the counts since resetSSHCount, both ways, once every
// connection that authenticated has ended and counted (so close the
// ControlMasters first).
func (p *peersBench) sshBytes(ctx context.Context) (int64, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		logs, err := os.ReadDir(p.sshLogs)
		if err != nil {
			return 0, err
		}
		var total int64
		open := 0
		for _, l := range logs {
			b, err := os.ReadFile(filepath.Join(p.sshLogs, l.Name()))
			if err != nil {
				return 0, err
			}
			ms := sshTransferredRE.FindAllSubmatch(b, -1)
			open += bytes.Count(b, []byte("Authenticated to ")) - len(ms)
			for _, m := range ms {
				a, _ := strconv.ParseInt(string(m[1]), 10, 64)
				b, _ := strconv.ParseInt(string(m[2]), 10, 64)
				total += a + b
			}
		}
		if open <= 0 {
			return total, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d ssh connections to the hosts are still open", open)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var sshTransferredRE = regexp.MustCompile(`Transferred: sent (\d+), received (\d+) bytes`)

// peerCommand runs a peer's command in a process group of its own, which
// goes whole when ctx ends; output goes to a file (a background ssh master
// may hold it open after the command ends).
func peerCommand(ctx context.Context, out *os.File, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// tail is the end of a command's output file, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// ---- Ansible ----

type ansibleSetup struct {
	tool     string
	dir      string
	cfg      string
	playbook string
	cpDir    string
	tuned    bool
}

func (p *peersBench) newAnsibleSetup(tool string) (*ansibleSetup, error) {
	a := &ansibleSetup{tool: tool, tuned: tool == toolAnsibleTuned}
	a.dir = filepath.Join(p.dir, map[bool]string{true: "ansible-tuned", false: "ansible-default"}[a.tuned])
	a.cpDir = filepath.Join(a.dir, "cp")
	if err := os.MkdirAll(a.cpDir, 0o700); err != nil {
		return nil, err
	}
	// The defaults: forks 5, no pipelining, Ansible's own ssh_args
	// ("-C -o ControlMaster=auto -o ControlPersist=60s"), facts gathered,
	// the linear strategy, the Python interpreter discovered. Only where
	// Ansible keeps its temporary files and control sockets moves here,
	// and its ssh is the wrapper that counts bytes.
	cfg := "[defaults]\nlocal_tmp = " + filepath.Join(a.dir, "tmp") + "\nnocows = 1\nretry_files_enabled = False\n"
	ssh := "[ssh_connection]\ncontrol_path_dir = " + a.cpDir + "\nssh_executable = " + p.sshWrapper + "\n"
	play := "- hosts: fleet\n"
	if a.tuned {
		// forks = N comes from --forks; compression off (the package does
		// not compress), pipelining, no facts, the free strategy.
		cfg += "strategy = free\n"
		ssh += "pipelining = True\nssh_args = -o ControlMaster=auto -o ControlPersist=60s\n"
		play += "  gather_facts: false\n"
	}
	play += `  tasks:
    - name: unpack the package
      ansible.builtin.unarchive:
        src: "{{ pkg }}"
        dest: "{{ host_dir }}/app"
    - name: count the files
      ansible.builtin.shell: '` + countScript + `'
      args:
        chdir: "{{ host_dir }}/app"
`
	a.cfg = filepath.Join(a.dir, "ansible.cfg")
	a.playbook = filepath.Join(a.dir, "deploy.yml")
	if err := os.WriteFile(a.cfg, []byte(cfg+ssh), 0o644); err != nil {
		return nil, err
	}
	return a, os.WriteFile(a.playbook, []byte(play), 0o644)
}

// inventory writes the inventory of hosts 0..n-1.
func (a *ansibleSetup) inventory(f *sshFleet, n int) (string, error) {
	var b strings.Builder
	b.WriteString("[fleet]\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "host%02d ansible_host=127.0.0.1 ansible_port=%d ansible_ssh_private_key_file=%s host_dir=%s\n",
			i, f.Port(i), f.KeyFile(i), f.HostDir(i))
	}
	fmt.Fprintf(&b, "\n[fleet:vars]\nansible_user=%s\nansible_ssh_common_args='-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'\n",
		f.User(), f.KnownHosts)
	if a.tuned {
		b.WriteString("ansible_python_interpreter=/usr/bin/python3\n")
	}
	path := filepath.Join(a.dir, fmt.Sprintf("inventory-%d.ini", n))
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// closeMasters ends the ssh master connections ControlPersist keeps, so
// every run starts without them (deployments are rarely a minute apart)
// and their byte counts are written.
func (a *ansibleSetup) closeMasters() {
	socks, _ := os.ReadDir(a.cpDir)
	var wg sync.WaitGroup
	for _, s := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("ssh", "-o", "ControlPath="+filepath.Join(a.cpDir, s.Name()), "-O", "exit", "unused")
			cmd.Run()
			os.Remove(filepath.Join(a.cpDir, s.Name()))
		}()
	}
	wg.Wait()
}

// ansibleDeploy runs the playbook with archive on hosts 0..n-1.
func (p *peersBench) ansibleDeploy(ctx context.Context, tool string, n int, archive string) (time.Duration, int64, error) {
	a := p.ansible[tool]
	inv, err := a.inventory(p.fleet, n)
	if err != nil {
		return 0, 0, err
	}
	for i := 0; i < n; i++ {
		os.Remove(p.hostCountFile(i))
	}
	if err := p.resetSSHCount(); err != nil {
		return 0, 0, err
	}
	outPath := filepath.Join(a.dir, "last-run.log")
	out, err := os.Create(outPath)
	if err != nil {
		return 0, 0, err
	}
	defer out.Close()
	args := []string{"-i", inv, a.playbook, "-e", "pkg=" + archive}
	if a.tuned {
		args = append(args, "--forks", strconv.Itoa(n))
	}
	cmd := peerCommand(ctx, out, []string{"ANSIBLE_CONFIG=" + a.cfg, "ANSIBLE_HOST_KEY_CHECKING=True", "ANSIBLE_NOCOLOR=1"}, "ansible-playbook", args...)
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	a.closeMasters()
	if err != nil {
		return 0, 0, fmt.Errorf("%s: ansible-playbook: %v\n%s", tool, err, tail(outPath))
	}
	sent, err := p.sshBytes(ctx)
	if err != nil {
		return 0, 0, err
	}
	return took, sent, nil
}

// ---- rsync and ssh ----

var rsyncStatRE = regexp.MustCompile(`Total bytes (sent|received): ([\d,.]+)`)

// rsyncDeploy rsyncs archive to every host at once, then, on each, extracts
// it over ssh and runs the script; it returns when all are done, with
// ssh's byte count and rsync's own (sent, received).
func (p *peersBench) rsyncDeploy(ctx context.Context, n int, archive string) (time.Duration, int64, [2]int64, error) {
	for i := 0; i < n; i++ {
		os.Remove(p.hostCountFile(i))
	}
	if err := p.resetSSHCount(); err != nil {
		return 0, 0, [2]int64{}, err
	}
	logs := filepath.Join(p.dir, "rsync-logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return 0, 0, [2]int64{}, err
	}
	errs := make([]error, n)
	stats := make([][2]int64, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stats[i], errs[i] = p.rsyncHost(ctx, i, archive, filepath.Join(logs, fmt.Sprintf("host%02d.log", i)))
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, 0, [2]int64{}, err
	}
	sent, err := p.sshBytes(ctx)
	if err != nil {
		return 0, 0, [2]int64{}, err
	}
	var total [2]int64
	for _, s := range stats {
		total[0] += s[0]
		total[1] += s[1]
	}
	return took, sent, total, nil
}

func (p *peersBench) rsyncHost(ctx context.Context, i int, archive, logPath string) ([2]int64, error) {
	out, err := os.Create(logPath)
	if err != nil {
		return [2]int64{}, err
	}
	defer out.Close()
	dest := p.fleet.User() + "@127.0.0.1"
	dir := p.fleet.HostDir(i)
	rsh := p.sshWrapper + " " + strings.Join(p.fleet.SSHArgs(i), " ")
	if err := peerCommand(ctx, out, nil, "rsync", "-a", "--stats", "-e", rsh, archive, dest+":"+dir+"/app.tar.gz").Run(); err != nil {
		return [2]int64{}, fmt.Errorf("rsync to host %d: %v\n%s", i, err, tail(logPath))
	}
	remote := "cd " + dir + " && mkdir -p app && tar -xzf app.tar.gz -C app && cd app && " + countScript
	if err := peerCommand(ctx, out, nil, p.sshWrapper, append(p.fleet.SSHArgs(i), dest, remote)...).Run(); err != nil {
		return [2]int64{}, fmt.Errorf("ssh to host %d: %v\n%s", i, err, tail(logPath))
	}
	out.Close()
	b, err := os.ReadFile(logPath)
	if err != nil {
		return [2]int64{}, err
	}
	var s [2]int64
	for _, m := range rsyncStatRE.FindAllSubmatch(b, -1) {
		v, _ := strconv.ParseInt(strings.NewReplacer(",", "", ".", "").Replace(string(m[2])), 10, 64)
		if string(m[1]) == "sent" {
			s[0] = v
		} else {
			s[1] = v
		}
	}
	return s, nil
}

// ---- the scenarios ----

// peerWork is a piece of work every tool does.
type peerWork int

const (
	workFresh   peerWork = iota // a version the targets never had
	workSame                    // the deployed version again
	workChanged                 // a new version, one 64 KiB file changed
)

// compare is the work's row label for n targets.
func (p *peersBench) compare(w peerWork, n int) string {
	switch w {
	case workFresh:
		return fmt.Sprintf("fan-out %s × %d", p.sizeLabel(), n)
	case workSame:
		return fmt.Sprintf("redeploy same %s × %d", p.sizeLabel(), n)
	}
	return fmt.Sprintf("redeploy, one 64 KiB file changed, %s × %d", p.sizeLabel(), n)
}

// peerMeasure is one tool's runs of one piece of work.
type peerMeasure struct {
	times []time.Duration
	bytes []int64
	own   []int64 // rsync's own count of the bytes it sent
}

func medianInt(xs []int64) int64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// once does run r of work w with tool on the current size's n targets,
// after putting them in the state the work starts from (untimed), and
// checks what it left there.
func (p *peersBench) once(ctx context.Context, w peerWork, r int, tool string) (took time.Duration, sent, own int64, err error) {
	n := p.n
	// The peers' hosts: empty for a first deployment, else the first
	// version deployed; the new version changes one file of it.
	archive, start, changed, gen := p.v1, p.v1, -1, 0
	switch w {
	case workFresh:
		start = ""
	case workChanged:
		archive, changed, gen = p.changed[r], p.changedFile(r), r+1
	}
	hostDir := func(i int) string { return filepath.Join(p.fleet.HostDir(i), "app") }
	switch tool {
	case toolPulpo:
		release, version := p.lastRelease, p.lastVersion
		switch w {
		case workFresh:
			version = fmt.Sprintf("1.%d.%d", n, r)
			if release, err = p.pulpoRelease(ctx, p.v1, version); err != nil {
				return
			}
			p.lastRelease, p.lastVersion = release, version
		case workChanged:
			// Back to the first version (cached there, so cheap), untimed.
			if _, _, err = p.pulpoDeploy(ctx, p.lastRelease); err != nil {
				return
			}
			version = fmt.Sprintf("2.%d.%d", n, r)
			if release, err = p.pulpoRelease(ctx, archive, version); err != nil {
				return
			}
		}
		if took, sent, err = p.pulpoDeploy(ctx, release); err != nil {
			return
		}
		counts := make([]string, n)
		for i := range counts {
			counts[i] = p.pulpoCountFile(i)
		}
		err = p.verify(tool, counts, func(i int) string {
			return filepath.Join(p.tb.dir, p.agents[i], "apps", p.env.Name, "fanapp", version)
		}, changed, gen)
		return
	case toolAnsible, toolAnsibleTuned:
		if err = p.resetHosts(ctx, n, start); err != nil {
			return
		}
		if took, sent, err = p.ansibleDeploy(ctx, tool, n, archive); err != nil {
			return
		}
	case toolRsync:
		if err = p.resetHosts(ctx, n, start); err != nil {
			return
		}
		var st [2]int64
		if took, sent, st, err = p.rsyncDeploy(ctx, n, archive); err != nil {
			return
		}
		own = st[0]
	}
	err = p.verify(tool, p.hostCounts(n), hostDir, changed, gen)
	return
}

// peersFanout measures scenarios 1 and 2 for every size; it ends its
// processes and removes its files, also when interrupted.
func peersFanout(ctx context.Context, cfg peersConfig) ([]Result, error) {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := newPeersBench(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer p.close()
	var results []Result
	for _, n := range cfg.Sizes {
		rs, err := p.size(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("%d targets: %w", n, err)
		}
		results = append(results, rs...)
	}
	return results, nil
}

// size measures the three pieces of work on n targets, the tools' runs
// taking turns so a disturbance on the machine spreads over all of them.
func (p *peersBench) size(ctx context.Context, n int) ([]Result, error) {
	p.progress("%d targets: starting %d agents", n, n)
	if err := p.startPulpoSize(ctx, n); err != nil {
		return nil, err
	}
	defer p.stopPulpoSize()
	var results []Result
	for _, w := range []peerWork{workFresh, workSame, workChanged} {
		ms := map[string]*peerMeasure{}
		for r := 0; r < p.cfg.Runs; r++ {
			for _, tool := range peerTools {
				took, sent, own, err := p.once(ctx, w, r, tool)
				if err != nil {
					return nil, fmt.Errorf("%s, %s: %w", p.compare(w, n), tool, err)
				}
				p.progress("%s, %s, run %d/%d: %.2f s, %s", p.compare(w, n), tool, r+1, p.cfg.Runs, took.Seconds(), humanBytes(sent))
				m := ms[tool]
				if m == nil {
					m = &peerMeasure{}
					ms[tool] = m
				}
				m.times, m.bytes, m.own = append(m.times, took), append(m.bytes, sent), append(m.own, own)
			}
		}
		results = append(results, p.results(w, n, ms)...)
	}
	return results, nil
}

// results turns a piece of work's measures into rows, with what limits
// each and how its bytes were counted.
func (p *peersBench) results(w peerWork, n int, ms map[string]*peerMeasure) []Result {
	compare := p.compare(w, n)
	whole := int64(n) * p.v1Size
	var out []Result
	for _, tool := range peerTools {
		m := ms[tool]
		r := summarize(slices.Clone(m.times))
		r.Compare, r.Tool = compare, tool
		r.Database, r.Scenario = "-", compare+": "+tool
		r.BytesOnWire = medianInt(m.bytes)
		var note string
		switch tool {
		case toolPulpo:
			r.Database = "sqlite"
			note = fmt.Sprintf("%d listening agent%s, one package step (max parallelism %d, keeps 1 installation) + PostDeploy script; bytes: the server's package transfer counter", n, map[bool]string{true: "", false: "s"}[n == 1], n)
			switch {
			case w == workSame && r.BytesOnWire == 0:
				note += "; no package bytes sent (cached on the agents), but extracts again into a new folder"
			case w == workSame:
				note += fmt.Sprintf("; sent %s although the agents had the package", humanBytes(r.BytesOnWire))
			case w == workChanged && r.BytesOnWire >= whole*9/10:
				note += fmt.Sprintf("; SLOW: sends the whole package for a one-file change (no delta transfer; rsync sent %s)", humanBytes(medianInt(ms[toolRsync].bytes)))
			}
		case toolAnsible:
			note = "Ansible's defaults: forks 5, facts gathered, no pipelining, ssh -C + ControlPersist 60s, linear; bytes: ssh's counters, both ways"
		case toolAnsibleTuned:
			note = fmt.Sprintf("forks %d, pipelining, ControlPersist 60s without -C, no facts, strategy free, interpreter set; bytes: ssh's counters, both ways", n)
		case toolRsync:
			note = fmt.Sprintf("rsync -a over ssh then ssh tar -xzf + script, every host at once; bytes: ssh's counters, both ways (rsync's own: %s sent)", humanBytes(medianInt(m.own)))
		}
		if w != workFresh && (tool == toolAnsible || tool == toolAnsibleTuned) {
			note += "; unarchive copies the whole archive every time"
		}
		if lo, hi := humanBytes(slices.Min(m.bytes)), humanBytes(slices.Max(m.bytes)); lo != hi {
			note += fmt.Sprintf("; bytes %s–%s", lo, hi)
		}
		r.Note = note
		out = append(out, r)
	}
	if w == workFresh {
		ms := float64(whole) / (1 << 20) / p.mibps * 1000
		out = append(out, Result{Database: "-", Scenario: compare + ": " + toolPhysicalLimit, Compare: compare, Tool: toolPhysicalLimit,
			Runs: 1, MinMs: ms, MedianMs: ms, P90Ms: ms, P99Ms: ms, MaxMs: ms, BytesOnWire: whole,
			Note: fmt.Sprintf("%d × the %s tar.gz at %.0f MiB/s, one TLS connection on loopback measured in this run; the transfer alone", n, humanBytes(p.v1Size), p.mibps)})
	}
	return out
}

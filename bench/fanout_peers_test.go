package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// needPeers skips the test where Ansible, rsync or sshd is missing, except
// under CI=true, where that fails it.
func needPeers(t *testing.T) {
	t.Helper()
	err := checkPeerTools()
	if err == nil {
		if _, err = os.Stat("/usr/sbin/sshd"); err != nil {
			_, err = exec.LookPath("sshd")
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the peers are needed under CI=true: %v", err)
		}
		t.Skipf("skipping the comparison with the peers: %v", err)
	}
}

// Each tool deploys a 1 MiB package to one target, the files land in the
// host's folder and the script counts them; the redeploys send what each
// tool is known to send.
func TestFanOutAndRedeployAgainstPeers(t *testing.T) {
	needPeers(t)
	t.Chdir("..") // the bench builds ./cmd/pulpo from the repository root
	// A guard against a hang, not a measure: Ansible alone took 52 s for
	// one 1 MiB redeploy on a loaded 2-CPU machine (23 s unloaded).
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	p, err := newPeersBench(ctx, peersConfig{Sizes: []int{1}, Runs: 1, PackageBytes: 1 << 20, TLSBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if err := p.startPulpoSize(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for _, w := range []peerWork{workFresh, workSame, workChanged} {
		for _, tool := range peerTools {
			took, sent, own, err := p.once(ctx, w, 0, tool)
			if err != nil {
				t.Fatalf("%s, %s: %v", p.compare(w, 1), tool, err)
			}
			t.Logf("%s, %s: %v, %d bytes on the wire (rsync's own count %d)", p.compare(w, 1), tool, took, sent, own)
			if took <= 0 {
				t.Errorf("%s, %s: took %v", p.compare(w, 1), tool, took)
			}
			// The script ran and wrote where (once checks the count); the
			// files are there.
			count := p.hostCountFile(0)
			if tool == toolPulpo {
				count = p.pulpoCountFile(0)
			}
			b, err := os.ReadFile(count)
			if err != nil {
				t.Fatalf("%s, %s: the script did not run: %v", p.compare(w, 1), tool, err)
			}
			_, dir, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
			got, err := os.ReadFile(filepath.Join(dir, p.pkg.name(0)))
			if err != nil || !bytes.Equal(got, p.pkg.content(0, 0)) {
				t.Errorf("%s, %s: %s is not extracted in %s: %v", p.compare(w, 1), tool, p.pkg.name(0), dir, err)
			}
			switch {
			case w == workFresh && sent < p.v1Size:
				t.Errorf("%s, %s: %d bytes on the wire for a %d-byte package", p.compare(w, 1), tool, sent, p.v1Size)
			case w == workSame && tool == toolPulpo && sent != 0:
				t.Errorf("Pulpo sent %d package bytes to a target that has the package", sent)
			case w == workSame && tool == toolRsync && sent > p.v1Size/4:
				t.Errorf("rsync sent %d bytes for a file the host has", sent)
			case w == workSame && (tool == toolAnsible || tool == toolAnsibleTuned) && sent < p.v1Size:
				t.Errorf("%s sent %d bytes; its unarchive copies the whole archive", tool, sent)
			}
		}
	}
	// A second size gets agents of its own in the same environment.
	if err := p.startPulpoSize(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, sent, _, err := p.once(ctx, workFresh, 0, toolPulpo); err != nil || sent != 2*p.v1Size {
		t.Errorf("a second size: %d bytes sent, %v", sent, err)
	}
	rs := p.results(workFresh, 1, map[string]*peerMeasure{
		toolPulpo:        {times: []time.Duration{time.Second}, bytes: []int64{p.v1Size}, own: []int64{0}},
		toolAnsible:      {times: []time.Duration{time.Second}, bytes: []int64{p.v1Size}, own: []int64{0}},
		toolAnsibleTuned: {times: []time.Duration{time.Second}, bytes: []int64{p.v1Size}, own: []int64{0}},
		toolRsync:        {times: []time.Duration{time.Second}, bytes: []int64{p.v1Size}, own: []int64{p.v1Size}},
	})
	if len(rs) != 5 || rs[4].Tool != toolPhysicalLimit || rs[4].MedianMs <= 0 || rs[0].Tool != toolPulpo {
		t.Errorf("rows: %+v", rs)
	}
}

// A missing peer is an error that names it, not a silent skip.
func TestMissingPeersAreNamed(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := checkPeerTools()
	if err == nil || !strings.Contains(err.Error(), "ansible-playbook, rsync, ssh, tar are not installed") {
		t.Errorf("got %v", err)
	}
	if _, err := newPeersBench(context.Background(), peersConfig{Sizes: []int{1}, Runs: 1, PackageBytes: 1 << 20}); err == nil {
		t.Error("the bench started without its peers")
	}
}

func TestFanSizesAreParsed(t *testing.T) {
	if got, err := parseIntList("1, 10,50"); err != nil || !slices.Equal(got, []int{1, 10, 50}) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "1,,2", "0", "ten"} {
		if _, err := parseIntList(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

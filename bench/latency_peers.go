package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The "peers-steps" group: the per-step latency of Pulpo's targets beside
// what people use instead for one trivial command on one host: ssh through
// a ControlMaster connection, ssh with a new connection per command, and
// Ansible's command module (default settings, and tuned).
//
// Two comparison groups, since the peers do not all have the same figure:
//
//   - each step's own time: Pulpo's steps from their start to their end as
//     the server records them (the "steps" group's method), against one ssh
//     command's wall time;
//
//   - wall time ÷ steps: a whole n-step deployment from asking to success,
//     ÷ n, against n ssh commands' and an n-task playbook's wall time ÷ n,
//     for tools that only have a wall time (Ansible's includes its start-up).
//
// Every tool gets one uncounted warm-up run, as Pulpo's deployments do.

// stepTargetP50 is the target for Pulpo's per-step median.
const stepTargetP50 = 10 * time.Millisecond

// peerStepLatency runs n sequential "echo ok" steps on one target, runs
// times per tool (after a warm-up), with Pulpo and the peers.
func peerStepLatency(ctx context.Context, n, runs int) ([]Result, error) {
	for _, tool := range []string{"ssh", "ansible-playbook"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is needed to compare per-step latency (.ci/run installs it): %w", tool, err)
		}
	}
	eachStep := "one trivial step, one target (each step's own time)"
	wall := fmt.Sprintf("one trivial step, one target (%d-step run's wall time ÷ %d)", n, n)
	div := func(ds []time.Duration) []time.Duration {
		out := make([]time.Duration, len(ds))
		for i, d := range ds {
			out[i] = d / time.Duration(n)
		}
		return out
	}
	row := func(ts []time.Duration, compare, tool, note string) Result {
		r := summarize(ts)
		r.Compare, r.Tool, r.Note = compare, tool, note
		r.Scenario = fmt.Sprintf("peers: %s, %s", tool, strings.Trim(strings.TrimPrefix(compare, "one trivial step, one target "), "()"))
		return r
	}

	figs, err := stepRuns(ctx, n, runs)
	if err != nil {
		return nil, fmt.Errorf("pulpo: %w", err)
	}
	var stepRows, wallRows []Result
	for _, kind := range stepKinds {
		f := figs[kind]
		r := row(f.steps, eachStep, "pulpo ("+kind+")", fmt.Sprintf(
			"a step's start to its end as the server records them (dispatch, script run, output and result stored); %d steps of %d deployments; p50 target < %v: %s",
			len(f.steps), runs, stepTargetP50, metOrNot(medianOf(f.steps) < stepTargetP50)))
		r.Database = "sqlite"
		stepRows = append(stepRows, r)
		w := row(div(f.walls), wall, "pulpo ("+kind+")", "asking for the deployment → its success (task created, queued, planned, steps run, log followed) ÷ steps")
		w.Database = "sqlite"
		wallRows = append(wallRows, w)
	}

	dir, err := os.MkdirTemp("", "pulpo-bench-peer-steps-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fleet, err := startSSHFleet(filepath.Join(dir, "fleet"), 1)
	if err != nil {
		return nil, err
	}
	defer fleet.stop()

	for _, mux := range []bool{true, false} {
		var each, walls []time.Duration
		for run := 0; run < runs+1; run++ {
			ts, took, err := sshCommands(ctx, fleet, filepath.Join(dir, "ssh"), n, mux)
			if err != nil {
				return nil, err
			}
			if run > 0 {
				each, walls = append(each, ts...), append(walls, took)
			}
		}
		tool, note := "ssh (ControlMaster)", "ssh host 'echo ok' through a master connection opened before (not timed): ssh's own start, a session channel, the remote shell"
		if !mux {
			tool, note = "ssh (new connection)", "ssh host 'echo ok' on a new connection each time: TCP, key exchange, public-key authentication, session, remote shell"
		}
		stepRows = append(stepRows, row(each, eachStep, tool, note+fmt.Sprintf("; %d commands of %d runs", len(each), runs)))
		wallRows = append(wallRows, row(div(walls), wall, tool, fmt.Sprintf("%d sequential commands' wall time ÷ %d", n, n)))
	}

	for _, tuned := range []bool{false, true} {
		a, err := newAnsibleRun(filepath.Join(dir, map[bool]string{false: "ansible-default", true: "ansible-tuned"}[tuned]), fleet, n, tuned)
		if err != nil {
			return nil, err
		}
		defer a.stopMasters()
		var walls, empties []time.Duration
		for run := 0; run < runs+1; run++ {
			took, err := a.play(ctx, "playbook.yml", n)
			if err != nil {
				return nil, err
			}
			if run == 0 {
				continue // the warm-up
			}
			empty, err := a.play(ctx, "empty.yml", 0)
			if err != nil {
				return nil, err
			}
			walls, empties = append(walls, took), append(empties, empty)
		}
		tool, note := "ansible command (default)", "default settings (ssh with ControlPersist=60s, no pipelining, facts gathered)"
		if tuned {
			tool, note = "ansible command (tuned)", "pipelining, ControlPersist=600s, gather_facts: false"
		}
		wallRows = append(wallRows, row(div(walls), wall, tool, fmt.Sprintf(
			"ansible-playbook of %d command: echo ok tasks, wall time ÷ %d, including Ansible's start-up (an empty play with these settings: %.0f ms); %s",
			n, n, msOf(medianOf(empties)), note)))
	}
	return append(stepRows, wallRows...), nil
}

func metOrNot(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

// medianOf is the median of ts.
func medianOf(ts []time.Duration) time.Duration {
	return time.Duration(summarize(append([]time.Duration(nil), ts...)).MedianMs * float64(time.Millisecond))
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// sshCommands runs n sequential "ssh host 'echo ok'", through a master
// connection opened first (mux) or each on a new connection, and returns
// each command's time and the n commands' wall time.
func sshCommands(ctx context.Context, f *sshFleet, dir string, n int, mux bool) ([]time.Duration, time.Duration, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, 0, err
	}
	target := f.User() + "@127.0.0.1"
	opts := []string{"-o", "ControlMaster=no", "-o", "ControlPath=none"}
	if mux {
		sock := filepath.Join(dir, "master.sock")
		stop, err := sshMaster(ctx, f, sock, filepath.Join(dir, "master.log"))
		if err != nil {
			return nil, 0, err
		}
		defer stop()
		opts = []string{"-o", "ControlMaster=no", "-o", "ControlPath=" + sock}
	}
	args := append(append(f.SSHArgs(0), opts...), target, "echo ok")
	var each []time.Duration
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		out, err := exec.CommandContext(ctx, "ssh", args...).CombinedOutput()
		if err != nil || string(out) != "ok\n" {
			return nil, 0, fmt.Errorf("ssh %s: %v: %q", strings.Join(args, " "), err, out)
		}
		each = append(each, time.Since(t0))
	}
	return each, time.Since(start), nil
}

// sshMaster opens a ControlMaster connection at sock and waits until it
// serves; stop closes it.
func sshMaster(ctx context.Context, f *sshFleet, sock, logPath string) (stop func(), err error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	target := f.User() + "@127.0.0.1"
	master := exec.Command("ssh", append(f.SSHArgs(0), "-o", "ControlMaster=yes", "-o", "ControlPath="+sock,
		"-o", "ControlPersist=no", "-N", target)...)
	master.Stdout, master.Stderr = log, log
	if err := master.Start(); err != nil {
		log.Close()
		return nil, err
	}
	stop = func() {
		master.Process.Kill()
		master.Wait()
		log.Close()
		os.Remove(sock)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if exec.CommandContext(ctx, "ssh", "-o", "ControlPath="+sock, "-O", "check", target).Run() == nil {
			return stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("the ssh master connection did not open: %s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ansibleRun is a folder with an inventory of one host (the fleet's
// first), a playbook of n "command: echo ok" tasks, an empty one, and an
// ansible.cfg that keeps Ansible's files (temporary folders, ControlPersist
// sockets) inside it.
type ansibleRun struct {
	dir string
	env []string
}

func newAnsibleRun(dir string, f *sshFleet, n int, tuned bool) (*ansibleRun, error) {
	a := &ansibleRun{dir: dir}
	if err := os.MkdirAll(filepath.Join(dir, "cp"), 0o700); err != nil {
		return nil, err
	}
	inventory := fmt.Sprintf("[bench]\nhost0 ansible_host=127.0.0.1 ansible_port=%d ansible_user=%s ansible_ssh_private_key_file=%s "+
		"ansible_ssh_common_args='-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'\n",
		f.Port(0), f.User(), f.KeyFile(0), f.KnownHosts)
	// Where Ansible keeps its files is no setting of the comparison.
	cfg := fmt.Sprintf("[defaults]\ninventory = inventory.ini\nlocal_tmp = %s\nremote_tmp = %s\n\n[ssh_connection]\ncontrol_path_dir = %s\n",
		filepath.Join(dir, "local-tmp"), filepath.Join(dir, "remote-tmp"), filepath.Join(dir, "cp"))
	play := "- hosts: bench\n"
	if tuned {
		cfg += "pipelining = True\nssh_args = -C -o ControlMaster=auto -o ControlPersist=600s\n"
		play += "  gather_facts: false\n"
	}
	var tasks strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&tasks, "    - name: step %d\n      command: echo ok\n", i)
	}
	files := map[string]string{
		"inventory.ini": inventory,
		"ansible.cfg":   cfg,
		"playbook.yml":  play + "  tasks:\n" + tasks.String(),
		"empty.yml":     play + "  tasks: []\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return nil, err
		}
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ANSIBLE_") {
			a.env = append(a.env, kv)
		}
	}
	a.env = append(a.env, "ANSIBLE_CONFIG="+filepath.Join(dir, "ansible.cfg"), "ANSIBLE_HOME="+filepath.Join(dir, "home"),
		"ANSIBLE_NOCOLOR=1")
	return a, nil
}

var ansibleRecap = regexp.MustCompile(`host0\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// play runs a playbook and checks that its n tasks changed something (the
// command module always reports a change) and none failed.
func (a *ansibleRun) play(ctx context.Context, playbook string, n int) (time.Duration, error) {
	logPath := filepath.Join(a.dir, "out.log")
	log, err := os.Create(logPath)
	if err != nil {
		return 0, err
	}
	defer log.Close()
	cmd := exec.CommandContext(ctx, "ansible-playbook", playbook)
	cmd.Dir, cmd.Env = a.dir, a.env
	// A file, not a pipe: a ControlPersist master left in the background
	// must not keep this call waiting for the end of its output.
	cmd.Stdout, cmd.Stderr = log, log
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	out, _ := os.ReadFile(logPath)
	m := ansibleRecap.FindSubmatch(out)
	if err != nil || (n > 0 && m == nil) {
		return 0, fmt.Errorf("ansible-playbook %s in %s: %v\n%s", playbook, a.dir, err, out)
	}
	if n > 0 {
		changed, _ := strconv.Atoi(string(m[2]))
		if changed != n || string(m[3]) != "0" || string(m[4]) != "0" {
			return 0, fmt.Errorf("ansible-playbook %s: %s, want changed=%d", playbook, m[0], n)
		}
	}
	return took, nil
}

// stopMasters ends the ControlPersist connections Ansible left behind.
func (a *ansibleRun) stopMasters() {
	socks, _ := os.ReadDir(filepath.Join(a.dir, "cp"))
	for _, s := range socks {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		exec.CommandContext(ctx, "ssh", "-o", "ControlPath="+filepath.Join(a.dir, "cp", s.Name()), "-O", "exit", "host0").Run()
		cancel()
	}
}

package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// gatedScript counts its starts in a file, prints 20 lines, waits for the
// gate file, then prints 20 more: a script long enough to kill a server in.
func gatedConfig(counter, gate string) string {
	return fmt.Sprintf(`environments:
  - name: Dev
projects:
  - name: slow
    steps:
      - name: Count
        targetRoles: [web]
        script:
          body: |
            echo started >> %q
            for i in $(seq 1 20); do echo "line $i"; done
            while [ ! -e %q ]; do sleep 0.05; done
            for i in $(seq 21 40); do echo "line $i"; done
`, counter, gate)
}

// checkRanOnce checks the script started once and every line is logged once.
func checkRanOnce(t *testing.T, s *server, taskID, counter string) {
	t.Helper()
	log := s.ok("task", "log", taskID)
	for i := 1; i <= 40; i++ {
		if n := strings.Count(log, fmt.Sprintf("line %d\n", i)); n != 1 {
			t.Errorf("line %d appears %d times", i, n)
		}
	}
	starts, err := os.ReadFile(counter)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(starts), "started"); n != 1 {
		t.Errorf("the script started %d times, want once", n)
	}
}

// TestAServerKilledMidDeploymentFinishesItAfterRestart kills the only
// server (kill -9) while a script runs on an agent; the script ends while
// the server is down; the restarted server picks the deployment up.
func TestAServerKilledMidDeploymentFinishesItAfterRestart(t *testing.T) {
	data, port := t.TempDir(), freePort(t)
	pollingPort := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := startServer(t, data, "", port, "--polling-listen", pollingPort)
	dir := t.TempDir()
	counter, gate := filepath.Join(dir, "starts"), filepath.Join(dir, "gate")
	applyText(t, s, gatedConfig(counter, gate))
	addListeningAgent(t, s, "listener", "--environment", "Dev", "--role", "web")
	d := deploy(t, s, "slow", "1.0.0")
	s.waitLog(d.TaskID, "line 20")

	s.kill()
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, data, "", port, "--polling-listen", pollingPort)
	if r := s.pulpo("task", "watch", d.TaskID); r.code != 0 {
		t.Fatalf("the deployment did not finish after the restart: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	checkRanOnce(t, s, d.TaskID, counter)
}

// cluster is two server nodes on one PostgreSQL database.
type cluster struct {
	nodes map[string]*server
	url   string
}

func startCluster(t *testing.T, lease string) *cluster {
	t.Helper()
	db := pg.Database(t)
	key := make([]byte, 32)
	rand.Read(key)
	master := base64.StdEncoding.EncodeToString(key)
	c := &cluster{nodes: map[string]*server{}}
	for _, name := range []string{"a", "b"} {
		c.nodes[name] = startServer(t, t.TempDir(), db, freePort(t), "--polling-listen", "", "--master-key", master,
			"--node-name", name, "--task-lease", lease)
	}
	return c
}

type taskNode struct {
	ID    string `json:"id"`
	State string `json:"state"`
	Node  string `json:"node"`
}

func (s *server) taskNode(id string) taskNode {
	s.t.Helper()
	var tn taskNode
	s.okJSON(&tn, "task", "show", id)
	return tn
}

// TestANodeKilledMidDeploymentIsReplacedByAnother kills (-9) the node
// running a deployment; the other node takes the task when the lease
// lapses and finishes it.
func TestANodeKilledMidDeploymentIsReplacedByAnother(t *testing.T) {
	// PULPO_FAULT_ROUNDS=10 makes the stress variant run by hand.
	for round := 1; round <= envInt(t, "PULPO_FAULT_ROUNDS", 1); round++ {
		t.Run(fmt.Sprintf("round %d", round), nodeKilledRound)
	}
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q is not a positive number", name, v)
	}
	return n
}

func nodeKilledRound(t *testing.T) {
	c := startCluster(t, "5s")
	a := c.nodes["a"]
	dir := t.TempDir()
	counter, gate := filepath.Join(dir, "starts"), filepath.Join(dir, "gate")
	applyText(t, a, gatedConfig(counter, gate))
	addListeningAgent(t, a, "listener", "--environment", "Dev", "--role", "web")
	d := deploy(t, a, "slow", "1.0.0")
	a.waitLog(d.TaskID, "line 20")
	owner := a.taskNode(d.TaskID).Node
	other := map[string]string{"a": "b", "b": "a"}[owner]
	if other == "" {
		t.Fatalf("the task is held by %q", owner)
	}
	survivor := c.nodes[other]

	killed := time.Now()
	c.nodes[owner].kill()
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	end := survivor.waitState(d.TaskID, "Success")
	took := time.Since(killed)
	t.Logf("node %s killed; node %s finished the deployment %s later (lease 5s)", owner, other, took.Round(time.Millisecond))
	if tn := survivor.taskNode(d.TaskID); tn.Node != other {
		t.Errorf("the task was finished by %q, want %q", tn.Node, other)
	}
	if took > 35*time.Second {
		t.Errorf("the takeover took %s; it should take the lease (5s) and one step", took)
	}
	_ = end
	checkRanOnce(t, survivor, d.TaskID, counter)
}

// TestANodePausedBeyondItsLeaseCannotWriteToTheTaskItLost stops a node
// (SIGSTOP) while it runs a deployment; the other node takes over and
// finishes; the paused node, resumed, finds it lost the task and writes
// nothing to it.
func TestANodePausedBeyondItsLeaseCannotWriteToTheTaskItLost(t *testing.T) {
	c := startCluster(t, "3s")
	a := c.nodes["a"]
	dir := t.TempDir()
	counter, gate := filepath.Join(dir, "starts"), filepath.Join(dir, "gate")
	applyText(t, a, gatedConfig(counter, gate))
	addListeningAgent(t, a, "listener", "--environment", "Dev", "--role", "web")
	d := deploy(t, a, "slow", "1.0.0")
	a.waitLog(d.TaskID, "line 20")
	owner := a.taskNode(d.TaskID).Node
	other := map[string]string{"a": "b", "b": "a"}[owner]
	paused, survivor := c.nodes[owner], c.nodes[other]

	if err := paused.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			paused.cmd.Process.Signal(syscall.SIGCONT)
		}
	}
	defer resume()
	deadline := time.Now().Add(60 * time.Second)
	for survivor.taskNode(d.TaskID).Node != other {
		if time.Now().After(deadline) {
			t.Fatalf("node %s never took the task over from the paused node %s", other, owner)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	survivor.waitState(d.TaskID, "Success")
	before := survivor.ok("task", "log", d.TaskID)

	resume()
	// The resumed node tries to renew its lease, learns it lost the task
	// and lets it go.
	deadline = time.Now().Add(30 * time.Second)
	for !strings.Contains(paused.out.String(), "lease lost") && !strings.Contains(paused.out.String(), "lost to another node") {
		if time.Now().After(deadline) {
			t.Fatalf("the resumed node never noticed it lost the task:\n%s", paused.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if tn := survivor.taskNode(d.TaskID); tn.State != "Success" || tn.Node != other {
		t.Errorf("after the paused node came back the task is %s on %s", tn.State, tn.Node)
	}
	if after := survivor.ok("task", "log", d.TaskID); after != before {
		t.Errorf("the paused node wrote to the task it lost:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	checkRanOnce(t, survivor, d.TaskID, counter)
}

// TestABurstOfDeploymentsAcrossTwoNodesRunsEachOnce queues 100 deployments
// at once on two nodes; each runs exactly once.
func TestABurstOfDeploymentsAcrossTwoNodesRunsEachOnce(t *testing.T) {
	c := startCluster(t, "30s")
	a := c.nodes["a"]
	ran := filepath.Join(t.TempDir(), "ran")
	applyText(t, a, fmt.Sprintf(`environments:
  - name: Dev
projects:
  - name: quick
    steps:
      - name: Mark
        script:
          body: |
            echo "#{Octopus.Deployment.Id}" >> %q
`, ran))
	a.ok("release", "create", "--project", "quick", "--version", "1.0.0")
	// PULPO_BURST=1000 makes the stress variant run by hand.
	n := envInt(t, "PULPO_BURST", 100)
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var d deployment
			node := c.nodes[[]string{"a", "b"}[i%2]]
			node.okJSON(&d, "release", "deploy", "--project", "quick", "--version", "1.0.0", "--environment", "Dev")
			ids[i] = d.TaskID
		}(i)
	}
	wg.Wait()
	byNode := map[string]int{}
	for _, id := range ids {
		tn := a.waitState(id, "Success")
		_ = tn
		byNode[a.taskNode(id).Node]++
	}
	t.Logf("deployments run per node: %v", byNode)
	if byNode["a"] == 0 || byNode["b"] == 0 {
		t.Errorf("one node ran everything: %v", byNode)
	}
	marks, err := os.ReadFile(ran)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, l := range strings.Fields(string(marks)) {
		seen[l]++
	}
	if len(seen) != n {
		t.Errorf("%d distinct deployments ran, want %d", len(seen), n)
	}
	for id, count := range seen {
		if count != 1 {
			t.Errorf("%s ran %d times", id, count)
		}
	}
}

// TestAPollingAgentReachesWhicheverNodeRunsTheTask registers a polling
// agent with node a only; node a tells it of node b; with a drained, node
// b runs the deployment and reaches the agent.
func TestAPollingAgentReachesWhicheverNodeRunsTheTask(t *testing.T) {
	db := pg.Database(t)
	key := make([]byte, 32)
	rand.Read(key)
	master := base64.StdEncoding.EncodeToString(key)
	nodes := map[string]*server{}
	for _, name := range []string{"a", "b"} {
		nodes[name] = startServer(t, t.TempDir(), db, freePort(t), "--polling-listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
			"--master-key", master, "--node-name", name)
	}
	a, b := nodes["a"], nodes["b"]
	applyText(t, a, rolesConfig)
	agent := addPollingAgent(t, a, "poller", "--environment", "Dev", "--role", "web")
	// Node b's heartbeat lists its polling address; a tells the agent.
	agent.waitOutput("connected to node b", regexp.MustCompile(`connected to the server.*`+regexp.QuoteMeta(b.pollingAddress())))

	a.ok("node", "drain", "a")
	d := deploy(t, a, "fleet", "1.0.0")
	b.waitState(d.TaskID, "Success")
	if tn := b.taskNode(d.TaskID); tn.Node != "b" {
		t.Errorf("the deployment ran on %q, want b (a is drained)", tn.Node)
	}
	if log := b.ok("task", "log", d.TaskID); !strings.Contains(log, "running on poller as web") {
		t.Errorf("the log:\n%s", log)
	}
	var list []struct {
		Name     string `json:"name"`
		Draining bool   `json:"draining"`
		Alive    bool   `json:"alive"`
	}
	b.okJSON(&list, "node", "list")
	if len(list) != 2 || !list[0].Draining || list[1].Draining || !list[0].Alive || !list[1].Alive {
		t.Errorf("node list: %+v", list)
	}
}

// pollingAddress is where the server accepts polling agents, as it printed.
func (s *server) pollingAddress() string {
	s.t.Helper()
	m := regexp.MustCompile(`Polling agents connect to (\S+)`).FindStringSubmatch(s.out.String())
	if m == nil {
		s.t.Fatalf("the server did not print its polling address:\n%s", s.out)
	}
	return m[1]
}

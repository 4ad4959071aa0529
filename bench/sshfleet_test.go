package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The fleet's hosts let ssh in with the pinned host keys, each in its own folder.
func TestAnSSHFleetIsReachable(t *testing.T) {
	f, err := startSSHFleet(t.TempDir(), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.stop()
	for i := range 2 {
		out, err := exec.Command("ssh", append(f.SSHArgs(i), f.User()+"@127.0.0.1", "echo ok; cd "+f.HostDir(i)+" && pwd")...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ok\n"+f.HostDir(i)) {
			t.Errorf("host %d: %v\n%s", i, err, out)
		}
	}
}

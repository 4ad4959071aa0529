package sshtarget_test

import (
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/sshtarget"
	"github.com/pulpo-deploy/pulpo/internal/testutil/sshdtest"
)

// A machine that takes passwords only (as many do, through PAM or not):
// a target with the user's password runs scripts there as that user, and
// one with a wrong password is refused saying so.
func TestPasswordLogin(t *testing.T) {
	t.Parallel()
	srv := sshdtest.StartWithPassword(t)
	config := func(password string) sshtarget.Config {
		return sshtarget.Config{
			Name:               "password-machine",
			Host:               "127.0.0.1",
			Port:               srv.Port,
			User:               srv.User,
			Password:           password,
			HostKeyFingerprint: srv.HostKeyFingerprint,
			// Under the user's own home: the test's folders are not theirs.
			RemoteHome:  ".pulpo",
			LocalBinary: pulpoBinary,
			Version:     "server-version",
		}
	}

	t.Run("the right password runs a script as the user", func(t *testing.T) {
		scripts := newTarget(t, config(srv.Password)).Scripts()
		start(t, scripts, "whoami", "id -un")
		st, lines := follow(t, scripts, "whoami", 0)
		if got := texts(lines); st.ExitCode != 0 || len(got) != 1 || got[0] != "stdout:"+srv.User {
			t.Fatalf("the script ended with %d having printed %q, want 0 and %q", st.ExitCode, got, srv.User)
		}
		if err := scripts.CompleteScript(testContext(t), "whoami"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a wrong password is refused", func(t *testing.T) {
		_, err := newTarget(t, config("not-"+srv.Password)).Scripts().StartScript(testContext(t),
			contract.StartScriptCommand{Ticket: "refused", Syntax: "bash", Body: "echo no"})
		if err == nil {
			t.Fatal("a wrong password was accepted")
		}
		t.Logf("refused: %v", err)
		for _, part := range []string{"password-machine", srv.Addr(), `refused user "` + srv.User + `" with the password given`, "check the target's credentials"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("the message %q does not mention %q", err, part)
			}
		}
		if strings.Contains(err.Error(), srv.Password) {
			t.Errorf("the message %q gives the password away", err)
		}
	})
}

package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A misspelt command fails, naming what it could mean, so a pipeline does
// not pass without having done anything.
func TestUnknownSubcommandsFail(t *testing.T) {
	cases := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"certificate", "create", "x"}, 1, `unknown command "create" for "pulpo certificate"; did you mean import?`},
		{[]string{"feed", "lst"}, 1, `unknown command "lst" for "pulpo feed"; did you mean list or test?`},
		{[]string{"step-template", "frobnicate"}, 1, `unknown command "frobnicate" for "pulpo step-template" (see --help)`},
		{[]string{"certificate"}, 0, ""},
		{[]string{"nosuch"}, 1, `unknown command "nosuch" for "pulpo"`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Execute(context.Background(), c.args, &stdout, &stderr, func(string) string { return "" }, "test")
			if code != c.wantCode || !strings.Contains(stderr.String(), c.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), c.wantCode, c.wantErr)
			}
			if c.wantCode == 0 && !strings.Contains(stdout.String(), "Available Commands") {
				t.Errorf("a group alone should print its help, got %q", stdout.String())
			}
		})
	}
}

package architecture

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/pulpo-deploy/pulpo/"

// forbidden lists, for each of our packages, the packages of ours it must
// not depend on, even indirectly. "*" means none of ours at all.
var forbidden = map[string][]string{
	"internal/model":    {"*"},
	"internal/contract": {"*"},
	// comms knows how calls travel, never what they mean.
	"internal/comms":   {"internal/contract", "internal/agentrpc", "internal/engine", "internal/store", "internal/scriptsvc"},
	"internal/store":   {"internal/engine", "internal/api", "internal/tasks", "internal/server", "internal/cli"},
	"internal/vars":    {"internal/store", "internal/engine", "internal/api"},
	"internal/engine":  {"internal/api", "internal/server", "internal/cli", "internal/comms", "internal/agent", "internal/sshtarget"},
	"internal/tasks":   {"internal/engine", "internal/api", "internal/server"},
	"internal/api":     {"internal/cli", "internal/server"},
	"internal/client":  {"internal/store", "internal/engine", "internal/api", "internal/server"},
	"internal/agent":   {"internal/store", "internal/engine", "internal/api", "internal/server"},
	"internal/confdoc": {"internal/store", "internal/engine"},
	// Who may do what is decided from data alone.
	"internal/access": {"internal/store", "internal/engine", "internal/api", "internal/auth", "internal/server"},
	// The runner runs on targets: nothing of the server's.
	"internal/runner": {"internal/store", "internal/engine", "internal/api", "internal/server", "internal/comms", "internal/agent"},
}

type pkg struct {
	ImportPath string
	Deps       []string
}

func TestDependenciesPointInward(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Deps", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rules, ok := forbidden[strings.TrimPrefix(p.ImportPath, module)]
		if !ok {
			continue
		}
		seen++
		for _, dep := range p.Deps {
			ours, isOurs := strings.CutPrefix(dep, module)
			if !isOurs {
				continue
			}
			for _, rule := range rules {
				if rule == "*" || ours == rule || strings.HasPrefix(ours, rule+"/") {
					t.Errorf("%s depends on %s, which it must not", strings.TrimPrefix(p.ImportPath, module), ours)
				}
			}
		}
	}
	if seen != len(forbidden) {
		t.Fatalf("checked %d of the %d packages with rules; is a rule naming a package that moved?", seen, len(forbidden))
	}
}

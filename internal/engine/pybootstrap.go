package engine

import (
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/vars"
)

// pythonBootstrapSource is the Python bootstrap with placeholders for the
// variables and the prelude.
//
//go:embed pybootstrap.py
var pythonBootstrapSource string

// pythonBootstrap is the program that runs a Python script: it defines
// Octopus's Python functions (get_octopusvariable, set_octopusvariable,
// createartifact, failstep, printverbose, …, and Pulpo's names for them)
// and then runs the script given as its first argument in the same
// globals. The variables are rendered as for the bash bootstrap and
// travel as base64 of JSON, so no value can break out of its quoting.
// prelude is shell code run (with bash, in the working folder) before the
// script: the fetch of the packages an inline script refers to.
//
// The script service and the runner run it as
// "python3 -u bootstrap.py [--pulpo-defined FILE.json] SCRIPT [ARGS…]",
// where FILE.json holds [name, value] pairs only the runner knows.
func pythonBootstrap(values *vars.Values, prelude string) (string, []string) {
	pairs, problems := bootstrapValues(values)
	if pairs == nil {
		pairs = [][2]string{}
	}
	b, err := json.Marshal(pairs)
	if err != nil {
		// Strings always marshal; an error here is a programming mistake.
		panic(err)
	}
	r := strings.NewReplacer(
		"__PULPO_VALUES__", base64.StdEncoding.EncodeToString(b),
		"__PULPO_PRELUDE__", base64.StdEncoding.EncodeToString([]byte(prelude)))
	return r.Replace(pythonBootstrapSource), problems
}

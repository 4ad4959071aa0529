package engine

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/template"
	"github.com/pulpo-deploy/pulpo/internal/vars"
)

// Service messages are how a script talks to the engine, in Octopus's
// format so existing scripts work: ##octopus[setVariable name='…' value='…']
// with base64 attribute values. ##pulpo[…] is the same.
var serviceMessagePrefixes = []string{"##octopus[", "##pulpo["}

// serviceMessage is one parsed message.
type serviceMessage struct {
	kind  string
	attrs map[string]string
}

// parseServiceMessage reads a line that is a service message; ok is false
// for any other line.
func parseServiceMessage(line string) (serviceMessage, bool) {
	line = strings.TrimSpace(line)
	var rest string
	for _, p := range serviceMessagePrefixes {
		if r, found := strings.CutPrefix(line, p); found {
			rest = r
			break
		}
	}
	if rest == "" || !strings.HasSuffix(rest, "]") {
		return serviceMessage{}, false
	}
	rest = strings.TrimSuffix(rest, "]")
	kind, rest, _ := strings.Cut(rest, " ")
	m := serviceMessage{kind: kind, attrs: map[string]string{}}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		name, after, ok := strings.Cut(rest, "='")
		if !ok {
			return serviceMessage{}, false
		}
		value, tail, ok := strings.Cut(after, "'")
		if !ok {
			return serviceMessage{}, false
		}
		decoded, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return serviceMessage{}, false
		}
		m.attrs[strings.ToLower(strings.TrimSpace(name))] = string(decoded)
		rest = tail
	}
	return m, true
}

// outputVariable turns a setVariable message into an output variable.
func (m serviceMessage) outputVariable() (model.OutputVariable, bool) {
	if !strings.EqualFold(m.kind, "setVariable") || m.attrs["name"] == "" {
		return model.OutputVariable{}, false
	}
	return model.OutputVariable{Name: m.attrs["name"], Value: m.attrs["value"],
		Sensitive: strings.EqualFold(m.attrs["sensitive"], "true")}, true
}

// outputVariableNames are the names later steps read an output by, with
// Octopus's names (so existing scripts work) and Pulpo's.
func outputVariableNames(step, machine, name string) []string {
	var out []string
	for _, root := range []string{"Octopus", "Pulpo"} {
		out = append(out,
			fmt.Sprintf("%s.Action[%s].Output.%s", root, step, name),
			fmt.Sprintf("%s.Action[%s].Output[%s].%s", root, step, machine, name))
	}
	return out
}

// bootstrap is the shell code run before a script: Octopus's functions
// (get_octopusvariable, set_octopusvariable) and Pulpo's names for them.
// Names and values are single-quoted literals (any text but NUL survives
// that quoting) and lookups are bash expansions, so reading a variable or
// defining one starts no process: a script's start-up cost stays flat in
// the number of variables. Names are lower-cased in ASCII only, as bash's
// ${1,,} does under LC_ALL=C, so both sides agree on every key.
//
// A value that cannot be rendered (a reference cycle, an unknown filter) is
// given as written; what went wrong is returned, one line per variable, for
// the caller to warn about in the task log.
//
// A Python script gets pythonBootstrap instead.
func bootstrap(syntax model.ScriptSyntax, values *vars.Values) (string, []string) {
	if syntax == model.SyntaxPython {
		return pythonBootstrap(values, "")
	}
	var b strings.Builder
	var problems []string
	b.WriteString("# Pulpo: functions a deployment script can call.\n")
	if syntax == model.SyntaxBash {
		b.WriteString("declare -A __pulpo_variables=(\n")
		var pairs [][2]string
		pairs, problems = bootstrapValues(values)
		for _, nv := range pairs {
			// A shell word cannot hold NUL; drop it rather than the value.
			v := strings.ReplaceAll(nv[1], "\x00", "")
			fmt.Fprintf(&b, "  [%s]=%s\n", shellQuote(asciiLower(nv[0])), shellQuote(v))
		}
		b.WriteString(")\n")
		b.WriteString(`get_octopusvariable() {
  local LC_ALL=C
  printf '%s' "${__pulpo_variables[${1,,}]-}"
}
get_pulpovariable() { get_octopusvariable "$@"; }
__pulpo_define() {
  local LC_ALL=C
  __pulpo_variables[${1,,}]="$2"
}
`)
	}
	b.WriteString(`set_octopusvariable() {
  __pulpo_sensitive=""
  if [ "${3-}" = "-sensitive" ] || [ "${3-}" = "True" ] || [ "${3-}" = "true" ]; then
    __pulpo_sensitive=" sensitive='$(printf 'True' | base64 | tr -d '\n')'"
  fi
  echo "##octopus[setVariable name='$(printf '%s' "$1" | base64 | tr -d '\n')' value='$(printf '%s' "$2" | base64 | tr -d '\n')'$__pulpo_sensitive]"
}
set_pulpovariable() { set_octopusvariable "$@"; }
__pulpo_b64() { printf '%s' "$1" | base64 | tr -d '\n'; }
__pulpo_level() { echo "##octopus[stdout-$1]"; shift; printf '%s\n' "$*"; echo "##octopus[stdout-default]"; }
write_verbose() { __pulpo_level verbose "$@"; }
write_highlight() { __pulpo_level highlight "$@"; }
write_warning() { __pulpo_level warning "$@"; }
write_wait() { __pulpo_level wait "$@"; }
update_progress() { echo "##octopus[progress percentage='$(__pulpo_b64 "$1")' message='$(__pulpo_b64 "${2-}")']"; }
fail_step() { echo "##octopus[resultMessage message='$(__pulpo_b64 "$1")']"; exit 1; }
new_octopusartifact() {
  __pulpo_path="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
  echo "##octopus[createArtifact path='$(__pulpo_b64 "$__pulpo_path")' name='$(__pulpo_b64 "${2:-$(basename "$1")}")']"
}
new_pulpoartifact() { new_octopusartifact "$@"; }
`)
	return b.String(), problems
}

// bootstrapValues renders every variable for a bootstrap, sorted by name.
// A value that cannot be rendered is given as written, and what went wrong
// is returned for the task log.
func bootstrapValues(values *vars.Values) (pairs [][2]string, problems []string) {
	names := values.Names()
	sort.Strings(names)
	for _, n := range names {
		raw, _ := values.Get(n)
		v, err := template.Evaluate(raw, values, template.Options{InValue: true})
		if err != nil {
			problems = append(problems, fmt.Sprintf("The value of variable %q cannot be rendered, so scripts get it as written: %v", n, err))
			v = raw
		}
		pairs = append(pairs, [2]string{n, v})
	}
	return pairs, problems
}

// shellQuote makes s one single-quoted shell word.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// asciiLower lower-cases A–Z only, like bash's ${x,,} in the C locale.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

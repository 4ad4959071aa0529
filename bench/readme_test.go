package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// benchSource reads what the bench command accepts from its own source:
// the names of its flags and the scenario groups -only can pick.
func benchSource(t *testing.T) (flags, groups map[string]bool) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	flags, groups = map[string]bool{}, map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			firstString := func() string {
				for _, arg := range call.Args {
					if lit, ok := arg.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						return s
					}
				}
				return ""
			}
			switch fun := call.Fun.(type) {
			case *ast.SelectorExpr: // flag.Int("runs", …), flag.IntVar(&v, "many-processes", …)
				if pkg, ok := fun.X.(*ast.Ident); ok && pkg.Name == "flag" {
					if s := firstString(); s != "" {
						flags[s] = true
					}
				}
			case *ast.Ident: // run("api"): a group -only picks
				if fun.Name == "run" {
					if s := firstString(); s != "" {
						groups[s] = true
					}
				}
			}
			return true
		})
	}
	if len(flags) == 0 || len(groups) == 0 {
		t.Fatalf("found %d flags and %d groups in the bench source; has the way it defines them changed?", len(flags), len(groups))
	}
	return flags, groups
}

// TestTheREADMEsBenchCommandsWork keeps the README's benchmark section
// honest: every "go run ./bench" it shows uses flags and groups the command
// has, and a results file it names is one such a command writes, since
// bench/results/ is ignored by git and exists only where someone ran it.
func TestTheREADMEsBenchCommandsWork(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	flags, groups := benchSource(t)

	written := map[string]bool{}
	commands := regexp.MustCompile("go run ./bench([^`\n]*)").FindAllStringSubmatch(readme, -1)
	if len(commands) == 0 {
		t.Fatal(`the README shows no "go run ./bench" command`)
	}
	for _, c := range commands {
		args := strings.Fields(c[1])
		for i := 0; i < len(args); i++ {
			arg := args[i]
			if !strings.HasPrefix(arg, "-") {
				t.Errorf("README: %q: %q is not a flag", c[0], arg)
				continue
			}
			name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
			if !flags[name] {
				t.Errorf("README: %q: bench has no flag -%s", c[0], name)
				continue
			}
			if !hasValue && i+1 < len(args) {
				i++
				value = args[i]
			}
			switch name {
			case "only":
				for _, g := range strings.Split(value, ",") {
					if !groups[g] {
						t.Errorf("README: %q: -only %s is not a scenario group", c[0], g)
					}
				}
			case "json":
				written[value] = true
			}
		}
	}
	// Lists of groups the README gives on their own, such as "-only api,steps,…".
	for _, m := range regexp.MustCompile("`-only ([^`\\s]+)`").FindAllStringSubmatch(readme, -1) {
		for _, g := range strings.Split(m[1], ",") {
			if !groups[g] {
				t.Errorf("README: %q: %s is not a scenario group", m[0], g)
			}
		}
	}
	for _, path := range regexp.MustCompile(`bench/results/[^\s`+"`"+`)]+`).FindAllString(readme, -1) {
		if !written[path] {
			t.Errorf("README cites %s, which is not in the repository (bench/results/ is ignored): show the go run ./bench -json command that writes it", path)
		}
	}
}

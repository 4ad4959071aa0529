package architecture

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The tests here hold docs/architecture.md to the code: what it says about
// packages and tests is read from the code too, so the document cannot
// drift from it unnoticed.

const root = "../.."

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// section returns the text of the "## title" section, up to the next one.
func section(t *testing.T, doc, title string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\n## "+title+"\n")
	if !ok {
		t.Fatalf("docs/architecture.md has no section %q", title)
	}
	if end := strings.Index(rest, "\n## "); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

// short names a package of ours as the document does: "store" for
// internal/store, "cmd/pulpo" for itself.
func short(importPath string) string {
	return strings.TrimPrefix(strings.TrimPrefix(importPath, module), "internal/")
}

// described tells whether the document describes a package's place among
// the others: the program and the internal packages, not the tools of tests.
func described(name string) bool {
	return name == "cmd/pulpo" || !strings.Contains(name, "/") && name != "architecture"
}

// imports lists the direct imports of ours of every package of ours.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"cmd/...", module+"internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	graph := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		var ours []string
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module) {
				ours = append(ours, short(imp))
			}
		}
		graph[short(p.ImportPath)] = ours
	}
	return graph
}

// TestTheDiagramIsTheImportGraph reads the diagram's lines ("pkg ─► a, b,"
// with continuation lines indented) and compares them with the imports:
// every edge drawn exists, every import is drawn, a package without a line
// imports nothing of ours, and lines go from the outside in.
func TestTheDiagramIsTheImportGraph(t *testing.T) {
	text := section(t, readDoc(t), "Packages and the direction of their dependencies")
	_, block, _ := strings.Cut(text, "```\n")
	block, _, ok := strings.Cut(block, "```")
	if !ok {
		t.Fatal("the dependencies section has no diagram in a code block")
	}
	drawn := map[string][]string{}
	var order []string
	for _, line := range strings.Split(block, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		from, to, isEntry := strings.Cut(line, "─►")
		switch {
		case isEntry:
			name := strings.TrimSpace(from)
			if _, twice := drawn[name]; twice {
				t.Errorf("the diagram has two lines for %s", name)
			}
			order = append(order, name)
			drawn[name] = nil
			line = to
		case line[0] == ' ' && len(order) > 0:
			// a continuation of the line above
		default:
			t.Fatalf("cannot read diagram line %q", line)
		}
		for _, dep := range strings.Split(line, ",") {
			if dep = strings.TrimSpace(dep); dep != "" {
				drawn[order[len(order)-1]] = append(drawn[order[len(order)-1]], dep)
			}
		}
	}

	graph := imports(t)
	for _, pkg := range slices.Sorted(maps.Keys(graph)) {
		deps := graph[pkg]
		if !described(pkg) {
			continue
		}
		if _, ok := drawn[pkg]; !ok && len(deps) > 0 {
			t.Errorf("the diagram has no line for %s, which imports %s", pkg, strings.Join(deps, ", "))
			continue
		}
		for _, dep := range deps {
			if !slices.Contains(drawn[pkg], dep) {
				t.Errorf("the diagram misses %s ─► %s", pkg, dep)
			}
		}
	}
	for i, pkg := range order {
		deps, ok := graph[pkg]
		if !ok {
			t.Errorf("the diagram has a line for %s, which is not a package of ours", pkg)
			continue
		}
		for _, dep := range drawn[pkg] {
			if !slices.Contains(deps, dep) {
				t.Errorf("the diagram draws %s ─► %s, which %s does not import", pkg, dep, pkg)
			}
			if at := slices.Index(order, dep); at >= 0 && at < i {
				t.Errorf("the diagram's line for %s is above %s, which imports it: lines go from the outside in", dep, pkg)
			}
		}
	}
}

// TestEveryPackageHasARow checks the package table names every package
// under internal/.
func TestEveryPackageHasARow(t *testing.T) {
	text := section(t, readDoc(t), "Packages and the direction of their dependencies")
	named := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(cells[1], -1) {
			named[m[1]] = true
		}
	}
	for _, pkg := range slices.Sorted(maps.Keys(imports(t))) {
		if pkg != "cmd/pulpo" && !named[pkg] {
			t.Errorf("the package table has no row for %s", pkg)
		}
	}
}

// testFuncs reads the functions of a package's test files.
func testFuncs(t *testing.T, dir string) map[string]*ast.FuncDecl {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no tests in %s (%v)", dir, err)
	}
	funcs := map[string]*ast.FuncDecl{}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Body != nil {
				funcs[fn.Name.Name] = fn
			}
		}
	}
	return funcs
}

// runsOnBoth tells whether a test function reaches, through functions of
// its package, one that names both "sqlite" and "postgres": a helper such
// as eachStore, or a loop of its own over the two.
func runsOnBoth(funcs map[string]*ast.FuncDecl, name string) bool {
	seen := map[string]bool{}
	var reaches func(name string) bool
	reaches = func(name string) bool {
		fn, ok := funcs[name]
		if !ok || seen[name] {
			return false
		}
		seen[name] = true
		literals := map[string]bool{}
		var called []string
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING {
					literals[s] = true
				}
			case *ast.Ident:
				called = append(called, n.Name)
			}
			return true
		})
		if literals["sqlite"] && literals["postgres"] {
			return true
		}
		return slices.ContainsFunc(called, reaches)
	}
	return reaches(name)
}

// packageDir is where a package the document names by its short name is.
func packageDir(name string) string {
	if _, err := os.Stat(filepath.Join(root, "internal", name)); err == nil {
		return filepath.Join("internal", name)
	}
	return name
}

// TestTheTestsSectionSaysWhichTestsRunOnBothDatabases reads the lists under
// "Both databases" in the Tests section and checks each claim:
//
//   - "`a`, `b`: every test but `X`, …": every other test of those packages
//     runs on both databases, and the ones named do not;
//   - "`a`: only `X`, …; …": the tests named before the semicolon run on
//     both, and those named after it do not.
func TestTheTestsSectionSaysWhichTestsRunOnBothDatabases(t *testing.T) {
	text := section(t, readDoc(t), "Tests")
	_, lists, ok := strings.Cut(text, "\n- Both databases:")
	if !ok {
		t.Fatal(`the Tests section has no "Both databases" item`)
	}
	if end := strings.Index(lists, "\n- "); end >= 0 {
		lists = lists[:end]
	}
	backticked := regexp.MustCompile("`([^`]+)`")
	isTest := regexp.MustCompile(`^Test\w+$`)
	names := func(s string) []string {
		var out []string
		for _, m := range backticked.FindAllStringSubmatch(s, -1) {
			if isTest.MatchString(m[1]) {
				out = append(out, m[1])
			}
		}
		return out
	}

	claims := 0
	for _, item := range strings.Split(lists, "\n  - ")[1:] {
		item = strings.Join(strings.Fields(item), " ")
		head, claim, ok := strings.Cut(item, ": ")
		if !ok {
			t.Fatalf("cannot read %q: want `package`, …: every test but … or only …", item)
		}
		var pkgs []string
		for _, m := range backticked.FindAllStringSubmatch(head, -1) {
			pkgs = append(pkgs, m[1])
		}
		inPackage := map[string]map[string]*ast.FuncDecl{}
		for _, pkg := range pkgs {
			inPackage[pkg] = testFuncs(t, packageDir(pkg))
		}
		both := func(name string) bool {
			for _, fs := range inPackage {
				if _, ok := fs[name]; ok {
					return runsOnBoth(fs, name)
				}
			}
			t.Errorf("%s: the document names %s, which is not a test there", head, name)
			return false
		}
		switch {
		case strings.HasPrefix(claim, "every test but "):
			excepted := names(claim)
			for _, name := range excepted {
				if both(name) {
					t.Errorf("%s: %s is named as not running on both databases, but it does", head, name)
				}
			}
			for _, pkg := range pkgs {
				fs := inPackage[pkg]
				for _, name := range slices.Sorted(maps.Keys(fs)) {
					if isTest.MatchString(name) && name != "TestMain" && !slices.Contains(excepted, name) && !runsOnBoth(fs, name) {
						t.Errorf("%s: the document says every test of %s but those named runs on both databases, but %s does not", head, pkg, name)
					}
				}
			}
		case strings.HasPrefix(claim, "only "):
			on, off, _ := strings.Cut(claim, ";")
			for _, name := range names(on) {
				if !both(name) {
					t.Errorf("%s: the document says %s runs on both databases, but it does not", head, name)
				}
			}
			for _, name := range names(off) {
				if both(name) {
					t.Errorf("%s: the document says %s does not run on both databases, but it does", head, name)
				}
			}
		default:
			t.Fatalf("cannot read the claim %q about %s: want every test but … or only …", claim, head)
		}
		claims++
	}
	if claims == 0 {
		t.Fatal(`the "Both databases" item lists no packages`)
	}
}

// TestFuzzTestsAreNamedUnderTheirPackage checks that each fuzz test of ours
// is named in the Tests section in the item of its own package, and that no
// item speaks of fuzzing a package that has no fuzz test.
func TestFuzzTestsAreNamedUnderTheirPackage(t *testing.T) {
	text := section(t, readDoc(t), "Tests")
	items := map[string]string{} // an item's first package → its text
	for _, item := range strings.Split(text, "\n- ")[1:] {
		item = strings.Join(strings.Fields(item), " ")
		if m := regexp.MustCompile("^`([^`]+)`").FindStringSubmatch(item); m != nil {
			items[m[1]] += item
		}
	}
	fuzzed := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(root, "internal", "*", "*_test.go"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`).FindAllStringSubmatch(string(b), -1) {
			pkg := filepath.Base(filepath.Dir(name))
			fuzzed[pkg] = true
			if !strings.Contains(items[pkg], "`"+m[1]+"`") {
				t.Errorf("the Tests section's item for %s does not name its fuzz test %s", pkg, m[1])
			}
		}
	}
	if len(fuzzed) == 0 {
		t.Fatal("found no fuzz test at all; has the way they are found changed?")
	}
	for _, pkg := range slices.Sorted(maps.Keys(items)) {
		item := items[pkg]
		if !fuzzed[pkg] && strings.Contains(strings.ToLower(item), "fuzz") {
			t.Errorf("the Tests section speaks of fuzzing in the item for %s, which has no fuzz test: %s", pkg, item)
		}
	}
}

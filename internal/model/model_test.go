package model

import (
	"strings"
	"testing"
)

func TestVersionOrderAndNext(t *testing.T) {
	ordered := []string{"0.9.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2", "1.10.0", "2.0.0.1"}
	for i := 0; i+1 < len(ordered); i++ {
		a, _ := ParseVersion(ordered[i])
		b, ok := ParseVersion(ordered[i+1])
		if !ok || a.Compare(b) >= 0 || b.Compare(a) <= 0 {
			t.Errorf("%s should sort before %s", ordered[i], ordered[i+1])
		}
	}
	for _, tt := range []struct {
		existing []string
		want     string
	}{
		{nil, "0.0.1"},
		{[]string{"1.0.0", "1.2.3", "1.10.0"}, "1.10.1"},
		{[]string{"2.0.0-beta.1"}, "2.0.0"},
		{[]string{"3.1"}, "3.1.1"},
	} {
		if got := NextVersion(tt.existing); got != tt.want {
			t.Errorf("NextVersion(%v) = %s, want %s", tt.existing, got, tt.want)
		}
	}
}

func TestValidateVersion(t *testing.T) {
	for _, v := range []string{"1.0.0", "1.4.0-beta.2", "2024.01.15-rc.1+build.5", "7"} {
		if err := ValidateVersion(v); err != nil {
			t.Errorf("%q refused: %v", v, err)
		}
	}
	for _, v := range []string{"", "v1.0.0", "1..0", "1.0.0-", "latest", strings.Repeat("1", 101)} {
		if err := ValidateVersion(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

func TestProcessValidation(t *testing.T) {
	tests := []struct {
		name    string
		steps   []Step
		problem string
	}{
		{"step without action", []Step{{Name: "A"}}, "says nothing to do"},
		{"unknown syntax", []Step{{Name: "A", Script: &ScriptAction{Syntax: "cobol", Body: "x"}}}, `"cobol" is not supported: use bash, sh or python`},
		{"unknown syntax of a package step's script", []Step{{Name: "A", Package: &PackageAction{PackageID: "app",
			Deploy: &ScriptAction{Syntax: "powershell", Body: "x"}}}}, `"powershell" is not supported: use bash, sh or python`},
		{"python syntax for a shell file in a package", []Step{{Name: "A", Script: &ScriptAction{Syntax: SyntaxPython,
			FromPackage: &ScriptPackage{PackageID: "tools", File: "run.sh"}}}}, "is python but"},
		{"python step without body", []Step{{Name: "A", Script: &ScriptAction{Syntax: SyntaxPython}}}, "body: is required"},
		{"empty body", []Step{{Name: "A", Script: &ScriptAction{Syntax: SyntaxBash, Body: "  "}}}, "body: is required"},
		{"duplicate names", []Step{{Name: "A", Script: &ScriptAction{Syntax: SyntaxSh, Body: "x"}}, {Name: "a", Script: &ScriptAction{Syntax: SyntaxSh, Body: "y"}}}, "another step is already called"},
		{"name with spaces around", []Step{{Name: " A", Script: &ScriptAction{Syntax: SyntaxSh, Body: "x"}}}, "must not start or end with spaces"},
		{"script from a package and a body", []Step{{Name: "A", Script: &ScriptAction{Syntax: SyntaxBash, Body: "x",
			FromPackage: &ScriptPackage{PackageID: "tools", File: "run.sh"}}}}, "from the package or from body, not both"},
		{"script from a package without a file", []Step{{Name: "A", Script: &ScriptAction{FromPackage: &ScriptPackage{PackageID: "tools"}}}}, "fromPackage.file: is required"},
		{"script file outside the package", []Step{{Name: "A", Script: &ScriptAction{FromPackage: &ScriptPackage{PackageID: "tools", File: "../etc/run.sh"}}}}, "must be a path inside the package"},
		{"absolute script file", []Step{{Name: "A", Script: &ScriptAction{FromPackage: &ScriptPackage{PackageID: "tools", File: "/run.sh"}}}}, "must be a path inside the package"},
		{"script file of no known kind", []Step{{Name: "A", Script: &ScriptAction{FromPackage: &ScriptPackage{PackageID: "tools", File: "run.ps1"}}}}, "must end in .sh"},
		{"script from a package with a bad id", []Step{{Name: "A", Script: &ScriptAction{FromPackage: &ScriptPackage{PackageID: "no id", File: "run.sh"}}}}, "is not a package id"},
		{"package step's script from another package", []Step{{Name: "A", Package: &PackageAction{PackageID: "app",
			Deploy: &ScriptAction{FromPackage: &ScriptPackage{PackageID: "tools", File: "run.sh"}}}}}, "deploy.fromPackage: a package step's own scripts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DeploymentProcess{Steps: tt.steps}
			if err := d.Validate(); err == nil || !strings.Contains(err.Error(), tt.problem) {
				t.Fatalf("expected %q, got %v", tt.problem, err)
			}
		})
	}
}

func TestAScriptFromAPackageIsValid(t *testing.T) {
	d := DeploymentProcess{Steps: []Step{{Name: "Migrate", Script: &ScriptAction{Syntax: SyntaxBash,
		FromPackage: &ScriptPackage{PackageID: "db-tools", File: "scripts/migrate.py", Arguments: "--env #{Octopus.Environment.Name}"}}}}}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := d.Steps[0].PackageID(); got != "db-tools" {
		t.Fatalf("PackageID() = %q", got)
	}
}

func TestVariableValidation(t *testing.T) {
	known := map[string]string{"dev": "Dev"}
	dup := VariableSet{Variables: []Variable{
		{Name: "Port", Value: "1", Scope: Scope{Environments: []string{"dev"}}},
		{Name: "port", Value: "2", Scope: Scope{Environments: []string{"dev"}}},
	}}
	if err := dup.Validate(ScopeRefs{Environments: known}); err == nil || !strings.Contains(err.Error(), "two values with the same scope") {
		t.Fatalf("duplicate scope accepted: %v", err)
	}
	ok := VariableSet{Variables: []Variable{{Name: "Port", Value: "1"}, {Name: "Port", Value: "2", Scope: Scope{Environments: []string{"dev"}}}}}
	if err := ok.Validate(ScopeRefs{Environments: known}); err != nil {
		t.Fatalf("valid variables refused: %v", err)
	}
}

func TestVersionRanges(t *testing.T) {
	tests := []struct {
		rng  string
		in   []string
		out  []string
		fail string
	}{
		{rng: "", in: []string{"0.0.1", "9.9.9-beta"}},
		{rng: "[1.0,2.0)", in: []string{"1.0", "1.0.0", "1.9.9", "1.5.0-beta", "2.0.0-beta.1"}, out: []string{"0.9.9", "2.0.0", "2.0.1"}}, // a pre-release of 2.0 comes before it, as in SemVer and NuGet
		{rng: "(1.0,2.0]", in: []string{"1.0.1", "2.0.0"}, out: []string{"1.0.0", "2.0.1"}},
		{rng: "(,2.0]", in: []string{"0.1", "2.0"}, out: []string{"2.0.1"}},
		{rng: "[2.1,)", in: []string{"2.1", "10.0"}, out: []string{"2.0.9"}},
		{rng: "[1.2.3]", in: []string{"1.2.3"}, out: []string{"1.2.4", "1.2.3-rc.1"}},
		{rng: "1.5", in: []string{"1.5", "3.0"}, out: []string{"1.4.9"}},
		{rng: "[2.0,1.0]", fail: "holds no version"},
		{rng: "[1.0,2.0", fail: "is not a version range"},
		{rng: "(,)", fail: "is not a version range"},
		{rng: "(1.2.3)", fail: "is not a version range"},
		{rng: "latest", fail: "is not a version range"},
	}
	for _, tt := range tests {
		t.Run(tt.rng, func(t *testing.T) {
			r, err := ParseVersionRange(tt.rng)
			if tt.fail != "" {
				if err == nil || !strings.Contains(err.Error(), tt.fail) {
					t.Fatalf("got %v, want %q", err, tt.fail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tt.in {
				if pv, _ := ParseVersion(v); !r.Contains(pv) {
					t.Errorf("%s should contain %s", tt.rng, v)
				}
			}
			for _, v := range tt.out {
				if pv, _ := ParseVersion(v); r.Contains(pv) {
					t.Errorf("%s should not contain %s", tt.rng, v)
				}
			}
		})
	}
}

func TestChannelRules(t *testing.T) {
	beta := Channel{Name: "Beta", Rules: []ChannelRule{{Packages: []string{"web"}, Tag: "^beta"}}}
	stable := Channel{Name: "Stable", Rules: []ChannelRule{{Packages: []string{"Install"}, VersionRange: "[2.0,3.0)", Tag: "^$"}}}
	tests := []struct {
		ch      Channel
		pkg     string
		version string
		ok      bool
		why     string
	}{
		{beta, "web", "2.1.0-beta.3", true, ""},
		{beta, "web", "2.1.0", false, `pre-release tag "", which does not match ^beta`},
		{beta, "api", "2.1.0", true, ""}, // the rule is about web only
		{stable, "web", "2.4.0", true, ""},
		{stable, "web", "3.0.0", false, "outside [2.0,3.0)"},
		{stable, "web", "2.4.0-rc.1", false, "does not match ^$"},
	}
	for _, tt := range tests {
		ok, why := tt.ch.Accepts(tt.pkg, "Install", tt.version)
		if ok != tt.ok || !strings.Contains(why, tt.why) {
			t.Errorf("%s accepts %s %s: %v %q, want %v %q", tt.ch.Name, tt.pkg, tt.version, ok, why, tt.ok, tt.why)
		}
	}
	bad := Channel{Name: "Bad", Rules: []ChannelRule{{VersionRange: "[1,", Tag: "("}}}
	err := bad.Validate()
	for _, want := range []string{"packages: is required", "is not a version range", "is not a regular expression"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validation should say %q: %v", want, err)
		}
	}
}

func TestPythonScriptsAreValid(t *testing.T) {
	d := DeploymentProcess{Steps: []Step{
		{Name: "Inline", Script: &ScriptAction{Syntax: SyntaxPython, Body: "print(get_octopusvariable('x'))"}},
		{Name: "From package", Script: &ScriptAction{Syntax: SyntaxPython, FromPackage: &ScriptPackage{PackageID: "tools", File: "run.py"}}},
		{Name: "Package", Package: &PackageAction{PackageID: "app", Deploy: &ScriptAction{Syntax: SyntaxPython, Body: "print(1)"}}},
	}}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
}

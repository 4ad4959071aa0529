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
		{"unknown syntax", []Step{{Name: "A", Script: &ScriptAction{Syntax: "cobol", Body: "x"}}}, `"cobol" is not supported`},
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

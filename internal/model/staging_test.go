package model

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestStagingKeysNameTheirLevel(t *testing.T) {
	cases := []struct{ in, level, key, err string }{
		{"app.tag", "app", "tag", ""},
		{"deployment.replicas", "deployment", "replicas", ""},
		{"tag", "app", "tag", ""},
		{"app.image.tag", "app", "image.tag", ""},
		{"app.", "", "", "is not a configuration key"},
		{"has space", "", "", "is not a configuration key"},
	}
	for _, c := range cases {
		level, key, err := SplitStagingKey(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || level != c.level || key != c.key {
			t.Errorf("%q: %s %s %v", c.in, level, key, err)
		}
	}
}

func ptr(s string) *string { return &s }

// Overrides keep only the differences from the defaults.
func TestStagingChangesKeepOnlyDifferences(t *testing.T) {
	defaults := StagingConfig{App: map[string]string{"tag": "latest", "debug": "false"}, Deployment: map[string]string{"replicas": "1"}}
	cases := []struct {
		name   string
		before StagingOverrides
		change StagingChange
		want   StagingConfig
		keys   int // overrides kept
	}{
		{"set a new tag", StagingOverrides{}, StagingChange{Set: map[string]string{"app.tag": "ab12"}},
			StagingConfig{App: map[string]string{"tag": "ab12", "debug": "false"}, Deployment: map[string]string{"replicas": "1"}}, 1},
		{"set a value equal to the default", StagingOverrides{App: map[string]*string{"tag": ptr("x")}}, StagingChange{Set: map[string]string{"tag": "latest"}},
			StagingConfig{App: map[string]string{"tag": "latest", "debug": "false"}, Deployment: map[string]string{"replicas": "1"}}, 0},
		{"unset a default", StagingOverrides{}, StagingChange{Unset: []string{"app.debug"}},
			StagingConfig{App: map[string]string{"tag": "latest"}, Deployment: map[string]string{"replicas": "1"}}, 1},
		{"unset an added key", StagingOverrides{App: map[string]*string{"extra": ptr("1")}}, StagingChange{Unset: []string{"app.extra"}},
			StagingConfig{App: map[string]string{"tag": "latest", "debug": "false"}, Deployment: map[string]string{"replicas": "1"}}, 0},
		{"reset to the default", StagingOverrides{Deployment: map[string]*string{"replicas": nil}}, StagingChange{Reset: []string{"deployment.replicas"}},
			StagingConfig{App: map[string]string{"tag": "latest", "debug": "false"}, Deployment: map[string]string{"replicas": "1"}}, 0},
		{"add a deployment key", StagingOverrides{}, StagingChange{Set: map[string]string{"deployment.cpu": "2"}},
			StagingConfig{App: map[string]string{"tag": "latest", "debug": "false"}, Deployment: map[string]string{"replicas": "1", "cpu": "2"}}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.before
			if err := c.change.Apply(defaults, &o); err != nil {
				t.Fatal(err)
			}
			got := EffectiveConfig(defaults, o)
			if !equalMaps(got.App, c.want.App) || !equalMaps(got.Deployment, c.want.Deployment) {
				t.Errorf("effective %+v, want %+v", got, c.want)
			}
			if n := len(o.App) + len(o.Deployment); n != c.keys {
				t.Errorf("%d overrides kept, want %d: %+v", n, c.keys, o)
			}
		})
	}
	if err := (StagingChange{Set: map[string]string{"bad key": "x"}}).Apply(defaults, &StagingOverrides{}); err == nil {
		t.Error("a bad key was accepted")
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func TestControlScriptArguments(t *testing.T) {
	cfg := StagingConfig{App: map[string]string{"tag": "ab", "a": "1"}, Deployment: map[string]string{"replicas": "2"}}
	tmpl := &StagingTemplate{BaseDomain: "example.com", Namespace: "ns"}
	want := []string{"--project-name", "shop", "--base-domain", "example.com", "--namespace", "ns", "--name", "f1",
		"--app-config", "a=1", "--app-config", "tag=ab", "--deployment-config", "replicas=2"}
	if got := StagingArgs(tmpl, "shop", "f1", cfg, true); !slices.Equal(got, want) {
		t.Errorf("pulpo arguments:\n%q\nwant\n%q", got, want)
	}
	tmpl.Arguments = ArgumentsOctopod
	got := StagingArgs(tmpl, "shop", "f1", cfg, true)
	if !slices.Contains(got, "--application-config") || slices.Contains(got, "--app-config") {
		t.Errorf("Octopod arguments: %q", got)
	}
	if got := StagingArgs(tmpl, "shop", "f1", cfg, false); len(got) != 8 {
		t.Errorf("without configuration: %q", got)
	}
}

func TestInfoLinesAndCheckCodes(t *testing.T) {
	links := ParseStagingLinks([]string{"app,https://f1.example.com", "  api , http://api/  ", "not a link", "x,ftp://no", ",https://nameless"})
	if len(links) != 2 || links[0] != (StagingLink{"app", "https://f1.example.com"}) || links[1] != (StagingLink{"api", "http://api/"}) {
		t.Errorf("links: %+v", links)
	}
	for code, want := range map[int]StagingFailureReason{1: FailureGeneric, 2: FailurePartialAvailability, 3: FailureTagMismatch, 127: FailureGeneric} {
		if got := CheckFailure(code); got != want {
			t.Errorf("check exit %d: %s, want %s", code, got, want)
		}
	}
}

func TestStagingTemplateValidation(t *testing.T) {
	ok := StagingTemplate{Scripts: StagingScripts{Create: "c", Update: "u", Archive: "a", Cleanup: "x"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a minimal template: %v", err)
	}
	cases := []struct {
		name   string
		change func(*StagingTemplate)
		want   string
	}{
		{"no create script", func(t *StagingTemplate) { t.Scripts.Create = " " }, "scripts.create: is required"},
		{"unknown argument style", func(t *StagingTemplate) { t.Arguments = "helm" }, "not an argument style"},
		{"broken name pattern", func(t *StagingTemplate) { t.NamePattern = "([" }, "namePattern"},
		{"negative expiry", func(t *StagingTemplate) { t.IdleExpiry.D = -1 }, "idleExpiry: must not be negative"},
		{"bad default key", func(t *StagingTemplate) { t.Defaults.App = map[string]string{"a b": "1"} }, "defaults.app.a b"},
		{"bad sensitive key", func(t *StagingTemplate) { t.SensitiveKeys = []string{"app."} }, "sensitiveKeys"},
	}
	for _, c := range cases {
		tmpl := ok
		c.change(&tmpl)
		if err := tmpl.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	name := StagingTemplate{}
	for n, valid := range map[string]bool{"feature-1": true, "f": false, "Feature": false, "1abc": false, strings.Repeat("a", 40): true, strings.Repeat("a", 41): false} {
		if err := ValidateStagingName(&name, n); (err == nil) != valid {
			t.Errorf("name %q: %v", n, err)
		}
	}
}

func TestDurationsReadAndWriteAsYAMLText(t *testing.T) {
	var tmpl StagingTemplate
	if err := yaml.Unmarshal([]byte("idleExpiry: 72h\narchiveRetention: 3600\nscriptTimeout: ''\n"), &tmpl); err != nil {
		t.Fatal(err)
	}
	if tmpl.IdleExpiry.D != 72*time.Hour || tmpl.ArchiveRetention.D != time.Hour || tmpl.ScriptTimeout.D != 0 {
		t.Errorf("read %+v", tmpl)
	}
	out, err := yaml.Marshal(StagingTemplate{IdleExpiry: Duration{90 * time.Minute}})
	if err != nil || !strings.Contains(string(out), "idleExpiry: 1h30m0s") {
		t.Errorf("wrote %s %v", out, err)
	}
	if err := yaml.Unmarshal([]byte("idleExpiry: soon\n"), &tmpl); err == nil || !strings.Contains(err.Error(), "not a duration") {
		t.Errorf("a bad duration: %v", err)
	}
}

package runner

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestGlobMatchesLikeOctopusTargetFilePatterns(t *testing.T) {
	cases := []struct {
		pattern string
		matches []string
		not     []string
	}{
		{"appsettings.json", []string{"appsettings.json"}, []string{"sub/appsettings.json", "appsettings.json.bak"}},
		{"*.config", []string{"web.config", "app.config"}, []string{"config/web.config", "web.config.bak"}},
		{"**/*.config", []string{"web.config", "a/web.config", "a/b/c/web.config"}, []string{"a/web.json"}},
		{"config/*.yaml", []string{"config/a.yaml"}, []string{"config/sub/a.yaml", "a.yaml"}},
		{"Application/**/*.xml", []string{"Application/a.xml", "Application/x/y/a.xml"}, []string{"a.xml", "Other/a.xml"}},
		{`Config\*.json`, []string{"Config/a.json"}, []string{"a.json"}},
		{"./appsettings.?.json", []string{"appsettings.1.json"}, []string{"appsettings.12.json"}},
		{"logs/**", []string{"logs", "logs/a.txt", "logs/x/y.txt"}, []string{"log", "other/logs/a.txt"}},
		{"**", []string{"a", "a/b/c"}, nil},
		{"[ab].txt", []string{"a.txt", "b.txt"}, []string{"c.txt"}},
	}
	for _, c := range cases {
		g, err := parseGlob(c.pattern)
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		for _, m := range c.matches {
			if !g.match(m) {
				t.Errorf("%q should match %q", c.pattern, m)
			}
		}
		for _, m := range c.not {
			if g.match(m) {
				t.Errorf("%q should not match %q", c.pattern, m)
			}
		}
	}
}

func TestGlobRefusesPatternsLeavingTheFolder(t *testing.T) {
	for _, p := range []string{"/etc/*.conf", "../*.json", "a/../../b", "", "[a"} {
		if _, err := parseGlob(p); err == nil {
			t.Errorf("pattern %q was accepted", p)
		}
	}
}

func TestMatchingFilesListsRegularFilesOnceAndReportsUnmatchedPatterns(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "web.config"), "")
	writeFile(t, filepath.Join(root, "sub/app.config"), "")
	writeFile(t, filepath.Join(root, "sub/app.json"), "")
	files, unmatched, err := matchingFiles(root, []string{"**/*.config", "sub/*", "*.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sub/app.config", "sub/app.json", "web.config"}; !slices.Equal(files, want) {
		t.Errorf("files %q, want %q", files, want)
	}
	if want := []string{"*.yaml"}; !slices.Equal(unmatched, want) {
		t.Errorf("unmatched %q, want %q", unmatched, want)
	}
}

package confdoc_test

import (
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/confdoc"
)

func TestParseYAMLIsStrict(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown field", "environments:\n  - name: Dev\n    colour: red\n", "line 3: field colour not found"},
		{"empty", "", "the file is empty"},
		{"two documents", "environments: []\n---\nprojects: []\n", "more than one YAML document"},
		{"wrong type", "environments: Dev\n", "line 1"},
		{"template read as a comment", "projects:\n  - name: p\n    steps:\n      - name: s\n        script:\n          body: echo hi #{Name}\n",
			`line 6: the value "echo hi" is cut short where "#{Name}" begins`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := confdoc.ParseYAML([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseYAMLKeepsQuotedAndBlockTemplates(t *testing.T) {
	doc, err := confdoc.ParseYAML([]byte("projects:\n  - name: p\n    steps:\n      - name: a\n        script:\n          body: \"echo #{A}\"\n" +
		"      - name: b\n        script:\n          body: |\n            echo #{B} # a real comment stays in the script\n"))
	if err != nil {
		t.Fatal(err)
	}
	steps := doc.Projects[0].Steps
	if steps[0].Script.Body != "echo #{A}" || steps[1].Script.Body != "echo #{B} # a real comment stays in the script\n" {
		t.Fatalf("bodies: %q, %q", steps[0].Script.Body, steps[1].Script.Body)
	}
}

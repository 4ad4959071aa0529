package runner

import (
	"strings"
	"testing"
)

const applicationYAML = `# Service settings
app:
  port: 80 # the public port
  name: web
  ratio: 1.5
  debug: true
  version: "1.0"
  empty: ~
  servers:
    - host: a
    - host: b
  weather:
    url: dev
    key: DEV
`

func TestYAMLReplacesValuesByKeyPathKeepingCommentsAndTypes(t *testing.T) {
	cases := []struct {
		name    string
		vars    []Variable
		changes []string // old, new pairs applied to the input
	}{
		{"a number stays a number, comments stay", []Variable{{Name: "APP:PORT", Value: "8080"}},
			[]string{"port: 80 # the public port", "port: 8080 # the public port"}},
		{"a number that is not one becomes a string", []Variable{{Name: "app:port", Value: "eighty"}},
			[]string{"port: 80 ", "port: eighty "}},
		{"a string that looks like a number is quoted to stay a string", []Variable{{Name: "app:name", Value: "123"}},
			[]string{"name: web", `name: "123"`}},
		{"a quoted string keeps its quotes", []Variable{{Name: "app:version", Value: "2.0"}},
			[]string{`version: "1.0"`, `version: "2.0"`}},
		{"an integer may become a float", []Variable{{Name: "app:ratio", Value: "2"}},
			[]string{"ratio: 1.5", "ratio: 2"}},
		{"a boolean stays a boolean", []Variable{{Name: "app:debug", Value: "false"}},
			[]string{"debug: true", "debug: false"}},
		{"a boolean that is not one becomes a string", []Variable{{Name: "app:debug", Value: "sometimes"}},
			[]string{"debug: true", "debug: sometimes"}},
		{"null becomes a string", []Variable{{Name: "app:empty", Value: "5"}},
			[]string{"empty: ~", `empty: "5"`}},
		{"sequence index", []Variable{{Name: "app:servers:1:host", Value: "c"}},
			[]string{"host: b", "host: c"}},
		{"a whole mapping from JSON", []Variable{{Name: "app:weather", Value: `{"url": "test", "key": "TEST"}`}},
			[]string{"weather:\n    url: dev\n    key: DEV", "weather: {\"url\": \"test\", \"key\": \"TEST\"}"}},
		{"a whole mapping from YAML", []Variable{{Name: "app:weather", Value: "url: test\nkey: TEST"}},
			[]string{"url: dev\n    key: DEV", "url: test\n    key: TEST"}},
		{"a whole sequence", []Variable{{Name: "app:servers", Value: `["x", "y"]`}, {Name: "app:servers:0:host", Value: "lost"}},
			[]string{"servers:\n    - host: a\n    - host: b", `servers: ["x", "y"]`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, _ := newTestOutput()
			got, applied, err := replaceYAML([]byte(applicationYAML), structuredValues(newVariableSet(c.vars), out), out)
			if err != nil {
				t.Fatal(err)
			}
			want := applicationYAML
			for i := 0; i+1 < len(c.changes); i += 2 {
				if !strings.Contains(want, c.changes[i]) {
					t.Fatalf("test input lacks %q", c.changes[i])
				}
				want = strings.Replace(want, c.changes[i], c.changes[i+1], 1)
			}
			if string(got) != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			if len(applied) == 0 {
				t.Error("nothing reported as applied")
			}
		})
	}
}

func TestYAMLWithoutMatchesIsLeftByteForByte(t *testing.T) {
	out, _ := newTestOutput()
	src := "a:   1   # odd spacing\nb: [1,2]\n"
	got, applied, err := replaceYAML([]byte(src), []structuredValue{{"c", "x"}, {"Octopus.Action.Name", "x"}}, out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != src || len(applied) != 0 {
		t.Errorf("got %q, applied %q", got, applied)
	}
}

func TestYAMLMultipleDocumentsAndAnchors(t *testing.T) {
	out, _ := newTestOutput()
	src := "base: &base\n  level: info\n---\nother: 1\n"
	got, _, err := replaceYAML([]byte(src), []structuredValue{{"base:level", "debug"}, {"other", "2"}}, out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "base: &base\n  level: debug\n---\nother: 2\n"; string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

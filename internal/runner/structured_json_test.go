package runner

import (
	"strings"
	"testing"
)

const appsettings = `{
  // Comments and layout survive.
  "Logging": {
    "LogLevel": { "Default": "Information" }
  },
  "Port": 8080,
  "Ratio": 1.5,
  "Debug": true,
  "Nothing": null,
  "Servers": [
    { "Host": "a", "Port": 1 },
    { "Host": "b", "Port": 2 }
  ],
  "Weather": {
    "url": "dev",
    "key": "DEV"
  },
  "Tags": ["x", "y"],
  "OctopusServer": { "WebPort": "80" },
  "Octopus": { "Url": "old" },
}
`

func TestJSONReplacesValuesByKeyPathKeepingEverythingElse(t *testing.T) {
	cases := []struct {
		name    string
		vars    []Variable
		changes []string // old, new pairs applied to the input
		warning string
	}{
		{"nested value, names ignore case", []Variable{{Name: "logging:loglevel:DEFAULT", Value: "Warning"}},
			[]string{`"Default": "Information"`, `"Default": "Warning"`}, ""},
		{"a number stays a number", []Variable{{Name: "Port", Value: "80"}},
			[]string{`"Port": 8080`, `"Port": 80`}, ""},
		{"a number that is not one becomes a string", []Variable{{Name: "Port", Value: "eighty"}},
			[]string{`"Port": 8080`, `"Port": "eighty"`}, ""},
		{"a float stays a number", []Variable{{Name: "Ratio", Value: "2.25"}},
			[]string{`"Ratio": 1.5`, `"Ratio": 2.25`}, ""},
		{"a boolean stays a boolean", []Variable{{Name: "Debug", Value: "False"}},
			[]string{`"Debug": true`, `"Debug": false`}, ""},
		{"a boolean that is not one becomes a string", []Variable{{Name: "Debug", Value: "maybe"}},
			[]string{`"Debug": true`, `"Debug": "maybe"`}, ""},
		{"null becomes a string", []Variable{{Name: "Nothing", Value: "5"}},
			[]string{`"Nothing": null`, `"Nothing": "5"`}, ""},
		{"array index", []Variable{{Name: "Servers:1:Host", Value: "c"}, {Name: "Servers:0:Port", Value: "10"}},
			[]string{`"Host": "b"`, `"Host": "c"`, `"Host": "a", "Port": 1`, `"Host": "a", "Port": 10`}, ""},
		{"a whole object from a JSON value, indented like the file", []Variable{{Name: "Weather", Value: `{"url":"test","key":"TEST"}`}},
			[]string{"{\n    \"url\": \"dev\",\n    \"key\": \"DEV\"\n  }", "{\n    \"url\": \"test\",\n    \"key\": \"TEST\"\n  }"}, ""},
		{"a whole array", []Variable{{Name: "Tags", Value: ` ["a", "b", "c"] `}},
			[]string{`["x", "y"]`, `["a","b","c"]`}, ""},
		{"replacing the whole wins over replacing a part", []Variable{{Name: "Weather:url", Value: "lost"}, {Name: "Weather", Value: `[]`}},
			[]string{"{\n    \"url\": \"dev\",\n    \"key\": \"DEV\"\n  }", "[]"}, ""},
		{"an object replaced by what is not JSON is kept, with a warning", []Variable{{Name: "Weather", Value: "not json"}},
			nil, `unable to set the value of "Weather": it replaces a JSON object, and its value is not JSON`},
		{"strings are escaped as JSON, but not for HTML", []Variable{{Name: "Logging:LogLevel:Default", Value: `a "quoted" <b> & \ `}},
			[]string{`"Default": "Information"`, `"Default": "a \"quoted\" <b> & \\ "`}, ""},
		{"Octopus system variables are skipped", []Variable{{Name: "OctopusServer:WebPort", Value: "8080"}},
			nil, ""},
		{"but Octopus: is a path", []Variable{{Name: "Octopus:Url", Value: "new"}},
			[]string{`"Url": "old"`, `"Url": "new"`}, ""},
		{"no match changes nothing", []Variable{{Name: "Missing:Key", Value: "x"}, {Name: "Port:0", Value: "x"}},
			nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, log := newTestOutput()
			got, applied, err := replaceJSON([]byte(appsettings), structuredValues(newVariableSet(c.vars), out), out)
			if err != nil {
				t.Fatal(err)
			}
			want := appsettings
			for i := 0; i+1 < len(c.changes); i += 2 {
				if !strings.Contains(want, c.changes[i]) {
					t.Fatalf("test input lacks %q", c.changes[i])
				}
				want = strings.Replace(want, c.changes[i], c.changes[i+1], 1)
			}
			if string(got) != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			if len(c.changes) == 0 && len(applied) != 0 {
				t.Errorf("reported %q as applied", applied)
			}
			if c.warning != "" && !strings.Contains(log.String(), c.warning) {
				t.Errorf("output lacks %q:\n%s", c.warning, log)
			}
		})
	}
}

func TestJSONRootArrayAndDuplicateKeys(t *testing.T) {
	out, _ := newTestOutput()
	got, _, err := replaceJSON([]byte(`[{"a": 1, "A": 2}]`), []structuredValue{{"0:a", "3"}}, out)
	if err != nil {
		t.Fatal(err)
	}
	// The later of two keys differing in case wins, as in Json.NET.
	if want := `[{"a": 1, "A": 3}]`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestJSONParseErrorsSayWhere(t *testing.T) {
	out, _ := newTestOutput()
	_, _, err := replaceJSON([]byte("{\n  \"a\": 1\n  \"b\": 2\n}"), nil, out)
	if err == nil || err.Error() != "line 3, column 3: expected ',' or '}'" {
		t.Fatalf("error %v", err)
	}
}

func TestJSONWithAByteOrderMarkAndBlockComments(t *testing.T) {
	src := "\uFEFF/* header */ {\"a\": /* inline */ \"x\", \"n\": -1.5e3}"
	out, _ := newTestOutput()
	got, _, err := replaceJSON([]byte(src), []structuredValue{{"a", "y"}, {"n", "1e2"}}, out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "\uFEFF/* header */ {\"a\": /* inline */ \"y\", \"n\": 1e2}"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

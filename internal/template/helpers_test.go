package template

import (
	"strings"
	"testing"
	"time"
)

// testVars is a case-insensitive Lookup that lists names in the order they
// were given, like Octopus's variable dictionary.
type testVars struct {
	names []string
	m     map[string]string
}

// vars builds a testVars from name, value pairs.
func vars(kv ...string) *testVars {
	v := &testVars{m: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		key := strings.ToLower(kv[i])
		if _, dup := v.m[key]; !dup {
			v.names = append(v.names, kv[i])
		}
		v.m[key] = kv[i+1]
	}
	return v
}

func (v *testVars) Get(name string) (string, bool) {
	s, ok := v.m[strings.ToLower(name)]
	return s, ok
}

func (v *testVars) Names() []string { return v.names }

// fixedNow is 2030-05-22 09:05:03.1234567 in a +02:00 zone.
func fixedNow() time.Time {
	return time.Date(2030, 5, 22, 9, 5, 3, 123456700, time.FixedZone("CEST", 2*3600))
}

var testOptions = Options{Now: fixedNow}

type renderCase struct {
	name string
	in   string
	vars *testVars
	want string
}

func runRenderCases(t *testing.T, cases []renderCase, opts Options) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.vars
			if v == nil {
				v = vars()
			}
			got, err := Evaluate(tc.in, v, opts)
			if err != nil {
				t.Fatalf("Evaluate(%q) error: %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("Evaluate(%q)\n got: %q\nwant: %q", tc.in, got, tc.want)
			}
		})
	}
}

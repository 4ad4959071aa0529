package runner

import (
	"bytes"
	"strings"
	"testing"
)

func TestLineWriterPassesWholeLinesAndSplitsEndlessOnes(t *testing.T) {
	var b bytes.Buffer
	out := newOutput(&b, &b)
	var seen []string
	w := &lineWriter{out: out, w: &b, onLine: func(l string) { seen = append(seen, l) }}
	w.Write([]byte("one\r\ntw"))
	w.Write([]byte("o\nthree"))
	w.Write([]byte(strings.Repeat("x", maxLineBytes)))
	w.Flush()
	want := "one\ntwo\nthree" + strings.Repeat("x", maxLineBytes-len("three")) + "\nxxxxx\n"
	if b.String() != want {
		t.Errorf("wrote %q…", b.String()[:min(b.Len(), 40)])
	}
	if len(seen) != 4 || seen[1] != "two" {
		t.Errorf("saw %d lines", len(seen))
	}
}

func TestParseSetVariable(t *testing.T) {
	cases := []struct {
		line, name, value string
		ok                bool
	}{
		{"##octopus[setVariable name='QQ==' value='Qg==']", "A", "B", true},
		{"  ##pulpo[setvariable name='QQ==' value='Qg==' sensitive='VHJ1ZQ==']", "A", "B", true},
		{"##octopus[stdout-verbose]", "", "", false},
		{"##octopus[setVariable name='not base64!']", "", "", false},
		{"echo ##octopus[setVariable name='QQ==']", "", "", false},
	}
	for _, c := range cases {
		name, value, ok := parseSetVariable(c.line)
		if name != c.name || value != c.value || ok != c.ok {
			t.Errorf("%q: got %q, %q, %v", c.line, name, value, ok)
		}
	}
}

package template

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParseRender checks that no template or variable value makes Parse or
// Render panic or hang, that errors are *Error with a position, and that
// rendering is deterministic. Under plain "go test" only the seeds run.
func FuzzParseRender(f *testing.F) {
	for _, seed := range []string{
		"", "plain text", "#{Foo}", "##{Foo}", "###{Foo}", "#{", "#{Foo", "}#{A}#{B}", "#{#{A}}",
		"#{Foo | ToUpper | Substring 1 2}", `#{Foo | Replace "(a)" "$1$1"}`, `#{Foo | Format \"#,##0.00\"}`,
		"#{Octopus.Action[#{Step}].Output[x[0]].Name}", "#{X[*].Y}", "#{J.Sizes[0].price}", "#{J[Name]}",
		"#{if A}a#{elseif B}b#{else}c#{/if}", `#{if A == "x"}y#{/if}`, "#{unless A != B}u#{/unless}",
		"#{each e in G}#{e}:#{e.Name}#{each f in e.List}#{f}#{Octopus.Template.Each.Index}#{/each}#{/each}",
		"#{each x in J}#{x.Key}=#{x.Value}#{/each}", "#{calc (A + 2) * {B-C} / 3}", "#{calc 1/0}",
		"#{ | NowDate \"yyyy-MM-dd\"}", "#{Cycle}", "#{Deep}", "#{if A}", "#{/if}", "#{else}", "#{A | Nope}",
		"#{V | VersionPreRelease}", "#{U | UriPart Host}", "#{D | Format DateTime \"o\"}", "#{D | AddDays 2}",
		"#{A | Append #{if B}x#{/if} #{calc 1+1} #{each q in L}#{q}#{/each}}", "#{Foo | Indent 2/3}",
		strings.Repeat("#{if A}", 50) + strings.Repeat("#{/if}", 50), strings.Repeat("[", 100),
		strings.Repeat("#{A | F #{if B}", 8) + "x" + strings.Repeat("#{/if} +", 8), `#{a | F \"` + "#{a[",
	} {
		f.Add(seed, `{"a": [1, {"b": "#{X}"}], "c": "#{Cycle}"}`)
		f.Add(seed, "#{Value}#{X}")
	}
	opts := Options{Now: fixedNow, maxOutput: 1 << 20, maxIterations: 20000}
	f.Fuzz(func(t *testing.T, text, value string) {
		v := vars(
			"A", "1", "B", "False", "C", "2", "Step", "S", "Foo", "Hello #{A}",
			"Octopus.Action[S].Output[x[0]].Name", "n", "X[a].Y", "#{A}", "X[b].Y", "2",
			"J", `{Name: "t", Sizes: [{price: 1.5}], "o": {"k": "v"}}`,
			"G[one].Name", "1", "G[one].List", "a,b", "G[two].Name", "#{Value}", "L", "x,y,z",
			"Cycle", "#{Loop}", "Loop", "#{Cycle}", "Deep", "#{J.o.k}#{X[*].Y}",
			"V", "1.2.3-beta.1+m", "U", "https://example.com:8443/a?b#c", "D", "2030-05-22T09:05:00Z",
			"Value", value, "Self", "#{Value}#{Self}",
		)
		type result struct {
			out string
			err error
		}
		run := func() result {
			done := make(chan result, 1)
			go func() {
				tmpl, err := Parse(text)
				if err != nil {
					done <- result{err: err}
					return
				}
				out, err := tmpl.Render(v, opts)
				done <- result{out, err}
			}()
			// Inputs are small, so anything slow is a complexity bug (an
			// exponential parse once hid here by finishing eventually).
			start := time.Now()
			select {
			case r := <-done:
				if d := time.Since(start); d > 2*time.Second {
					t.Fatalf("took %v: text %q, value %q", d, text, value)
				}
				return r
			case <-time.After(10 * time.Second):
				t.Fatalf("rendering did not finish: text %q, value %q", text, value)
				return result{}
			}
		}
		first := run()
		if first.err != nil {
			var e *Error
			if !errors.As(first.err, &e) {
				t.Fatalf("error %T is not *Error: %v", first.err, first.err)
			}
			if e.Line < 1 || e.Column < 1 {
				t.Fatalf("error without a position: %+v", *e)
			}
		}
		if !strings.Contains(text, "#{") && first.err == nil && first.out != text {
			t.Fatalf("text without tags changed: %q -> %q", text, first.out)
		}
		if second := run(); second.out != first.out || (second.err == nil) != (first.err == nil) {
			t.Fatalf("rendering is not deterministic: %q/%v then %q/%v", first.out, first.err, second.out, second.err)
		}
	})
}

// Hostile inputs that once took exponential or quadratic time: tags that
// turn out to be text are scanned again from inside, so their contents must
// not be parsed again per enclosing level, nor searched again to the end.
func TestPathologicalInputsParseQuickly(t *testing.T) {
	for name, text := range map[string]string{
		"nested failing tags with blocks": strings.Repeat("#{A | F #{if B}", 40) + "x" + strings.Repeat("#{/if} +", 40),
		"unterminated escaped quotes":     strings.Repeat(`#{a | F \"`, 20000) + strings.Repeat("x", 200000),
		"unbalanced brackets":             strings.Repeat("#{a[", 50000) + strings.Repeat("y", 200000),
		"unclosed tags":                   strings.Repeat("#{a ", 50000) + strings.Repeat("z", 200000),
		"nested arguments":                strings.Repeat("#{A | Append ", 150) + "x" + strings.Repeat(" +}", 150),
	} {
		start := time.Now()
		_, err := Evaluate(text, vars("A", "1", "B", "1"), testOptions)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %v (error %v)", name, d, err)
		}
	}
}

package template

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrors(t *testing.T) {
	cycle := vars("A", "#{B}", "B", "#{A}")
	for _, tc := range []struct {
		name         string
		in           string
		vars         *testVars
		line, column int
		variable     string
		msg          string // the message must contain this
	}{
		{"unclosed if", "#{if A}x", nil, 1, 1, "", "unclosed #{if}: no matching #{/if}"},
		{"unclosed if on line 2", "line one\n  #{if A}\nbody", nil, 2, 3, "", "unclosed #{if}"},
		{"unclosed if after else", "#{if A}x#{else}y", nil, 1, 1, "", "unclosed #{if}"},
		{"unclosed unless", "#{unless A}x", nil, 1, 1, "", "unclosed #{unless}: no matching #{/unless}"},
		{"unclosed each", "a\n#{each a in B}x", nil, 2, 1, "", "unclosed #{each}: no matching #{/each}"},
		{"unclosed inner if", "#{if A}#{if B}x#{/if}", nil, 1, 1, "", "unclosed #{if}"},
		{"stray end if", "x#{/if}", nil, 1, 2, "", "#{/if} without a matching #{if}"},
		{"stray end unless", "#{/unless}", nil, 1, 1, "", "#{/unless} without a matching #{unless}"},
		{"stray end each", "ok\n #{/each}", nil, 2, 2, "", "#{/each} without a matching #{each}"},
		{"stray else", "#{else}", nil, 1, 1, "", "#{else} outside #{if}"},
		{"stray elseif", "#{elseif A}", nil, 1, 1, "", "#{elseif} outside #{if}"},
		{"wrong end", "#{if A}#{/each}", nil, 1, 8, "", "#{/each} found while #{if} opened at line 1, column 1 is still open"},
		{"end if in each", "#{each a in B}#{/if}", nil, 1, 15, "", "#{/if} found while #{each} opened"},
		{"else in each", "#{each a in B}#{else}#{/each}", nil, 1, 15, "", "#{else} found while #{each} opened"},
		{"else twice", "#{if A}a#{else}b#{else}c#{/if}", nil, 1, 17, "", "#{else} after #{else}"},
		{"elseif in unless", "#{unless A}a#{elseif B}b#{/unless}", nil, 1, 13, "", "#{elseif} cannot be used inside #{unless}"},
		{"unknown filter", "#{Foo | ToBazooka}", nil, 1, 9, "", `unknown filter "ToBazooka"`},
		{"unknown filter in chain", "x\n#{Foo | ToUpper | NoSuch 6}", nil, 2, 19, "", `unknown filter "NoSuch"`},
		{"unknown filter in if", "#{if Greeting | NonExistingFunction}x#{/if}", nil, 1, 17, "", `unknown filter "NonExistingFunction"`},
		{"unknown filter in argument", "#{A | Append #{B | Nope}}", nil, 1, 20, "", `unknown filter "Nope"`},
		{"unsupported filter", "#{Foo | Markdown}", nil, 1, 9, "", `filter "Markdown" is not supported`},
		{"unsupported markdown to html", "#{Foo | MarkdownToHtml}", nil, 1, 9, "", `filter "MarkdownToHtml" is not supported`},
		{"calc missing operand", "#{calc 3 +}", nil, 1, 11, "", `bad #{calc} expression "3 +"`},
		{"calc unclosed parenthesis", "#{calc (1+2}", nil, 1, 12, "", `bad #{calc} expression "(1+2"`},
		{"calc junk", "#{calc 2abc}", nil, 1, 9, "", `bad #{calc} expression "2abc"`},
		{"calc empty", "#{calc }", nil, 1, 8, "", "bad #{calc} expression"},
		{"if without condition", "#{if }x#{/if}", nil, 1, 1, "", "malformed #{if}"},
		{"if with dangling ==", "#{if A == }x#{/if}", nil, 1, 1, "", "malformed #{if}"},
		{"if with two literals", `#{if "a" == "b"}x#{/if}`, nil, 1, 1, "", "malformed #{if}"},
		{"unless junk", "#{unless A B ==}x#{/unless}", nil, 1, 1, "", "malformed #{unless}"},
		{"elseif without condition", "#{if A}a#{elseif  }b#{/if}", nil, 1, 9, "", "malformed #{elseif}"},
		{"each without in", "#{each a of B}#{/each}", nil, 1, 1, "", "malformed #{each}"},
		{"each without item", "#{each in B}#{/each}", nil, 1, 1, "", "malformed #{each}"},
		{"each with filter", "#{each a in B | ToUpper}#{/each}", nil, 1, 1, "", "malformed #{each}"},
		// The 200th #{if} is allowed; its condition is one level too deep.
		{"nested too deep", strings.Repeat("#{if A}", 300), nil, 1, 1 + 7*199 + 5, "", "template nested more than 200 levels deep"},
		{"calc nested too deep", "#{calc " + strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300) + "}", nil, 1, 8 + 199, "", "template nested more than 200 levels deep"},
		// Reference cycles (UsageFixture.MaximumRecursionLimitException): the
		// error names the chain and the value where it closes.
		{"self reference", "#{Foo}", vars("Foo", "#{Foo}"), 1, 1, "Foo", "variable reference cycle: Foo -> Foo"},
		{"two variables", "#{A}", cycle, 1, 1, "B", "variable reference cycle: A -> B -> A"},
		{"four variables", "x #{Foo}", vars("Foo", "#{Fox}", "Fox", "#{Fax}", "Fax", "#{Fix}", "Fix", "ab #{Foo}"), 1, 4, "Fix", "Foo -> Fox -> Fax -> Fix -> Foo"},
		{"cycle through filter", "#{A | ToUpper}", vars("A", "#{B | ToLower}", "B", "#{A}"), 1, 1, "B", "A -> B -> A"},
		{"cycle in condition", "#{if A}x#{/if}", cycle, 1, 1, "B", "A -> B -> A"},
		{"cycle in each", "#{each x in A}#{/each}", cycle, 1, 1, "B", "A -> B -> A"},
		{"cycle in calc", "#{calc A + 1}", cycle, 1, 1, "B", "A -> B -> A"},
		{"cycle in index", "#{X[#{A}]}", cycle, 1, 1, "B", "A -> B -> A"},
		{"cycle through json", "#{Test.Name}", vars("Test", `{Name: "#{Test.Name}"}`), 1, 1, "Test.Name", "Test.Name -> Test.Name"},
		// Errors inside a variable's value name the variable.
		{"bad value", "#{V}", vars("V", "ok\n#{if X}"), 2, 1, "V", "unclosed #{if}"},
		{"unknown filter in value", "#{V}", vars("V", "#{X | Bogus}"), 1, 7, "V", `unknown filter "Bogus"`},
		// Regular expressions Go cannot run are reported, not ignored.
		{"unsupported regex", `#{A | Replace "(?<=a)b" x}`, vars("A", "ab"), 1, 7, "", `regular expression "(?<=a)b" is not supported`},
		{"bad regex in match", `#{A | Match "("}`, vars("A", "ab"), 1, 7, "", "is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.vars
			if v == nil {
				v = vars()
			}
			out, err := Evaluate(tc.in, v, testOptions)
			if err == nil {
				t.Fatalf("no error; output %q", out)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if e.Line != tc.line || e.Column != tc.column || e.Variable != tc.variable || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got %+v\nwant line %d, column %d, variable %q, message containing %q", *e, tc.line, tc.column, tc.variable, tc.msg)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Error() = %q lacks %q", err.Error(), tc.msg)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{Line: 3, Column: 7, Msg: "unclosed #{if}: no matching #{/if}"}
	if got, want := e.Error(), "line 3, column 7: unclosed #{if}: no matching #{/if}"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e.Variable = "Octopus.Action[A].Name"
	if got, want := e.Error(), `in the value of variable "Octopus.Action[A].Name": line 3, column 7: unclosed #{if}: no matching #{/if}`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLimits(t *testing.T) {
	small := Options{Now: fixedNow, maxOutput: 1000, maxIterations: 50}
	for _, tc := range []struct {
		name, in, msg string
		vars          *testVars
	}{
		{"output", "#{A}#{A}", "output exceeds 1000 bytes", vars("A", strings.Repeat("x", 600))},
		{"iterations", "#{each a in L}#{each b in L}#{/each}#{/each}", "more than 50 #{each} iterations", vars("L", "1,2,3,4,5,6,7,8")},
	} {
		_, err := Evaluate(tc.in, tc.vars, small)
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Msg, tc.msg) || e.Line != 1 {
			t.Errorf("%s: got %v, want an *Error containing %q", tc.name, err, tc.msg)
		}
	}
}

func TestExpansionDepthLimit(t *testing.T) {
	chain := vars()
	for i := 0; i <= maxExpansionDepth+1; i++ {
		chain.m[strings.ToLower(fmt.Sprintf("V%d", i))] = fmt.Sprintf("#{V%d}", i+1)
	}
	_, err := Evaluate("#{V0}", chain, testOptions)
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Msg, "more than 1000 levels deep") || e.Variable != "V999" {
		t.Errorf("got %v, want a depth error in the value of V999", err)
	}
}

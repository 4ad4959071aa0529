package template

import (
	"strings"
	"testing"
)

// filterCases renders "#{foo | <filter>}" with foo set to input.
type filterCase struct {
	input  string // value of foo
	filter string // what follows "foo | "
	want   string
}

func runFilterCases(t *testing.T, cases []filterCase) {
	t.Helper()
	for _, c := range cases {
		tmpl := "#{foo | " + c.filter + "}"
		t.Run(tmpl+"/"+c.input, func(t *testing.T) {
			got, err := Evaluate(tmpl, vars("foo", c.input), testOptions)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if got != c.want {
				t.Errorf("%s with foo=%q\n got: %q\nwant: %q", tmpl, c.input, got, c.want)
			}
		})
	}
}

// echo is what a filter that cannot apply leaves: the tag as written.
func echo(filter string) string { return "#{foo | " + filter + "}" }

func TestCaseFilters(t *testing.T) {
	runFilterCases(t, []filterCase{
		// variable-filters.md, core filters
		{"Automated Deployment", "ToLower", "automated deployment"},
		{"Automated Deployment", "ToUpper", "AUTOMATED DEPLOYMENT"},
		{"Abc", "toupper", "ABC"}, // names ignore case
		{"Abc", "ToUpper | ToLower", "abc"},
		{"Abc", "ToUpper x", echo("ToUpper x")}, // takes no arguments
	})
	// FiltersFixture.WhiteSpacesAreIgnored
	for _, in := range []string{"#{Foo|ToUpper}", "#{Foo | ToUpper}", "#{Foo  | ToUpper}", "#{Foo |  ToUpper}", "#{ Foo | ToUpper}", "#{  Foo | ToUpper}", "#{Foo | ToUpper }", "#{Foo | ToUpper  }"} {
		if got, err := Evaluate(in, vars("Foo", "Abc"), testOptions); err != nil || got != "ABC" {
			t.Errorf("%s = %q, %v", in, got, err)
		}
	}
	// FiltersFixture.UnmatchedSubstitutionsAreEchoed
	for _, in := range []string{"#{foo | ToUpper}", "#{Foo.Bar | HtmlEscape}", "#{Foo.Bar | ToUpper}"} {
		if got, err := Evaluate(in, vars(), testOptions); err != nil || got != in {
			t.Errorf("%s = %q, %v", in, got, err)
		}
	}
}

func TestEncodingFilters(t *testing.T) {
	runFilterCases(t, []filterCase{
		// FiltersFixture.StringsCanBeBase64Encoded, UsageFixture.BasicExamples
		{"Foo Bar", "ToBase64", "Rm9vIEJhcg=="},
		{"Baz", "ToBase64", "QmF6"},
		{"Baz", "ToBase64 unicode", "QgBhAHoA"},
		{"Baz", "ToBase64 utf-8", "QmF6"},
		{"Baz", "ToBase64 ascii", echo("ToBase64 ascii")},
		{"QmF6", "FromBase64", "Baz"},
		{"QgBhAHoA", "FromBase64 unicode", "Baz"},
		{"QmF6\n", "FromBase64", "Baz"},
		{"not base64!", "FromBase64", echo("FromBase64")},
		{"Bar", "ToBase64 | FromBase64", "Bar"},
		// Md5/Sha* (FiltersFixture hash tests)
		{"", "Md5", "d41d8cd98f00b204e9800998ecf8427e"},
		{"The quick brown fox jumps over the lazy dog", "Md5", "9e107d9d372bb6826bd81d3542a419d6"},
		{"The quick brown fox jumps over the lazy dog", "Md5 3", "9e107d"},
		{"The quick brown fox jumps over the lazy dog", "Md5 unicode", "b0986ae6ee1eefee8a4a399090126837"},
		{"VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcyBvdmVyIHRoZSBsYXp5IGRvZw==", "Md5 base64", "9e107d9d372bb6826bd81d3542a419d6"},
		{"The quick brown fox jumps over the lazy dog.", "Md5 utf8 2", "e4d9"},
		{"The quick brown fox jumps over the lazy dog.", "Md5 2 utf8", "e4d9"},
		{"The quick brown fox jumps over the lazy dog", "Sha1", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
		{"The quick brown fox jumps over the lazy dog", "Sha256", "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"},
		{"", "Sha384 4", "38b060a7"},
		{"", "Sha512 4", "cf83e135"},
		{"bar", "Md5 0", echo("Md5 0")},
		{"bar", "Md5 -1", echo("Md5 -1")},
		{"bar", "Md5 bar", echo("Md5 bar")},
		{"bar", "Md5 utf8 12 extra", echo("Md5 utf8 12 extra")},
		{"bar", "Md5 base64", echo("Md5 base64")},
	})
	if got, _ := Evaluate("#{ | Md5}", vars(), testOptions); got != "#{ | Md5}" {
		t.Errorf("hash without input = %q", got)
	}
}

func TestEscapeFilters(t *testing.T) {
	runFilterCases(t, []filterCase{
		// FiltersFixture.HtmlIsEscaped, variable-filters.md
		{"A&'bc", "HtmlEscape", "A&amp;&apos;bc"},
		{"", "HtmlEscape", ""},
		{"You & I", "HtmlEscape", "You &amp; I"},
		{"1 < 2", "HtmlEscape", "1 &lt; 2"},
		{`<a href="/x">`, "HtmlEscape", "&lt;a href=&quot;&#x2F;x&quot;&gt;"},
		// FiltersFixture.XmlIsEscaped
		{"A&'bc", "XmlEscape", "A&amp;&apos;bc"},
		{`<a href="/x">`, "XmlEscape", "&lt;a href=&quot;/x&quot;&gt;"},
		// FiltersFixture.JsonIsEscaped, variable-filters.md
		{"Test\"Test", "JsonEscape", `Test\"Test`},
		{"Test\rTest", "JsonEscape", `Test\rTest`},
		{"Test\nTest", "JsonEscape", `Test\nTest`},
		{"Test\tTest", "JsonEscape", `Test\tTest`},
		{`Test\Test`, "JsonEscape", `Test\\Test`},
		{`He said "Hello!"`, "JsonEscape", `He said \"Hello!\"`},
		{`C:\Octopus\Work`, "JsonEscape", `C:\\Octopus\\Work`},
		// FiltersFixture.YamlSingleQuoteIsEscaped
		{"single'quote", "YamlSingleQuoteEscape", "single''quote"},
		{`\'`, "YamlSingleQuoteEscape", `\''`},
		{"a\n\tb\n\tc\n\td", "YamlSingleQuoteEscape", "a\n\n\tb\n\n\tc\n\n\td"},
		{"a\r\nb", "YamlSingleQuoteEscape", "a\r\n\r\nb"},
		{"a\n\r\nb", "YamlSingleQuoteEscape", "a\n\n\r\nb"},
		{"", "YamlSingleQuoteEscape", ""},
		{"The bee's knees", "YamlSingleQuoteEscape", "The bee''s knees"},
		// FiltersFixture.YamlDoubleQuoteIsEscaped
		{`double"quote`, "YamlDoubleQuoteEscape", `double\"quote`},
		{`\`, "YamlDoubleQuoteEscape", `\\`},
		{"\t", "YamlDoubleQuoteEscape", `\t`},
		{"\r\n", "YamlDoubleQuoteEscape", `\r\n`},
		{"a\n\tb", "YamlDoubleQuoteEscape", `a\n\tb`},
		{"single'quote", "YamlDoubleQuoteEscape", "single'quote"},
		{"我叫章鱼", "YamlDoubleQuoteEscape", `\u6211\u53eb\u7ae0\u9c7c`},
		{"🐙", "YamlDoubleQuoteEscape", `\ud83d\udc19`},
		{`"Hello"\Goodbye`, "YamlDoubleQuoteEscape", `\"Hello\"\\Goodbye`},
		// FiltersFixture.PropertiesKeyIsEscaped
		{" ", "PropertiesKeyEscape", `\ `},
		{":", "PropertiesKeyEscape", `\:`},
		{"=", "PropertiesKeyEscape", `\=`},
		{`\`, "PropertiesKeyEscape", `\\`},
		{" a \n b ", "PropertiesKeyEscape", `\ a\ \n\ b\ `},
		{"我叫章鱼", "PropertiesKeyEscape", `\u6211\u53eb\u7ae0\u9c7c`},
		{"÷ü", "PropertiesKeyEscape", "÷ü"},
		{"Hey: x=y", "PropertiesKeyEscape", `Hey\:\ x\=y`},
		// FiltersFixture.PropertiesValueIsEscaped
		{":", "PropertiesValueEscape", ":"},
		{"=", "PropertiesValueEscape", "="},
		{" ", "PropertiesValueEscape", `\ `},
		{"a ", "PropertiesValueEscape", "a "},
		{" a \n b ", "PropertiesValueEscape", `\ a \n b `},
		{"\r\t", "PropertiesValueEscape", `\r\t`},
		{"我叫章鱼", "PropertiesValueEscape", `\u6211\u53eb\u7ae0\u9c7c`},
		{`a\b=c`, "PropertiesValueEscape", `a\\b=c`},
		// FiltersFixture.UriStringsAreEncoded / UriDataStringsAreEncoded
		{"A b:c+d/e", "UriEscape", "A%20b:c+d/e"},
		{"", "UriEscape", ""},
		{"a%b é", "UriEscape", "a%25b%20%C3%A9"},
		{"A b:c+d/e", "UriDataEscape", "A%20b%3Ac%2Bd%2Fe"},
		{"~a-b_c.d", "UriDataEscape", "~a-b_c.d"},
		{"x", "HtmlEscape extra", echo("HtmlEscape extra")},
	})
}

func TestComparisonFilters(t *testing.T) {
	runFilterCases(t, []filterCase{
		// FiltersFixture.Match and variable-filters.md
		{"abc def", "Match abc", "true"},
		{"abc def", "Match cba", "false"},
		{"abc def", "Match", echo("Match")},
		{"abc def", "Match a b", echo("Match a b")},
		{"abc def", "Match ABC", "false"},
		{"abc def", `Match "abc def"`, "true"},
		{"abc'def", `Match "abc'def"`, "true"},
		{"abc def", `Match ".*"`, "true"},
		{"abc def1", `Match "[0-9]+"`, "true"},
		{"abc(def", `Match "c\(d"`, "true"},
		{"ab12c3", `Match "ab[0-9]+"`, "true"},
		// FiltersFixture.StartsWith / EndsWith / Contains and variable-filters.md
		{"abc def", "StartsWith abc", "true"},
		{"abc def", "StartsWith bc", "false"},
		{"abc def", "StartsWith", echo("StartsWith")},
		{"abc def", "StartsWith a b", echo("StartsWith a b")},
		{"abc def", "StartsWith ABC", "false"},
		{"abc def", `StartsWith "abc d"`, "true"},
		{"abc def", "EndsWith def", "true"},
		{"abc def", "EndsWith de", "false"},
		{"abc def", "EndsWith DEF", "false"},
		{"abc def", `EndsWith "c def"`, "true"},
		{"abc def", "Contains de", "true"},
		{"abc def", "Contains ed", "false"},
		{"abc def", "Contains ABC", "false"},
		{"a b(c", `Contains " b("`, "true"},
		{"abc'def", `Contains "'de"`, "true"},
	})
	// Arguments from variables (FiltersFixture.*WithVariableOptions, variable-filters.md)
	v := vars("foo", "abc def", "regex", "def", "str", "c d", "q", `a"b"c`, "inner", `"b"`)
	for in, want := range map[string]string{
		"#{foo | Match #{regex}}":    "true",
		"#{foo | StartsWith #{str}}": "false",
		"#{foo | Contains #{str}}":   "true",
		"#{q | Contains #{inner}}":   "true",
	} {
		if got, err := Evaluate(in, v, testOptions); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestTextFilters(t *testing.T) {
	runFilterCases(t, []filterCase{
		// FiltersFixture Replace tests and variable-filters.md Replace table
		{"abc", "Replace abc def", "def"},
		{"abc", "Replace a", "bc"},
		{"abc", "Replace", echo("Replace")},
		{"ABC", "Replace abc def", "ABC"},
		{"ab c", `Replace "ab c" "d ef"`, "d ef"},
		{"a'b", `Replace "a'b" "d'e"`, "d'e"},
		{"a'b", `Replace "[a-z]+" 1`, "1'1"},
		{"a(b", `Replace "a\(b" "d(e"`, "d(e"},
		{"opuocts", `Replace "o(.+)o([a-z]*)s" "o$2o$1s"`, "octopus"},
		{"ababa", `Replace "a" x`, "xbxbx"},
		{"ababa", `Replace "^a" x`, "xbaba"},
		{"ababa", `Replace "a$" x`, "ababx"},
		{"abc", "Replace b", "ac"},
		{"abc", "Replace b X", "aXc"},
		{"a b c", `Replace "a b" X`, "X c"},
		{"ab12c3", `Replace "[0-9]+" X`, "abXcX"},
		{"abc", `Replace "(.)b(.)" "$2X$1" `, "cXa"},
		// variable-filters.md lists a\\b here, but in .NET replacement text only
		// "$" is special, so the four backslashes are inserted as they are.
		{`a\b`, `Replace "\\" "\\\\"`, `a\\\\b`},
		{"abc", `Replace "(?<mid>b)" "[${mid}$$$&$1x]"`, "a[b$bbx]c"},
		{"abc", `Replace b "$9"`, "a$9c"}, // no group 9: literal
		// FiltersFixture Substring tests, variable-filters.md
		{"ababa", "Substring", echo("Substring")},
		{"ababa", "Substring 1 2 3", echo("Substring 1 2 3")},
		{"Octopus Deploy", "Substring 7", "Octopus"},
		{"Octopus Deploy", "Substring 8 6", "Deploy"},
		{"Octopus Deploy", "Substring 2 3", "top"},
		{"Octopus Deploy", "Substring a", echo("Substring a")},
		{"Octopus Deploy", "Substring 0 a", echo("Substring 0 a")},
		{"Octopus Deploy", "Substring 20", "Octopus Deploy"},
		{"Octopus Deploy", "Substring 14 5", ""},
		{"Octopus Deploy", "Substring 8 7", "Deploy"},
		{"Octopus Deploy", "Substring -1", echo("Substring -1")},
		{"Octopus Deploy", "Substring 0 -1", echo("Substring 0 -1")},
		{"Octopus Deploy", "Substring 20 5", echo("Substring 20 5")},
		{"Octopus Deploy", "Substring 8 | Trim", "Octopus"},
		{"我叫章鱼", "Substring 1 2", "叫章"},
		// FiltersFixture Truncate tests, variable-filters.md
		{"Octopus Deploy", "Truncate", echo("Truncate")},
		{"Octopus Deploy", "Truncate 50", "Octopus Deploy"},
		{"Octopus Deploy", "Truncate a", echo("Truncate a")},
		{"Octopus Deploy", "Truncate -1", echo("Truncate -1")},
		{"Octopus Deploy", "Truncate 7", "Octopus..."},
		{"Octopus Deploy", `Truncate 7 "<|>"`, "Octopus<|>"},
		{"Octopus Deploy", `Truncate 7 ""`, "Octopus"},
		{"Octopus Deploy", `Truncate 50 "<|>"`, "Octopus Deploy"},
		{"abc", "Truncate 7", "abc"},
		// FiltersFixture Trim tests, variable-filters.md
		{" Octopus Deploy ", "Trim", "Octopus Deploy"},
		{" Octopus Deploy ", "Trim start", "Octopus Deploy "},
		{" Octopus Deploy ", "Trim End", " Octopus Deploy"},
		{"Octopus Deploy", "Trim Both", echo("Trim Both")},
		{"\t\n Bar \u00a0", "Trim", "Bar"},
		// FiltersFixture Indent tests
		{"", "Indent", ""},
		{"Octopus Deploy", "Indent", "    Octopus Deploy"},
		{"A\nB\nC", "Indent", "    A\n    B\n    C"},
		{"A\nB\nC", "Indent 2", "  A\n  B\n  C"},
		{"A\nB\nC", "Indent /3", "A\n   B\n   C"},
		{"A\nB\nC", "Indent 3/2", "   A\n  B\n  C"},
		{"A\nB\nC", "Indent //", "//A\n//B\n//C"},
		{"A\nB\nC", `Indent "/* " " * "`, "/* A\n * B\n * C"},
		{"A\nB", "Indent 255", strings.Repeat(" ", 255) + "A\n" + strings.Repeat(" ", 255) + "B"},
		{"A\nB", "Indent 256", "256A\n256B"},
		{"A\nB", "Indent /256", "/256A\n/256B"},
		{"A\nB", "Indent 256/3", "256/3A\n256/3B"},
		{"foo", "Indent abc 123 def", echo("Indent abc 123 def")},
		{"A\nB", `Indent \"# \"`, "# A\n# B"},
		// FiltersFixture Append / Prepend tests
		{"bar", "Append value", "barvalue"},
		{"bar", "Append value1 value2", "barvalue1value2"},
		{"bar", `Append value1 " " value2`, "barvalue1 value2"},
		{"bar", `Append " " #{foo} " " value`, "bar bar value"},
		{"bar", "Append", echo("Append")},
		{"bar", "Prepend value", "valuebar"},
		{"bar", `Prepend " " #{foo} " " value`, " bar valuebar"},
		{"bar", "Prepend", echo("Prepend")},
	})
	if got, _ := Evaluate("#{|Append foo}#{|Prepend bar}#{ | Append}", vars(), testOptions); got != "foobar#{ | Append}" {
		t.Errorf("append without input = %q", got)
	}
	// Replace with arguments from variables (FiltersFixture, variable-filters.md)
	v := vars("foo", "abc", "regex", "b", "replacement", "x", "match", "b", "replace", "_", "q", `a"b`, "rq", `a"`, "rr", `"c`)
	for in, want := range map[string]string{
		"#{foo | Replace #{regex}#{replacement}}": "axc",
		"#{foo | Replace #{match} #{replace}}":    "a_c",
		"#{foo | Replace #{match} _}":             "a_c",
		"#{q | Replace #{rq}#{rr}}":               `"cb`,
	} {
		if got, err := Evaluate(in, v, testOptions); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestDateFilters(t *testing.T) {
	// Now is 2030-05-22 09:05:03.1234567 at +02:00 (see fixedNow).
	v := vars("MyFormat", "dd-MM-yyyy", "Foo", "x")
	for in, want := range map[string]string{
		// variable-filters.md, NowDate and NowDateUtc; FiltersFixture NowDate tests
		"#{ | NowDate}":                                "2030-05-22T09:05:03.1234567",
		"#{ | NowDateUtc}":                             "2030-05-22T07:05:03.1234567Z",
		`#{ | NowDate "HH dd-MMM-yyyy"}`:               "09 22-May-2030",
		"#{ | NowDateUtc zz}":                          "+00",
		"#{ | NowDate #{MyFormat}}":                    "22-05-2030",
		"#{ | NowDate yyyy}":                           "2030",
		"#{ | NowDate | Format Date MMM}":              "May",
		"#{ | NowDateUtc | Format DateTimeOffset zz}":  "+00",
		"#{ | NowDate | Format DateTimeOffset zz}":     "+02",
		"#{ | nowdate zzz}":                            "+02:00",
		"#{Foo | NowDate}":                             "#{Foo | NowDate}", // takes no input
		"#{ | NowDate a b}":                            "#{ | NowDate a b}",
		"#{ | NowDate | AddHours 2 | Format HH:mm:ss}": "11:05:03",
	} {
		if got, err := Evaluate(in, v, testOptions); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", in, got, err, want)
		}
	}
	// FiltersFixture AddHours / AddDays tests
	runFilterCases(t, []filterCase{
		{"2030-05-22 09:05:00", `AddHours 2 | Format "yyyy-MM-dd HH:mm:ss"`, "2030-05-22 11:05:00"},
		{"2030-05-22 09:05:00", `AddHours -2 | Format "yyyy-MM-dd HH:mm:ss"`, "2030-05-22 07:05:00"},
		{"2030-05-22 09:05:00", `AddHours 0 | Format "yyyy-MM-dd HH:mm:ss"`, "2030-05-22 09:05:00"},
		{"2030-05-22 09:05:00", `AddHours "1.5" | Format "yyyy-MM-dd HH:mm:ss"`, "2030-05-22 10:35:00"},
		{"2030-05-22 09:05:00", `AddHours 24 | Format "yyyy-MM-dd HH:mm:ss"`, "2030-05-23 09:05:00"},
		{"2030-05-22 09:05:00", `AddDays 1 | Format "yyyy-MM-dd HH:mm:ss"`, "2030-05-23 09:05:00"},
		{"2030-05-22 09:05:00", `AddDays -1 | Format "yyyy-MM-dd HH:mm:ss"`, "2030-05-21 09:05:00"},
		{"2030-05-22 09:05:00", `AddDays 10 | Format "yyyy-MM-dd HH:mm:ss"`, "2030-06-01 09:05:00"},
		{"2030-05-22 09:05:00", `AddDays "0.5" | Format "yyyy-MM-dd HH:mm:ss"`, "2030-05-22 21:05:00"},
		{"2030-05-22 09:05:00", `AddDays 1 | AddHours 2 | Format "yyyy-MM-dd HH:mm:ss"`, "2030-05-23 11:05:00"},
		{"2030-05-22 09:05:00", "AddHours 8", "2030-05-22T17:05:00.0000000"},
		{"2030-05-22T09:05:00+02:00", "AddHours 2", "2030-05-22T11:05:00.0000000+02:00"},
		{"2030-05-22T09:05:00Z", "AddHours 2", "2030-05-22T11:05:00.0000000Z"},
		{"2030-05-22 09:05:00", "AddHours", echo("AddHours")},
		{"2030-05-22 09:05:00", "AddHours 2 3", echo("AddHours 2 3")},
		{"2030-05-22 09:05:00", "AddHours abc", echo("AddHours abc")},
		{"hello World", "AddHours 2", echo("AddHours 2")},
		{"2030-05-22 09:05:00", "AddDays abc", echo("AddDays abc")},
	})
	if got, _ := Evaluate("#{Date | AddHours #{ChangeWindowHours}}", vars("Date", "2030-05-22 09:05:00", "ChangeWindowHours", "8"), testOptions); got != "2030-05-22T17:05:00.0000000" {
		t.Errorf("AddHours from variable = %q", got)
	}
}

func TestUriPart(t *testing.T) {
	// FiltersFixture.UriPart and variable-filters.md
	runFilterCases(t, []filterCase{
		{"/docs", "UriPart Host", "[UriPart Host error: This operation is not supported for a relative URI.]"},
		{"/docs", "UriPart IsAbsoluteUri", "false"},
		{"https://octopus.com/docs", "UriPart", "[UriPart error: no argument given]"},
		{"https://octopus.com/docs", "UriPart bar", "[UriPart bar error: argument 'bar' not supported]"},
		{"https://octopus.com/docs", "UriPart AbsolutePath", "/docs"},
		{"https://octopus.com/docs", "UriPart AbsoluteUri", "https://octopus.com/docs"},
		{"https://octopus.com/docs", "UriPart Authority", "octopus.com"},
		{"https://octopus.com/docs", "UriPart DnsSafeHost", "octopus.com"},
		{"https://octopus.com/docs#filters", "UriPart Fragment", "#filters"},
		{"https://octopus.com/docs", "UriPart Host", "octopus.com"},
		{"https://octopus.com/docs", "UriPart HostAndPort", "octopus.com:443"},
		{"https://octopus.com/docs", "UriPart HostNameType", "Dns"},
		{"https://octopus.com/docs", "UriPart IsAbsoluteUri", "true"},
		{"https://octopus.com/docs", "UriPart IsDefaultPort", "true"},
		{"https://octopus.com/docs", "UriPart IsFile", "false"},
		{"https://octopus.com/docs", "UriPart IsLoopback", "false"},
		{"https://octopus.com/docs", "UriPart IsUnc", "false"},
		{"https://octopus.com/docs", "UriPart Path", "/docs"},
		{"https://octopus.com/docs?filter=faq", "UriPart PathAndQuery", "/docs?filter=faq"},
		{"https://octopus.com/docs", "UriPart Port", "443"},
		{"https://octopus.com/docs?filter=faq", "UriPart Query", "?filter=faq"},
		{"https://octopus.com/docs", "UriPart Scheme", "https"},
		{"https://octopus.com/docs", "UriPart SchemeAndServer", "https://octopus.com"},
		{"https://username:password@octopus.com", "UriPart UserInfo", "username:password"},
		{"http://127.0.0.1:8080/x", "UriPart HostNameType", "IPv4"},
		{"http://127.0.0.1:8080/x", "UriPart IsLoopback", "true"},
		{"http://localhost:8080/x", "UriPart Authority", "localhost:8080"},
		{"http://localhost:8080/x", "UriPart IsDefaultPort", "false"},
		{"http://[::1]:81/", "UriPart Host", "[::1]"},
		{"http://[::1]:81/", "UriPart DnsSafeHost", "::1"},
		{"HTTP://Octopus.COM", "UriPart AbsoluteUri", "http://octopus.com/"},
		{"file://server/share/a.txt", "UriPart IsUnc", "true"},
		{"file://server/share/a.txt", "UriPart Path", `\\server\share\a.txt`},
		{`C:\Apps\web.config`, "UriPart IsFile", "true"},
		{`C:\Apps\web.config`, "UriPart Path", `C:\Apps\web.config`},
		{"http://", "UriPart Host", "http://"}, // not a URI: left as it is
	})
}

func TestVersionFilters(t *testing.T) {
	// VersionFixture: version, major, minor, patch, revision, prerelease,
	// prefix, counter, metadata.
	for _, row := range [][9]string{
		{"1", "1", "0", "0", "0", "", "", "", ""},
		{"1.2", "1", "2", "0", "0", "", "", "", ""},
		{"1.2.3", "1", "2", "3", "0", "", "", "", ""},
		{"1.2.3.4", "1", "2", "3", "4", "", "", "", ""},
		{"1.2.3.4-branch.1", "1", "2", "3", "4", "branch.1", "branch", "1", ""},
		{"1.2.3.4-branch.1+meta", "1", "2", "3", "4", "branch.1", "branch", "1", "meta"},
		{"v1.2.3.4-branch.1+meta", "1", "2", "3", "4", "branch.1", "branch", "1", "meta"},
		{"V1.2.3.4-branch.1+meta", "1", "2", "3", "4", "branch.1", "branch", "1", "meta"},
		{"V1.2.3.4-branch.hithere+meta", "1", "2", "3", "4", "branch.hithere", "branch", "hithere", "meta"},
		{"V1.2.3.4-branch-hithere+meta", "1", "2", "3", "4", "branch-hithere", "branch", "hithere", "meta"},
		{"V1.2.3.4-branch_hithere+meta", "1", "2", "3", "4", "branch_hithere", "branch", "hithere", "meta"},
		{"19.0.0.Final", "19", "0", "0", "0", "Final", "Final", "", ""},
		{"284.0.0-debian_component_based", "284", "0", "0", "0", "debian_component_based", "debian", "component_based", ""},
		{"latest", "0", "0", "0", "0", "latest", "latest", "", ""},
		{"v1", "1", "0", "0", "0", "", "", "", ""},
		{"v1.2.3", "1", "2", "3", "0", "", "", "", ""},
		// variable-filters.md's example; its table shows prefix "my-branch",
		// but Octopus's parser ends the prefix at the first separator.
		{"1.2.3.4-my-branch.1.2+build10", "1", "2", "3", "4", "my-branch.1.2", "my", "branch.1.2", "build10"},
		{" 1 . 2 ", "1", "2", "0", "0", "", "", "", ""},
		{"1.2.3a", "1", "2", "0", "0", "3a", "3a", "", ""},
		{"007", "7", "0", "0", "0", "", "", "", ""},
	} {
		filters := []string{"VersionMajor", "VersionMinor", "VersionPatch", "VersionRevision", "VersionPreRelease", "VersionPreReleasePrefix", "VersionPreReleaseCounter", "VersionMetadata"}
		for i, f := range filters {
			got, err := Evaluate("#{Version | "+f+"}", vars("Version", row[0]), testOptions)
			if err != nil || got != row[i+1] {
				t.Errorf("%q | %s = %q, %v; want %q", row[0], f, got, err, row[i+1])
			}
		}
	}
	for _, bad := range []string{"", " ", "1.2.3-be ta", "99999999999", "1.2.3+a b"} {
		tmpl := "#{V | VersionMajor}"
		if got, _ := Evaluate(tmpl, vars("V", bad), testOptions); got != tmpl {
			t.Errorf("VersionMajor of %q = %q, want the tag echoed", bad, got)
		}
	}
}

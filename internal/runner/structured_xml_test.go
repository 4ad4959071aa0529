package runner

import (
	"strings"
	"testing"
)

const webConfig = `<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <!-- settings -->
  <appSettings>
    <add key="Url" value="http://dev" />
    <add key='Mode' value='debug'/>
  </appSettings>
  <environment>development</environment>
  <logging>
    <rules />
  </logging>
  <secret><![CDATA[old]]></secret>
  <email role="admin">admin@example.com</email>
  <email role="user">user@example.com</email>
</configuration>
`

func TestXMLReplacesWhatXPathSelectsAndNothingElse(t *testing.T) {
	cases := []struct {
		name    string
		vars    []Variable
		changes []string // old, new pairs applied to the input
		warning string
	}{
		{"attribute selected by a predicate, escaped", []Variable{{Name: "//appSettings/add[@key='Url']/@value", Value: `https://prod?a=1&b="2"`}},
			[]string{`value="http://dev"`, `value="https://prod?a=1&amp;b=&quot;2&quot;"`}, ""},
		{"single quotes stay single quotes", []Variable{{Name: `/configuration/appSettings/add[@key="Mode"]/@value`, Value: "it's"}},
			[]string{`value='debug'`, `value='it&apos;s'`}, ""},
		{"relative path from the root", []Variable{{Name: "configuration/environment", Value: "production"}},
			[]string{">development<", ">production<"}, ""},
		{"text is escaped", []Variable{{Name: "//environment", Value: "Pass<word>&1"}},
			[]string{">development<", ">Pass&lt;word&gt;&amp;1<"}, ""},
		{"an empty element gets text", []Variable{{Name: "/configuration/logging/rules", Value: `<rule level="trace" />`}},
			[]string{"<rules />", `<rules>&lt;rule level="trace" /&gt;</rules>`}, ""},
		{"an element holding elements gets a fragment", []Variable{{Name: "/configuration/logging", Value: `<rules><rule level="trace" /></rules>`}},
			[]string{"<logging>\n    <rules />\n  </logging>", `<logging><rules><rule level="trace" /></rules></logging>`}, ""},
		{"a fragment that is not well-formed is skipped", []Variable{{Name: "/configuration/logging", Value: "<rules>"}},
			nil, `could not set the value at "/configuration/logging": it holds elements, so the value must be an XML fragment`},
		{"CDATA stays CDATA", []Variable{{Name: "/configuration/secret", Value: "new]]>x"}},
			[]string{"<![CDATA[old]]>", "<![CDATA[new]]]]><![CDATA[>x]]>"}, ""},
		{"every match is replaced", []Variable{{Name: "/configuration/email/@role", Value: "dev"}},
			[]string{`role="admin"`, `role="dev"`, `role="user"`, `role="dev"`}, ""},
		{"element chosen by an attribute", []Variable{{Name: "/configuration/email[@role='admin']", Value: "chief@example.org"}},
			[]string{"admin@example.com", "chief@example.org"}, ""},
		{"element chosen by position", []Variable{{Name: "/configuration/email[2]", Value: "x"}, {Name: "//email[last()]/@role", Value: "last"}},
			[]string{`role="user">user@example.com`, `role="last">x`}, ""},
		{"text node", []Variable{{Name: "/configuration/environment/text()", Value: "t"}},
			[]string{">development<", ">t<"}, ""},
		{"predicates joined with and/or", []Variable{{Name: "//add[@key='Nope' or @key='Mode' and @value]/@key", Value: "M"}},
			[]string{"key='Mode'", "key='M'"}, ""},
		{"predicate on a child's text", []Variable{{Name: "/configuration[environment='development']/secret", Value: "s"}},
			[]string{"<![CDATA[old]]>", "<![CDATA[s]]>"}, ""},
		{"XPath outside the subset is reported", []Variable{{Name: "/configuration/email[contains(@role,'a')]", Value: "x"}},
			nil, `variable "/configuration/email[contains(@role,'a')]" looks like XPath but is not in the subset pulpo supports`},
		{"names that are not XPath are ignored", []Variable{{Name: "environment", Value: "x"}, {Name: "Logging:Level", Value: "x"}, {Name: "Octopus.Action.Name", Value: "x"}},
			nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, log := newTestOutput()
			got, applied, err := replaceXML([]byte(webConfig), structuredValues(newVariableSet(c.vars), out), out)
			if err != nil {
				t.Fatal(err)
			}
			want := webConfig
			for i := 0; i+1 < len(c.changes); i += 2 {
				if !strings.Contains(want, c.changes[i]) {
					t.Fatalf("test input lacks %q", c.changes[i])
				}
				want = strings.Replace(want, c.changes[i], c.changes[i+1], 1)
			}
			if string(got) != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			if (len(c.changes) > 0) != (len(applied) > 0) {
				t.Errorf("applied %q", applied)
			}
			if c.warning != "" && !strings.Contains(log.String(), c.warning) {
				t.Errorf("output lacks %q:\n%s", c.warning, log)
			}
		})
	}
}

func TestXMLNamespacesFollowXPath(t *testing.T) {
	src := `<server xmlns="urn:my:domain:1.0" xmlns:x="urn:extra">
  <properties>
    <property name="host.name" value="localhost" />
    <x:flag x:on="no">a</x:flag>
  </properties>
</server>`
	cases := []struct {
		name, variable, old, new string
	}{
		{"an unprefixed name does not match the default namespace", "/server/properties/property/@value", "", ""},
		{"*: matches any namespace", "/*:server/*:properties/*:property[@name='host.name']/@value", `value="localhost"`, `value="remote"`},
		{"a prefix the document declares", "//x:flag", ">a<", ">remote<"},
		{"a prefixed attribute", "//x:flag/@x:on", `x:on="no"`, `x:on="remote"`},
		{"an undeclared prefix matches nothing", "//y:flag", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, _ := newTestOutput()
			got, _, err := replaceXML([]byte(src), []structuredValue{{c.variable, "remote"}}, out)
			if err != nil {
				t.Fatal(err)
			}
			want := src
			if c.old != "" {
				want = strings.Replace(src, c.old, c.new, 1)
			}
			if string(got) != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestXMLRefusesWhatIsNotXML(t *testing.T) {
	for _, src := range []string{`{"a": 1}`, "<a><b></a></b>", "<a>", "a=b", "<a/><b/>"} {
		out, _ := newTestOutput()
		if _, _, err := replaceXML([]byte(src), nil, out); err == nil {
			t.Errorf("%q was read as XML", src)
		}
	}
}

func TestXMLPredicatesCompareNumbersAsNumbers(t *testing.T) {
	src := `<c><s port="80.0" on="yes"/><s port="443" on="no"/></c>`
	out, _ := newTestOutput()
	got, _, err := replaceXML([]byte(src), []structuredValue{{"//s[@port=80]/@on", "a"}, {"//s[@port!='80.0']/@on", "b"}}, out)
	if err != nil {
		t.Fatal(err)
	}
	if want := `<c><s port="80.0" on="a"/><s port="443" on="b"/></c>`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

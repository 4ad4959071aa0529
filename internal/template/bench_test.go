package template

import (
	"fmt"
	"strings"
	"testing"
)

// configTemplate builds a config file of about size bytes with one
// substitution per ~250 bytes (4,000+ per MiB): plain references, filters,
// references to values that refer to others, undefined references, and
// some conditionals and loops.
func configTemplate(size int) (string, *testVars) {
	v := vars("ConnectionString", "Server=#{Db.Server};Database=#{Db.Name};User=#{Db.User}",
		"Db.Server", "sql01", "Db.Name", "pulpo", "Db.User", "app & co", "Feature.Enabled", "True",
		"Endpoints", "http://a,http://b,http://c", "Environment", "Production")
	for i := 0; i < 2000; i++ {
		v.names = append(v.names, fmt.Sprintf("Setting[%d].Value", i))
		v.m[fmt.Sprintf("setting[%d].value", i)] = fmt.Sprintf("value-%d", i)
	}
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\"?>\n<configuration>\n")
	for i := 0; b.Len() < size; i++ {
		switch i % 8 {
		case 0, 1, 2:
			fmt.Fprintf(&b, "  <add key=\"Setting.%d\" value=\"#{Setting[%d].Value}\" /> <!-- padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding -->\n", i, i%2000)
		case 3:
			b.WriteString("  <add key=\"Db\" value=\"#{ConnectionString | XmlEscape}\" /> <!-- padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding -->\n")
		case 4:
			fmt.Fprintf(&b, "  <add key=\"Missing.%d\" value=\"#{Not.Defined.%d}\" /> <!-- padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding -->\n", i, i)
		case 5:
			b.WriteString("  #{if Environment == \"Production\"}<add key=\"Prod\" value=\"#{Environment | ToLower}\" />#{else}<add key=\"Dev\" />#{/if} <!-- padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding -->\n")
		case 6:
			b.WriteString("  #{each e in Endpoints}<endpoint url=\"#{e}\" index=\"#{Octopus.Template.Each.Index}\" />#{/each} <!-- padding padding padding padding padding padding padding padding padding padding padding -->\n")
		default:
			b.WriteString("  <plain>No substitutions on this line, only text that is copied as it is; ## and # stay.</plain> <!-- padding padding padding padding padding padding padding padding padding -->\n")
		}
	}
	b.WriteString("</configuration>\n")
	return b.String(), v
}

func BenchmarkRender1MiB(b *testing.B) {
	text, v := configTemplate(1 << 20)
	b.Run("Render", func(b *testing.B) {
		tmpl, err := Parse(text)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tmpl.Render(v, testOptions); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ParseAndRender", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Evaluate(text, v, testOptions); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEvaluateManyVariables renders a template referring to 2,000
// variables whose values refer to other variables.
func BenchmarkEvaluateManyVariables(b *testing.B) {
	v := vars()
	var t strings.Builder
	for i := 0; i < 2000; i++ {
		name := fmt.Sprintf("App.Setting%d", i)
		v.names = append(v.names, name)
		value := fmt.Sprintf("value %d", i)
		if i > 0 {
			value = fmt.Sprintf("value %d of #{App.Setting%d}", i, i/2)
		}
		v.m[strings.ToLower(name)] = value
		fmt.Fprintf(&t, "%s = #{%s}\n", name, name)
	}
	text := t.String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Evaluate(text, v, testOptions); err != nil {
			b.Fatal(err)
		}
	}
}

// The 1 MiB template renders correctly, not just quickly.
func TestConfigTemplate(t *testing.T) {
	text, v := configTemplate(1 << 20)
	out, err := Evaluate(text, v, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	n := strings.Count(text, "#{")
	for _, want := range []string{`<add key="Setting.9" value="value-9" />`, `value="Server=sql01;Database=pulpo;User=app &amp; co"`, `value="#{Not.Defined.4}"`, `<add key="Prod" value="production" />`, `<endpoint url="http://c" index="2" />`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s", want)
		}
	}
	if n < 4000 {
		t.Errorf("only %d substitutions", n)
	}
}

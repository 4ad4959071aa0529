package template

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	pulpovars "github.com/pulpo-deploy/pulpo/internal/vars"
)

// Expected outputs are written by hand from Octopus's documentation
// (variable-substitutions.mdx, variable-filters.md) and Octostache's test
// fixtures, named in the case names.

func TestSubstitution(t *testing.T) {
	runRenderCases(t, []renderCase{
		// UsageFixture.BasicExamples
		{"plain", "#{Foo}", vars("Foo", "Bar"), "Bar"},
		{"names ignore case", "#{Foo}", vars("foo", "Bar"), "Bar"},
		{"value refers to value", "#{Foo}", vars("Foo", "#{Bar}", "Bar", "Baz"), "Baz"},
		{"value with filter", "#{Foo}", vars("Foo", "#{Bar | ToLower}", "Bar", "Baz"), "baz"},
		{"name with spaces", "#{Foo Bar Jazz}", vars("Foo Bar Jazz", "Bar"), "Bar"},
		{"filter over expanded value", "#{Foo|ToUpper}", vars("Foo", "#{Bar | ToLower}", "Bar", "Baz"), "BAZ"},
		{"spaces inside tag", "#{ Foo }", vars("Foo", "Bar"), "Bar"},
		{"text around", "Hello, #{Location}!", vars("Location", "World"), "Hello, World!"},
		{"many", "#{A}#{B}#{A}", vars("A", "1", "B", "2"), "121"},
		// Escaping with hashes (UsageFixture.DoubleHashEscapesToken and friends)
		{"double hash escapes", "##{Foo}", vars("foo", "Bar"), "#{Foo}"},
		{"triple hash is hash then tag", "###{foo}", vars("foo", "Abc"), "#Abc"},
		{"four hashes", "####{foo}", vars("foo", "Abc"), "###{foo}"},
		{"standalone hashes", "# ## ###", nil, "# ## ###"},
		{"even hashes", "###### hello", nil, "###### hello"},
		{"odd hashes", "####### world", nil, "####### world"},
		{"hash at end", "C#", nil, "C#"},
		{"hash before text", "#x #{Foo}", vars("Foo", "1"), "#x 1"},
		// Undefined references are left as written (variable-filters.md,
		// "Differences from regular variable bindings").
		{"undefined echoed", "#{Foo}", nil, "#{Foo}"},
		{"undefined echoed exactly", "#{ Foo  |  ToUpper }", nil, "#{ Foo  |  ToUpper }"},
		{"defined and undefined", "#{Foo}#{Jazz}", vars("Foo", "#{Bar}", "Bar", "Baz"), "Baz#{Jazz}"},
		// UsageFixture.AwkwardCharacters
		{"slash", "#{a/b}", vars("a/b", "Foo"), "Foo"},
		{"tilde", "#{a~b}", vars("a~b", "Foo"), "Foo"},
		{"parentheses", "#{(abc)}", vars("(abc)", "Foo"), "Foo"},
		{"leading at", "#{@a}", vars("@a", "Foo"), "Foo"},
		{"inner at", "#{a@b}", vars("a@b", "Foo"), "Foo"},
		{"colon and dash", "#{My-App:Port}", vars("My-App:Port", "80"), "80"},
		{"unicode letters", "#{Größe}", vars("größe", "XL"), "XL"},
		// UsageFixture.EmptyValuesAreEchoed
		{"blank tag", "#{ }", vars("Foo", "Value"), "#{ }"},
		{"empty tag", "#{}", vars("Foo", "Value"), "#{}"},
		// Text that is not a tag stays as it is (UsageFixture.ParseErrorExamples,
		// AbleToContinueWhenAParsingErrorIsHit).
		{"unclosed tag", "#{Foo", vars("Foo", "Bar"), "#{Foo"},
		{"bad index", "#{Fo[o}", vars("Foo", "Bar", "Fo[o]", "Bar"), "#{Fo[o}"},
		{"javascript", `return"#{"===e.substr(0,2)?void 0:e},i="#{Web.Root}";`, vars("Web.Root", "Subbed.Web.Root"), `return"#{"===e.substr(0,2)?void 0:e},i="Subbed.Web.Root";`},
		{"javascript at end", `i="#{Web.Root}";a=function(e){return"#{`, vars("Web.Root", "R"), `i="R";a=function(e){return"#{`},
		{"closing brace missing then tag", "#{A #{B}", vars("B", "b"), "#{A b"},
		{"unknown closing tag", "#{/foo}", nil, "#{/foo}"},
		{"keyword as name", "#{if}#{each}#{calc}", vars("if", "1", "each", "2", "calc", "3"), "123"},
		// " in " ends a name in Octostache's grammar, so such a tag is text.
		{"name with spaced in", "#{Sign in URL}", vars("Sign in URL", "x"), "#{Sign in URL}"},
		{"multi line", "a\n#{Foo}\nb", vars("Foo", "Bar"), "a\nBar\nb"},
	}, testOptions)
}

func TestIndexers(t *testing.T) {
	runRenderCases(t, []renderCase{
		// UsageFixture.NamedIndexersAreSupported
		{"named", "#{Octopus.Action[Package A].Name}", vars("Octopus.Action[Package A].Name", "MyPackage"), "MyPackage"},
		{"output variable", "#{Octopus.Action[Step 1].Output.Name}", vars("Octopus.Action[Step 1].Output.Name", "out"), "out"},
		// UsageFixture.VariableIndexersAreSupported
		{"index from variable", "#{Octopus.Action[#{Package}].Name}", vars("Package", "Package A", "Octopus.Action[Package A].Name", "MyPackage"), "MyPackage"},
		// variable-substitutions.mdx, Index replacement
		{"docs index replacement", "#{MyPassword[#{UserName}]}", vars("MyPassword[Rob]", "passwordX", "MyPassword[Steve]", "passwordY", "MyPassword[Mary]", "passwordZ", "UserName", "Mary"), "passwordZ"},
		// UsageFixture.NestedIndexersAreSupported / MultipleNestedIndexersAreSupported
		{"brackets inside index", "#{Octopus.Action.Package[containers[0].container].Registry}", vars("Octopus.Action.Package[containers[0].container].Registry", "docker.io"), "docker.io"},
		{"deeper brackets", "#{Octopus.Action.Package[array[foo].containers[0].container].Registry}", vars("Octopus.Action.Package[array[foo].containers[0].container].Registry", "docker.io"), "docker.io"},
		// UsageFixture.MissingVariableIndexersFailToEvaluateGracefully
		{"index variable missing", "#{Octopus.Action[#{Package}].Name}", vars("Octopus.Action[Package A].Name", "MyPackage"), "#{Octopus.Action[#{Package}].Name}"},
		// UsageFixture.IndexingWithASymbolIsSupported / NestedIndexingWithASymbolIsSupported
		{"index from dotted variable", "#{Step[#{action.StepName}]}", vars("action.StepName", "Step 1", "Step[Step 1]", "Running"), "Running"},
		{"index from expanded variable", "#{Step[#{action.StepName}]}", vars("action.StepName", "Steps[#{index}].step", "index", "0", "Step[Steps[0].step]", "Step 0"), "Step 0"},
		{"index spaces around nested", "#{A[ #{B} ]}", vars("B", "x", "A[x]", "1"), "1"},
		{"empty index", "#{A[].Name}", vars("A[].Name", "blank"), "blank"},
		{"index keeps case-insensitive lookup", "#{A[KEY]}", vars("a[key]", "v"), "v"},
		// UsageFixture.IndexingIsSupportedWithWildcards: the first index that resolves.
		{"wildcard", "#{Octopus.Action[*].Name}", vars("Octopus.Action[Package A].Name", "A", "Octopus.Action[Package B].Name", "B"), "A"},
		{"wildcard skips indexes without the rest", "#{X[*].Port}", vars("X[a].Host", "h", "X[b].Port", "81"), "81"},
		{"wildcard without group is literal", "#{X[*]}", vars("X[*]", "star"), "star"},
	}, testOptions)

	// UsageFixture.IndexWithUnknownVariableDoesntFail
	pattern := "#{Location[#{Continent}]}"
	for _, tc := range []struct {
		vars *testVars
		want string
	}{
		{vars(), pattern},
		{vars("Location[Europe]", "Madrid"), pattern},
		{vars("Location[Europe]", "Madrid", "Continent", "Europe"), "Madrid"},
	} {
		if got, err := Evaluate(pattern, tc.vars, testOptions); err != nil || got != tc.want {
			t.Errorf("got %q, %v; want %q", got, err, tc.want)
		}
	}
}

func TestJSON(t *testing.T) {
	shirt := `{Name: "t-shirt", Description: "I am a shirt", Sizes: [{size: "small", price: 15.00}, {size: "large", price: 20.00}]}`
	runRenderCases(t, []renderCase{
		// JsonFixture.SuccessfulJsonParsing
		{"index", "#{Test[Hello]}", vars("Test", `{"Hello": "World"}`), "World"},
		{"dot", "#{Test.Hello}", vars("Test", `{"Hello": "World"}`), "World"},
		{"deep", "#{Test[Hello][World][Foo][Bar]}", vars("Test", `{"Hello": {"World": {"Foo": {"Bar": 12 }}}}`), "12"},
		{"array 1", "#{Test.Items[1].Name}", vars("Test", `{"Items": [{"Name": "Toast"}, {"Name": "Bread"}]}`), "Bread"},
		{"array 0", "#{Test.Items[0].Name}", vars("Test", `{"Items": [{"Name": "Toast"}, {"Name": "Bread"}]}`), "Toast"},
		{"object as json", "#{Test.Foo}", vars("Test", `{"Foo": {"Bar":"11"}}`), `{"Bar":"11"}`},
		{"inner reference to same json", "#{Test.Name}", vars("Test", `{Name: "#{Test.Value}", Desc: "Monkey", Value: 12}`), "12"},
		{"at in property", "#{Test.@type}", vars("Test", `{"@type": "Widget"}`), "Widget"},
		{"at in indexed property", "#{Test[@type]}", vars("Test", `{"@type": "Widget"}`), "Widget"},
		// JsonFixture.JsonDoesNotOverrideExisting
		{"variable beats property", "#{Test.Hello}|#{Test[Foo]}|#{Test.Donkey.Kong}", vars("Test.Hello", "Go Away", "Test", `{"Hello": "World", "Foo": "Bar", "Donkey" : {"Kong": 12}}`, "Test[Foo]", "Nope", "Test.Donkey.Kong", "MARIO"), "Go Away|Nope|MARIO"},
		// JsonFixture.JsonSupportsVariableInVariable
		{"json built from variables", "#{Test[Foo]} #{Test.Foo} #{Test[#{Prop}]}", vars("Prop", "Foo", "Val", "Bar", "Test", `{#{Prop}: "#{Val}"}`), "Bar Bar Bar"},
		// JsonFixture.JsonInvalidDoesNotReplace
		{"invalid json", "#{Test.Name}", vars("Test", "{Name: NoComma}"), "#{Test.Name}"},
		// JsonFixture.JsonArrayOutsideOfBounds, NullJsonPropertyTreatedAsEmptyString,
		// MissingJsonPropertyTreatedAsEmptyString
		{"index past end", "Alpha#{Test[4]}bet", vars("Test", "[2,3,5,8]"), "Alphabet"},
		{"null property", "Alpha#{Foo.Bar}bet", vars("Foo", "{Bar: null}"), "Alphabet"},
		{"missing property", "Alpha#{Foo.NotBar}bet", vars("Foo", `{Bar: "ABC"}`), "Alphabet"},
		{"missing middle property", "#{Foo.No.Deeper}", vars("Foo", `{Bar: "ABC"}`), "#{Foo.No.Deeper}"},
		{"whole variable as written", "#{Test}", vars("Test", `{ "a" : 1 }`), `{ "a" : 1 }`},
		{"json inside json string", "#{J.a.b}", vars("J", `{"a": "{\"b\": 1}"}`), "1"},
		{"booleans and numbers", "#{J.t} #{J.f} #{J.n} #{J.x} #{J.big}", vars("J", `{"t": true, "f": false, "n": 1.50, "x": 1e20, "big": 123456789012345678901234567890}`), "True False 1.5 1E+20 123456789012345678901234567890"},
		{"serialized escapes", "#{J.o}", vars("J", `{'o': {'s': 'a"b\\c', 'n': 2, 'l': [true, null]}}`), `{"s":"a\"b\\c","n":2,"l":[true,null]}`},
		{"comments and trailing commas", "#{J.b}", vars("J", "{ /* c */ a: 1, // x\n b: 2, }"), "2"},
		{"property names are case sensitive", "#{J.name}", vars("J", `{"Name": "x"}`), ""},
		// variable-filters.md, JSON parsing (Sizes prints as Json.NET serializes it)
		{"docs json", "<h1>#{Custom.MyJson[Name]}</h1>\n#{Custom.MyJson.Name} - #{Custom.MyJson.Description}\nFrom: #{Custom.MyJson.Sizes[0].price | Format C}\nSizes: #{Custom.MyJson.Sizes}",
			vars("Custom.MyJson", shirt, "Custom.MyJson.Description", "Shirts are not shorts."),
			"<h1>t-shirt</h1>\nt-shirt - Shirts are not shorts.\nFrom: $15.00\nSizes: [{\"size\":\"small\",\"price\":15.0},{\"size\":\"large\",\"price\":20.0}]"},
		// UsageFixture.VariablesThatResolveToUnresolvableReturnError
		{"unresolvable inner json", "#{Test.Sizes.Small.Price}", vars("Test", `{Sizes: {Small: "#{Test.Sizes.Large.Price}", Large: "15"}}", Desc: "Monkey", Value: 12}`), "#{Test.Sizes.Small.Price}"},
		{"missing replacement", "#{Test}", vars("Test", "#{Test.Something}"), ""},
	}, testOptions)
}

func TestConditionals(t *testing.T) {
	truthy := vars("Result", "result", "Truthy", "true")
	runRenderCases(t, []renderCase{
		// ConditionalsFixture.ConditionalIsSupported and ConditionalIgnoresWhitespacesCorrectly
		{"if", "#{if Truthy}#{Result}#{/if}", truthy, "result"},
		{"space before if", "#{ if Truthy}#{Result}#{/if}", truthy, "result"},
		{"spaces before if", "#{  if Truthy}#{Result}#{/if}", truthy, "result"},
		{"space after name", "#{if Truthy }#{Result}#{/if}", truthy, "result"},
		{"spaces around", "#{ if Truthy  }#{Result}#{/if}", truthy, "result"},
		{"spaces after if", "#{if  Truthy}#{Result}#{/if}", truthy, "result"},
		{"spaced equals", "#{if Truthy  == \"true\"}#{Result}#{/if}", truthy, "result"},
		{"spaced not equals", "#{if Truthy  != \"false\"}#{Result}#{/if}", truthy, "result"},
		{"spaced filter", "#{if Truthy  |  ToLower  != \"false\"}#{Result}#{/if}", truthy, "result"},
		{"keyword ignores case", "#{IF Truthy}#{Result}#{/if}", truthy, "result"},
		{"unless", "#{unless Truthy}#{Result}#{/unless}", vars("Result", "result", "Truthy", "false"), "result"},
		{"unless true", "#{unless Truthy}#{Result}#{/unless}", truthy, ""},
		// ConditionalsFixture.UnknownVariablesAreTreatedAsFalsy
		{"unknown is false", "#{if MyVar}True#{/if}", nil, ""},
		{"unknown unless", "#{unless MyVar}False#{/unless}", nil, "False"},
		{"unknowns are equal", "#{if Unknown1 == Unknown2}Equal#{/if}", nil, "Equal"},
		{"compare variables", "#{if Octopus == Compare}#{Result}#{/if}", vars("Result", "result", "Octopus", "octopus", "Compare", "octopus"), "result"},
		{"compare different", "#{if Octopus == Compare}#{Result}#{/if}", vars("Result", "result", "Octopus", "octopus", "Compare", "squid"), ""},
		{"string on right", "#{if Octopus == \"octopus\"}#{Result}#{/if}", vars("Result", "result", "Octopus", "octopus"), "result"},
		{"string on left", "#{if \"octopus\" == Octopus }#{Result}#{/if}", vars("Result", "result", "Octopus", "octopus"), "result"},
		{"not equal left", "#{if \"software\" != Octopus}#{Result}#{/if}", vars("Result", "result", "Octopus", "something else"), "result"},
		{"not equal right", "#{if Octopus != \"software\"}#{Result}#{/if}", vars("Result", "result", "Octopus", "something else"), "result"},
		{"comparison is case sensitive", "#{if Octopus == \"OCTOPUS\"}yes#{else}no#{/if}", vars("Octopus", "octopus"), "no"},
		{"escaped quotes", `#{if Foo == \"test text\"}yes#{/if}`, vars("Foo", "test text"), "yes"},
		{"no spaces around ==", "#{if Fooey==\"foo\"}yes#{/if}", vars("Fooey", "foo"), "yes"},
		{"nested", "#{if Truthy}#{if Fooey==\"foo\"}#{Result}#{/if}#{/if}", vars("Result", "result", "Truthy", "true", "Fooey", "foo"), "result"},
		{"else taken", "#{if Truthy}#{Result}#{else}#{ElseResult}#{/if}", vars("Result", "result", "ElseResult", "elseresult", "Truthy", "false"), "elseresult"},
		{"else skipped", "#{if Truthy}#{Result}#{else}#{ElseResult}#{/if}", vars("Result", "result", "ElseResult", "elseresult", "Truthy", "true"), "result"},
		{"if in else", "#{if Truthy}#{Result}#{else}#{if Fooey==\"foo\"}#{ElseResult}#{/if}#{/if}", vars("ElseResult", "elseresult", "Fooey", "foo", "Truthy", "false"), "elseresult"},
		{"unless else", "#{unless Truthy}a#{else}b#{/unless}", truthy, "b"},
		// ConditionalsFixture elseif cases
		{"elseif taken", "#{if First}1#{elseif Second}2#{else}3#{/if}", vars("First", "false", "Second", "true"), "2"},
		{"elseif skipped", "#{if First}1#{elseif Second}2#{else}3#{/if}", vars("First", "true", "Second", "true"), "1"},
		{"elseif to else", "#{if First}1#{elseif Second}2#{else}3#{/if}", vars("First", "false", "Second", "false"), "3"},
		{"elseif no else", "#{if A}a#{elseif B}b#{elseif C}c#{/if}", vars("A", "false", "B", "false", "C", "false"), ""},
		{"elseif comparisons", "#{if Environment == \"Development\"}dev#{elseif Environment == \"Test\"}test#{elseif Environment == \"Staging\"}staging#{else}other#{/if}", vars("Environment", "Staging"), "staging"},
		{"elseif with filter", "#{if First}first#{elseif Octopus | ToUpper == \"OCTOPUS\"}second#{/if}", vars("First", "false", "Octopus", "octopus"), "second"},
		{"nested elseif", "#{if First}first#{elseif Second}#{if Third}third#{elseif Fourth}fourth#{else}none#{/if}#{else}else#{/if}", vars("First", "false", "Second", "true", "Third", "false", "Fourth", "true"), "fourth"},
		// FiltersInConditionalsAreSupported (UsageFixture)
		{"filter left", "#{if Octopus.CoolState | ToUpper == \"COOL\"}yes#{/if}", vars("Octopus.CoolState", "Cool"), "yes"},
		{"filter chain left", "#{if Octopus.CoolState | ToUpper | ToLower == \"cool\"}yes#{/if}", vars("Octopus.CoolState", "Cool"), "yes"},
		{"filter right", "#{if \"cool\" == Octopus.CoolState | ToLower}yes#{/if}", vars("Octopus.CoolState", "Cool"), "yes"},
		{"filters both sides", "#{if Octopus.CoolState | ToLower == Octopus.Appraise | ToLower | Trim }yes#{/if}", vars("Octopus.CoolState", "Cool", "Octopus.Appraise", " Cool "), "yes"},
		{"filter with nested argument", "#{if Octopus.Appraise | ToLower | Contains #{Octopus.CoolState | ToLower} }yes#{/if}", vars("Octopus.CoolState", "Cool", "Octopus.Appraise", " Cool "), "yes"},
		{"predicate filter", "#{if Hello | Contains \"O\" }yes#{/if}", vars("Hello", "HELLO"), "yes"},
		{"chained both sides", "#{if Greeting | Trim | ToUpper | ToLower == Hello | ToBase64 | FromBase64 | Trim | ToLower }yes#{/if}", vars("Greeting", " Hello ", "Hello", "  HELLO "), "yes"},
		// A filter that yields nothing echoes the whole block (Octostache).
		{"failing filter echoes block", "#{if Greeting | Truncate abc}#{Result}#{/if}", vars("Greeting", "Hello", "Result", "r"), "#{if Greeting | Truncate abc}#{Result}#{/if}"},
		// variable-substitutions.mdx examples
		{"docs debug", `<compilation #{if DebugEnabled}debug="true"#{/if}>`, vars("DebugEnabled", "True"), `<compilation debug="true">`},
		{"docs debug off", `<compilation #{if DebugEnabled}debug="true"#{/if}>`, vars("DebugEnabled", "False"), `<compilation >`},
		{"docs max log level", "#{if Environment.LogLevel == Base.MaxLogLevel}We are at the MAX!#{else}We have room to grow!#{/if}", vars("Base.MaxLogLevel", "ERROR", "Environment.LogLevel", "DEBUG"), "We have room to grow!"},
		{"docs run condition", "#{unless Octopus.Action[StepName].Output.HasRun == \"True\"}true#{/unless}", vars("Octopus.Action[StepName].Output.HasRun", "True"), ""},
		{"multi line blocks", "#{if A}\nyes\n#{else}\nno\n#{/if}\n", vars("A", "1"), "\nyes\n\n"},
	}, testOptions)
}

func TestTruthiness(t *testing.T) {
	// variable-substitutions.mdx: falsy is undefined, "", or (ignoring case
	// and surrounding whitespace) False, No or 0 — Octostache compares "0"
	// exactly, so " 0" is truthy.
	for value, want := range map[string]string{
		"": "F", "0": "F", "false": "F", "False": "F", " FALSE ": "F", "no": "F", "No": "F", "NO\t": "F",
		"true": "T", "True": "T", "1": "T", "yes": "T", "anything": "T", " ": "T", "00": "T", " 0": "T", "nope": "T",
	} {
		got, err := Evaluate("#{if V}T#{else}F#{/if}", vars("V", value), testOptions)
		if err != nil || got != want {
			t.Errorf("truthiness of %q = %q, %v; want %q", value, got, err, want)
		}
	}
}

func TestEach(t *testing.T) {
	actions := vars("Octopus.Action[Package A].Name", "A", "Octopus.Action[Package B].Name", "B", "Octopus.Action[].Name", "Blank")
	runRenderCases(t, []renderCase{
		// IterationFixture
		{"empty collection", "Ok#{each nothing in missing}#{nothing}#{/each}", nil, "Ok"},
		{"simple", "#{each a in Octopus.Action}#{a}-#{a.Name}#{/each}", actions, "Package A-APackage B-B-Blank"},
		{"space before each", "#{ each a in Octopus.Action}#{a}-#{a.Name}#{/each}", actions, "Package A-APackage B-B-Blank"},
		{"spaces after each", "#{each  a in Octopus.Action}#{a}-#{a.Name}#{/each}", actions, "Package A-APackage B-B-Blank"},
		{"spaces before in", "#{each a  in Octopus.Action}#{a}-#{a.Name}#{/each}", actions, "Package A-APackage B-B-Blank"},
		{"spaces after in", "#{each a in  Octopus.Action}#{a}-#{a.Name}#{/each}", actions, "Package A-APackage B-B-Blank"},
		{"space before brace", "#{each a in Octopus.Action }#{a}-#{a.Name}#{/each}", actions, "Package A-APackage B-B-Blank"},
		{"spaces in body tag", "#{each a in Octopus.Action}#{  a}-#{a.Name  }#{/each}", actions, "Package A-APackage B-B-Blank"},
		{"nested", "#{each a in Octopus.Action}#{each tr in a.TargetRoles}#{a.Name}#{tr}#{/each}#{/each}",
			vars("Octopus.Action[Package A].Name", "A", "Octopus.Action[Package A].TargetRoles", "a,b", "Octopus.Action[Package B].Name", "B", "Octopus.Action[Package B].TargetRoles", "c", "Octopus.Action[].Name", "Z", "Octopus.Action[].TargetRoles", "y"),
			"AaAbBcZy"},
		{"recursive values", "#{each a in Octopus.Action}#{a.Name}#{/each}",
			vars("PackageA_Name", "A", "PackageB_Name", "B", "PackageC_Name", "C", "Octopus.Action[Package A].Name", "#{PackageA_Name}", "Octopus.Action[Package B].Name", "#{PackageB_Name}", "Octopus.Action[].Name", "#{PackageC_Name}"),
			"ABC"},
		{"scoped index", "#{each action in Octopus.Action}#{if Octopus.Step[#{action.StepName}].Status != \"Skipped\"}#{Octopus.Step[#{action.StepName}].Details}#{/if}#{/each}",
			vars("Octopus.Action[Action 1].StepName", "Step 1", "Octopus.Action[Action 2].StepName", "Step 2", "Octopus.Step[Step 1].Details", "Step 1 Details", "Octopus.Step[Step 2].Details", "Step 2 Details", "Octopus.Step[Step 1].Status", "Skipped", "Octopus.Step[Step 2].Status", "Running"),
			"Step 2 Details"},
		{"unscoped index", "#{each action in Octopus.Action}#{if Octopus.Step[#{SomeOtherVariable}].Status == \"Skipped\"}#{Octopus.Step[#{SomeOtherVariable}].Details}#{/if}#{/each}",
			vars("Octopus.Action[Action 1].StepName", "Step 1", "Octopus.Action[Action 2].StepName", "Step 2", "Octopus.Step[OtherVariableValue].Details", "Octopus", "Octopus.Step[OtherVariableValue].Status", "Skipped", "SomeOtherVariable", "OtherVariableValue"),
			"OctopusOctopus"},
		{"special variables", "#{each a in Numbers}#{a} First:#{Octopus.Template.Each.First} Last:#{Octopus.Template.Each.Last} Index:#{Octopus.Template.Each.Index}, #{/each}", vars("Numbers", "A,B,C"),
			"A First:True Last:False Index:0, B First:False Last:False Index:1, C First:False Last:True Index:2, "},
		{"brackets in index", "#{each a in Octopus.Action.Package}#{a}: #{a.Name} #{/each}",
			vars("Octopus.Action.Package[container[0]].Name", "A", "Octopus.Action.Package[container[1]].Name", "B", "Octopus.Action.Package[container[2]].Name", "C"),
			"container[0]: A container[1]: B container[2]: C "},
		{"iterator is the index", "#{each a in Octopus.Action}#{a}|#{/each}", vars("Octopus.Action[Package A].Name", "A", "Octopus.Action[Package B].Name", "B"), "Package A|Package B|"},
		{"indexes deduplicated ignoring case", "#{each a in G}#{a};#{/each}", vars("G[x].A", "1", "G[X].B", "2", "G[y].A", "3"), "x;y;"},
		{"variable named by index gives value", "#{each a in G}#{a};#{/each}", vars("G[x]", "value x", "G[x].A", "1", "G[y].A", "2"), "value x;y;"},
		{"missing property falls back to global", "#{each a in G}#{a.Name}#{/each}", vars("G[x].Other", "1", "a.Name", "global"), "global"},
		{"undefined property echoes", "#{each a in Action}#{a.Size}#{/each}", vars("Action[x].Name", "Baz", "Action[y].Name", "Baz"), "#{a.Size}#{a.Size}"},
		// variable-substitutions.mdx: iterating over sets of values
		{"docs endpoints", "Listening on:\n#{each endpoint in Endpoint}\n - Endpoint #{endpoint} at #{endpoint.Address} is #{endpoint.Description}\n#{/each}\n",
			vars("Endpoint[A].Address", "http://a.example.com", "Endpoint[A].Description", "Primary", "Endpoint[B].Address", "http://b.example.com", "Endpoint[B].Description", "Replica"),
			"Listening on:\n\n - Endpoint A at http://a.example.com is Primary\n\n - Endpoint B at http://b.example.com is Replica\n\n"},
		// variable-substitutions.mdx: comma-separated values (split, not trimmed)
		{"docs comma separated", "#{each endpoint in Endpoints}- #{endpoint};#{/each}", vars("Endpoints", "http://a.example.com,http://b.example.com"), "- http://a.example.com;- http://b.example.com;"},
		{"csv keeps spaces", "#{each x in L}[#{x}]#{/each}", vars("L", "a, b"), "[a][ b]"},
		{"empty value is one empty item", "#{each x in L}[#{x}]#{/each}", vars("L", ""), "[]"},
		{"csv value expanded first", "#{each x in L}[#{x}]#{/each}", vars("L", "#{A},#{B}", "A", "1", "B", "2"), "[1][2]"},
		{"docs first and last", "#{each endpoint in Endpoints}#{if Octopus.Template.Each.First}first #{endpoint};#{/if}#{if Octopus.Template.Each.Last}last #{endpoint};#{/if}#{/each}", vars("Endpoints", "SV1,SV2,SV3"), "first SV1;last SV3;"},
		{"nested loops", "#{each a in L}#{each b in L}#{a}#{b} #{/each}#{/each}", vars("L", "1,2"), "11 12 21 22 "},
		{"inner index wins", "#{each a in L}#{each b in M}#{Octopus.Template.Each.Index}#{/each}|#{Octopus.Template.Each.Index};#{/each}", vars("L", "x,y", "M", "p,q,r"), "012|0;012|1;"},
		{"loop variable shadows global", "#{each x in L}#{x}#{/each}#{x}", vars("L", "1,2", "x", "global"), "12global"},
		{"loop variable ignores case", "#{each Item in L}#{item}#{/each}", vars("L", "1,2"), "12"},
		{"calc on item", "#{each i in Numbers}#{calc i + 5} #{/each}", vars("Numbers", "10,20,30,40,50"), "15 25 35 45 55 "},
		// JsonFixture iterators and variable-filters.md "Repetition over JSON"
		{"json array", "#{each number in Test}#{number}#{if Octopus.Template.Each.Last == \"False\"}-#{/if}#{/each}", vars("Test", "[2,3,5,8]"), "2-3-5-8"},
		{"json null is one empty item", "Before:#{each number in Test.Blah}#{number}#{/each}:After", vars("Test", "{Blah: null}"), "Before::After"},
		{"json object", "#{each size in Octopus.Sizes}#{size}:#{size.Value},#{/each}", vars("Octopus.Sizes", `{"Small": "11.5",  Large: 15.21}`), "Small:11.5,Large:15.21,"},
		{"json object inner", "#{each size in Octopus.Sizes}#{size.Key} - #{size.Value.Error}#{/each}", vars("Octopus.Sizes", `{"X-Large": {"Error": "Not Stocked"}}`), "X-Large - Not Stocked"},
		{"docs json repetition", "Numbers:\n#{each number in MyNumbers}\n - #{number}\n#{/each}\nObjects:\n#{each item in MyObjects}\n#{item.Key}: #{item.Value.Price}\n#{/each}",
			vars("MyNumbers", "[5,2,4]", "MyObjects", `{Cat: {Price: 11.5, Description: "Meow"}, Dog: {Price: 17.5, Description: "Woof"}}`),
			"Numbers:\n\n - 5\n\n - 2\n\n - 4\n\nObjects:\n\nCat: 11.5\n\nDog: 17.5\n"},
		{"docs widgets", "#{each w in MyWidgets}'#{w.Value.WidgetId}': #{if w.Value.WidgetId == WidgetIdSelector}This is my Widget!#{else}No widget matched :(#{/if}\n#{/each}",
			vars("WidgetIdSelector", "Widget-2", "MyWidgets", `{"One":{"WidgetId":"Widget-1","Name":"Widget-One"},"Two":{"WidgetId":"Widget-2","Name":"Widget-Two"}}`),
			"'Widget-1': No widget matched :(\n'Widget-2': This is my Widget!\n"},
		{"json array of objects", "#{each s in J.Sizes}#{s.size}=#{s.price};#{/each}", vars("J", `{Sizes: [{size: "small", price: 15.00}, {size: "large", price: 20}]}`), "small=15;large=20;"},
		{"json element printed", "#{each s in J}#{s}|#{/each}", vars("J", `[{"a": 1}, "x"]`), `{"a":1}|x|`},
		{"each over loop item value", "#{each o in J}#{each v in o.Value}#{v}#{/each}#{/each}", vars("J", `{"k": [1, 2]}`), "12"},
	}, testOptions)
}

func TestCalc(t *testing.T) {
	// CalculationFixture, with A=5, B=7, The/Var=9, Another-Var=11.
	v := vars("A", "5", "B", "7", "The/Var", "9", "Another-Var", "11")
	cases := []renderCase{}
	for _, c := range [][2]string{
		{"3+2", "5"}, {"3-2", "1"}, {"3*2", "6"}, {"3/2", "1.5"}, {"3*2+2*4", "14"}, {"3*(2+2)*4", "48"},
		{"A+2", "7"}, {"A+B", "12"}, {"{B}-2", "5"}, {"2-B", "-5"}, {"2-4", "-2"}, {"(B*2)-2", "12"},
		{"2-(B*2)", "-12"}, {"{B}/2", "3.5"}, {"2/B", "0.2857142857142857"}, {"2/{B}", "0.2857142857142857"},
		{"2/4", "0.5"}, {"0.2*B", "1.4000000000000001"}, {"B*0.2", "1.4000000000000001"}, {"{B}*0.2", "1.4000000000000001"},
		{"{Another-Var}-2", "9"}, {"{The/Var}-2", "7"}, {" A + B ", "12"}, {"( 1 + 2 ) * 3", "9"}, {"10/4/5", "0.5"},
		{"1/0", "Infinity"}, {"0.1+0.2", "0.30000000000000004"}, {"1000000*1000000*1000", "1E+15"},
		// "-" and "/" are name characters: these are variables named "C+2"… no: C is undefined.
		{"C+2", "#{calc C+2}"}, {"B-2", "#{calc B-2}"}, {"B/2", "#{calc B/2}"},
	} {
		cases = append(cases, renderCase{c[0], "#{calc " + c[0] + "}", v, c[1]})
	}
	// variable-substitutions.mdx, Calculations
	docs := vars("IPOffset[Primary]", "0", "IPOffset[Secondary]", "180", "ScaleFactor", "12", "Numbers", "10,20,30,40,50", "Big", "1,000", "Word", "abc")
	cases = append(cases,
		renderCase{"docs primary", "192.168.0.#{calc IPOffset[Primary] + 1}", docs, "192.168.0.1"},
		renderCase{"docs secondary", "192.168.0.#{calc IPOffset[Secondary] + 1}", docs, "192.168.0.181"},
		renderCase{"docs scale", "#{calc 22 * ScaleFactor}", docs, "264"},
		renderCase{"thousands separator", "#{calc Big + 1}", docs, "1001"},
		renderCase{"not a number echoes", "#{calc Word + 1}", docs, "#{calc Word + 1}"},
		renderCase{"keyword case", "#{CALC 1+1}", docs, "2"},
	)
	runRenderCases(t, cases, testOptions)
}

func TestInValue(t *testing.T) {
	// variable-substitutions.mdx: in variable values a binding to an
	// undefined variable yields "".
	value := Options{Now: fixedNow, InValue: true}
	runRenderCases(t, []renderCase{
		{"undefined is empty", "Server=#{Server}; Database=#{Database}", vars("Server", "SQL"), "Server=SQL; Database="},
		{"failing filter is empty", "[#{A | Substring x}]", vars("A", "abc"), "[]"},
		{"undefined calc is empty", "[#{calc X + 1}]", nil, "[]"},
		{"failing condition is false", "#{if A | Truncate x}y#{else}n#{/if}", vars("A", "abc"), "n"},
		{"failing comparison side is empty", "#{if A | Truncate x == \"\"}y#{else}n#{/if}", vars("A", "abc"), "y"},
	}, value)
	// Referenced values are always rendered as values.
	runRenderCases(t, []renderCase{
		{"docs connection string", "#{ConnectionString}", vars("ConnectionString", "Server=#{Server}; Database=#{Database}", "Server", "SQL"), "Server=SQL; Database="},
		{"self index in value", "#{MY_VAR}", vars("MY_VAR", "#{MY_VAR[#{foo}]}", "foo", "bar"), ""},
	}, testOptions)
}

func TestRecursionAndCycles(t *testing.T) {
	runRenderCases(t, []renderCase{
		{"diamond", "#{A}", vars("A", "#{B}#{C}", "B", "#{D}", "C", "#{D}", "D", "d"), "dd"},
		{"repeated", "#{A}", vars("A", "#{B}#{B}", "B", "x"), "xx"},
		{"same variable twice in template", "#{A}-#{A}", vars("A", "#{B}", "B", "b"), "b-b"},
	}, testOptions)

	// A long chain must not exhaust the stack.
	chain := vars()
	for i := 0; i < 500; i++ {
		name := fmt.Sprintf("V%d", i)
		chain.names = append(chain.names, name)
		chain.m[strings.ToLower(name)] = fmt.Sprintf("#{V%d}", i+1)
	}
	chain.m["v500"] = "end"
	if got, err := Evaluate("#{V0}", chain, testOptions); err != nil || got != "end" {
		t.Errorf("chain: got %q, %v", got, err)
	}

	// Fan-out doubles the output per level; each value is expanded once.
	fan := vars("F20", "x")
	for i := 19; i >= 0; i-- {
		fan.m[fmt.Sprintf("f%d", i)] = fmt.Sprintf("#{F%d}#{F%d}", i+1, i+1)
	}
	if got, err := Evaluate("#{F0}", fan, testOptions); err != nil || len(got) != 1<<20 {
		t.Errorf("fan-out: got %d bytes, %v", len(got), err)
	}
}

// The values of *vars.Values work as a Lookup; it lists names sorted, so
// groups are visited in name order.
func TestVarsValuesLookup(t *testing.T) {
	v := vars_(
		"Endpoint[B].Address", "http://b",
		"Endpoint[A].Address", "http://a",
		"Greeting", "hello #{name}",
		"Name", "world",
	)
	got, err := Evaluate("#{Greeting}: #{each e in Endpoint}#{e}=#{e.Address} #{/each}", v, testOptions)
	if want := "hello world: A=http://a B=http://b "; err != nil || got != want {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
}

func vars_(kv ...string) *pulpovars.Values {
	v := pulpovars.NewValues()
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// A Lookup without Names still renders everything but indexed groups.
func TestLookupWithoutNames(t *testing.T) {
	type plain struct{ Lookup }
	v := plain{vars("L", "1,2", "G[a].X", "x")}
	got, err := Evaluate("#{each i in L}#{i}#{/each}|#{each g in G}#{g}#{/each}|#{G[a].X}", v, testOptions)
	if want := "12||x"; err != nil || got != want {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	if got, err := Evaluate("#{A}", nil, testOptions); err != nil || got != "#{A}" {
		t.Errorf("nil lookup: got %q, %v", got, err)
	}
}

func TestParseOnceRenderConcurrently(t *testing.T) {
	tmpl, err := Parse("#{each e in L}#{e | ToUpper}#{/each} #{A} #{ | NowDateUtc yyyy}")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			v := vars("L", "a,b", "A", fmt.Sprint(g))
			for i := 0; i < 50; i++ {
				got, err := tmpl.Render(v, testOptions)
				if want := fmt.Sprintf("AB %d 2030", g); err != nil || got != want {
					t.Errorf("got %q, %v; want %q", got, err, want)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func TestNowDefaultsToTimeNow(t *testing.T) {
	got, err := Evaluate("#{ | NowDateUtc yyyy}", nil, Options{})
	if err != nil || len(got) != 4 || got < "2024" {
		t.Errorf("got %q, %v", got, err)
	}
}

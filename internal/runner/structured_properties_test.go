package runner

import (
	"testing"
)

func TestPropertiesReplacesValuesByKey(t *testing.T) {
	src := "# comment = not a key\r\n" +
		"weatherApiUrl = dev.weather.com\r\n" +
		"tempImageFolder=C:\\\\temp\\\\img\n" +
		"port : 8080\n" +
		"multi = first \\\n    second\n" +
		"key\\ with\\ spaces value\n" +
		"bare\n" +
		"OctopusPort = 1\n" +
		"untouched = same\n"
	vars := []structuredValue{
		{"WEATHERAPIURL", "test.weather.com"},
		{"tempImageFolder", `D:\temp\img`},
		{"port", "80"},
		{"multi", "one line"},
		{"key with spaces", " lead, ünïcode\nnext"},
		{"bare", "now set"},
		{"OctopusPort", "2"},
	}
	want := "# comment = not a key\r\n" +
		"weatherApiUrl = test.weather.com\r\n" +
		"tempImageFolder=D:\\\\temp\\\\img\n" +
		"port : 80\n" +
		"multi = one line\n" +
		"key\\ with\\ spaces \\ lead, \\u00FCn\\u00EFcode\\nnext\n" +
		"bare:now set\n" +
		"OctopusPort = 1\n" +
		"untouched = same\n"
	out, _ := newTestOutput()
	got, applied, err := replaceProperties([]byte(src), vars, out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if len(applied) != 6 {
		t.Errorf("applied %q", applied)
	}
}

func TestPropertiesKeysAreReadWithTheirEscapes(t *testing.T) {
	src := "\\u0041pp\\=Name=old\n\\#notcomment:old\n"
	out, _ := newTestOutput()
	got, _, err := replaceProperties([]byte(src), []structuredValue{{"App=Name", "new"}, {"#notcomment", "new"}}, out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "\\u0041pp\\=Name=new\n\\#notcomment:new\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

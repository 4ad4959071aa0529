package vars

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

func TestMaskerHidesSecretsInEveryUsualShape(t *testing.T) {
	secret := "p@ss w0rd/+&x"
	m := NewMasker(secret, "abc", "line-one\nline-two")
	tests := []struct{ name, in, want string }{
		{"as it is", "password is " + secret + ".", "password is ********."},
		{"twice", secret + secret, "****************"},
		{"base64", "b64: " + base64.StdEncoding.EncodeToString([]byte(secret)), "b64: ********"},
		{"url query", "q=" + url.QueryEscape(secret), "q=********"},
		{"url path", "/x/" + url.PathEscape(secret), "/x/********"},
		{"a line of a multi-line secret", "got line-two here", "got ******** here"},
		{"short values are left alone", "abc is too short to mask", "abc is too short to mask"},
		{"unrelated text", "nothing to hide", "nothing to hide"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.Mask(tt.in); got != tt.want {
				t.Fatalf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	// A longer secret containing a shorter one is hidden whole.
	m.Add("p@ss")
	if got := m.Mask(secret); strings.Contains(got, "w0rd") {
		t.Fatalf("partly masked: %q", got)
	}
	var none *Masker
	if none.Mask("x") != "x" || !none.Empty() {
		t.Fatal("a nil masker should hide nothing")
	}
}

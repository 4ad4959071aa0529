package vars

import (
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

func TestResolvePicksTheMostSpecificValue(t *testing.T) {
	vs := []model.Variable{
		{Name: "Greeting", Value: "hello"},
		{Name: "greeting", Value: "hello dev", Scope: model.Scope{Environments: []string{"dev"}}},
		{Name: "Greeting", Value: "hello prod", Scope: model.Scope{Environments: []string{"prod", "prod-eu"}}},
		{Name: "OnlyInTest", Value: "t", Scope: model.Scope{Environments: []string{"test"}}},
	}
	tests := []struct {
		env, want string
		hasTest   bool
	}{
		{"dev", "hello dev", false},
		{"prod-eu", "hello prod", false},
		{"test", "hello", true},
		{"other", "hello", false},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			v := Resolve(vs, Scope{EnvironmentID: tt.env})
			if got, _ := v.Get("GREETING"); got != tt.want {
				t.Errorf("Greeting = %q, want %q", got, tt.want)
			}
			if _, ok := v.Get("OnlyInTest"); ok != tt.hasTest {
				t.Errorf("OnlyInTest present = %v", ok)
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	v := NewValues()
	v.Set("Name", "world")
	v.Set("Greeting", "hello #{name}")
	v.Set("Loop", "#{Loop}")
	tests := []struct{ in, want string }{
		{"#{Greeting}!", "hello world!"},
		{"#{ Name }", "world"},
		{"#{Missing} stays", "#{Missing} stays"},
		{"##{Name} is literal", "#{Name} is literal"},
		{"unclosed #{Name", "unclosed #{Name"},
		{"no references", "no references"},
		{"#{Loop}", "#{Loop}"},
	}
	for _, tt := range tests {
		if got := Evaluate(tt.in, v); got != tt.want {
			t.Errorf("Evaluate(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzEvaluate(f *testing.F) {
	for _, s := range []string{"#{A}", "##{A}", "#{", "}#{A}#{B}", "#{#{A}}"} {
		f.Add(s)
	}
	v := NewValues()
	v.Set("A", "#{B}")
	v.Set("B", "#{A}")
	f.Fuzz(func(t *testing.T, s string) {
		Evaluate(s, v) // must not hang or panic
	})
}

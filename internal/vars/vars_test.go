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

func TestPrecedence(t *testing.T) {
	where := Scope{EnvironmentID: "Env-Prod", ChannelID: "Ch-Hotfix", StepID: "step-deploy",
		MachineID: "Machines-7", MachineRoles: []string{"web", "cache"}, TargetRoles: []string{"Web"}}
	v := func(value string, sc model.Scope) model.Variable {
		return model.Variable{Name: "Level", Value: value, Scope: sc}
	}
	lib := func(value string, sc model.Scope) model.Variable {
		x := v(value, sc)
		x.LibrarySetID = "LibrarySets-1"
		return x
	}
	tests := []struct {
		name   string
		values []model.Variable
		want   string // "" means undefined
	}{
		{"unscoped applies everywhere", []model.Variable{v("plain", model.Scope{})}, "plain"},
		{"environment beats unscoped", []model.Variable{v("plain", model.Scope{}), v("prod", model.Scope{Environments: []string{"Env-Prod"}})}, "prod"},
		{"another environment does not apply", []model.Variable{v("test", model.Scope{Environments: []string{"Env-Test"}})}, ""},
		{"any listed environment matches", []model.Variable{v("either", model.Scope{Environments: []string{"Env-Test", "Env-Prod"}})}, "either"},
		{"channel is less specific than environment", []model.Variable{v("channel", model.Scope{Channels: []string{"Ch-Hotfix"}}), v("env", model.Scope{Environments: []string{"Env-Prod"}})}, "env"},
		{"channel beats unscoped", []model.Variable{v("plain", model.Scope{}), v("channel", model.Scope{Channels: []string{"Ch-Hotfix"}})}, "channel"},
		{"role beats environment", []model.Variable{v("env", model.Scope{Environments: []string{"Env-Prod"}}), v("role", model.Scope{Roles: []string{"cache"}})}, "role"},
		{"roles match ignoring case", []model.Variable{v("role", model.Scope{Roles: []string{"CACHE"}})}, "role"},
		{"a role the machine lacks does not apply", []model.Variable{v("db", model.Scope{Roles: []string{"db"}})}, ""},
		{"a role the step aims at beats another role of the machine", []model.Variable{v("cache", model.Scope{Roles: []string{"cache"}}), v("web", model.Scope{Roles: []string{"web"}})}, "web"},
		{"machine beats role", []model.Variable{v("role", model.Scope{Roles: []string{"web"}}), v("machine", model.Scope{Machines: []string{"Machines-7"}})}, "machine"},
		{"step beats machine", []model.Variable{v("machine", model.Scope{Machines: []string{"Machines-7"}}), v("step", model.Scope{Steps: []string{"step-deploy"}})}, "step"},
		{"another step does not apply", []model.Variable{v("other", model.Scope{Steps: []string{"step-migrate"}})}, ""},
		{"two scopes beat one of the same kind", []model.Variable{v("role", model.Scope{Roles: []string{"web"}}), v("role+env", model.Scope{Roles: []string{"web"}, Environments: []string{"Env-Prod"}})}, "role+env"},
		{"one more specific kind beats two less specific", []model.Variable{v("env+channel", model.Scope{Environments: []string{"Env-Prod"}, Channels: []string{"Ch-Hotfix"}}), v("role", model.Scope{Roles: []string{"cache"}})}, "role"},
		{"all kinds must match", []model.Variable{v("mixed", model.Scope{Environments: []string{"Env-Prod"}, Machines: []string{"Machines-9"}})}, ""},
		{"project beats library on a tie", []model.Variable{lib("library", model.Scope{Environments: []string{"Env-Prod"}}), v("project", model.Scope{Environments: []string{"Env-Prod"}})}, "project"},
		{"library wins when more specific", []model.Variable{v("project", model.Scope{}), lib("library", model.Scope{Environments: []string{"Env-Prod"}})}, "library"},
		{"on a full tie the first listed wins", []model.Variable{v("first", model.Scope{}), v("second", model.Scope{})}, "first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Resolve(tt.values, where).Get("level")
			// Winner, which picks among one name's values, agrees.
			if i, won := Winner(tt.values, where); won != ok || (won && tt.values[i].Value != got) {
				t.Errorf("Winner chose %d (%v); Resolve chose %q (%v)", i, won, got, ok)
			}
			if tt.want == "" {
				if ok {
					t.Fatalf("want no value, got %q", got)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}

	// On a worker (no machine) role- and machine-scoped values do not apply.
	worker := Scope{EnvironmentID: "Env-Prod", StepID: "step-deploy"}
	vs := []model.Variable{v("env", model.Scope{Environments: []string{"Env-Prod"}}), v("role", model.Scope{Roles: []string{"web"}}), v("machine", model.Scope{Machines: []string{"Machines-7"}})}
	if got, _ := Resolve(vs, worker).Get("Level"); got != "env" {
		t.Fatalf("on a worker: %q", got)
	}
}

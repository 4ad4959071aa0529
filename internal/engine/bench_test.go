package engine

import (
	"fmt"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/vars"
)

// BenchmarkScriptVariables is what the engine does with a project's
// variables before each script: resolve 2,000 variables, 200 of them with
// a scoped alternative (40 each for environment, channel, role, machine
// and step, half of which apply here), for one step on one target, add
// the system variables, and render every value into the bash bootstrap
// the script starts with. 300 values refer to another, 100 of them through
// a filter.
func BenchmarkScriptVariables(b *testing.B) {
	var vs []model.Variable
	for i := range 2000 {
		name := fmt.Sprintf("App.Setting%04d", i)
		value := fmt.Sprintf("value %d", i)
		switch {
		case i%20 == 0:
			value = fmt.Sprintf("https://#{App.Setting%04d | ToLower}/api", i+1)
		case i%10 == 5:
			value = fmt.Sprintf("#{App.Setting%04d}-suffix", i+1)
		}
		vs = append(vs, model.Variable{Name: name, Value: value})
	}
	scopes := []model.Scope{
		{Environments: []string{"Env-Prod"}}, {Environments: []string{"Env-Test"}},
		{Channels: []string{"Channels-1"}}, {Channels: []string{"Channels-2"}},
		{Roles: []string{"web"}}, {Roles: []string{"db"}},
		{Machines: []string{"Machines-7"}}, {Machines: []string{"Machines-8"}},
		{Steps: []string{"step-1"}}, {Steps: []string{"step-2"}},
	}
	for i := range 200 {
		vs = append(vs, model.Variable{Name: fmt.Sprintf("App.Setting%04d", i*10+1), Value: fmt.Sprintf("scoped %d", i), Scope: scopes[i%len(scopes)]})
	}
	where := vars.Scope{EnvironmentID: "Env-Prod", ChannelID: "Channels-1", StepID: "step-1",
		MachineID: "Machines-7", MachineRoles: []string{"web"}, TargetRoles: []string{"web"}}
	system := map[string]string{}
	for _, n := range []string{"Project.Name", "Project.Id", "Environment.Name", "Environment.Id", "Release.Number", "Release.Id",
		"Release.Notes", "Deployment.Id", "Task.Id", "Step.Name", "Action.Name", "Machine.Name", "Machine.Id", "Machine.Roles",
		"Web.ServerUri", "Web.DeploymentLink"} {
		system["Octopus."+n], system["Pulpo."+n] = "some "+n, "some "+n
	}

	resolve := func() *vars.Values {
		values := vars.Resolve(vs, where)
		for n, v := range system {
			values.Set(n, v)
		}
		return values
	}
	render := func(values *vars.Values) {
		script, problems := bootstrap(model.SyntaxBash, values)
		if len(problems) > 0 || len(script) < 2000*20 {
			b.Fatalf("%d bytes, problems %q", len(script), problems)
		}
	}
	if n := len(resolve().Names()); n != 2000+len(system) {
		b.Fatalf("resolved %d names", n)
	}
	b.Run("resolve", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			resolve()
		}
	})
	b.Run("render", func(b *testing.B) {
		values := resolve()
		b.ReportAllocs()
		for b.Loop() {
			render(values)
		}
	})
	b.Run("resolve+render", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			render(resolve())
		}
	})
}

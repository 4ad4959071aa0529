package vars

import (
	"fmt"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// BenchmarkResolve2000 resolves 2,000 variables, 200 of them with scoped
// alternatives (environment, role, machine, step), for one step on one target.
func BenchmarkResolve2000(b *testing.B) {
	var vs []model.Variable
	for i := 0; i < 2000; i++ {
		name := fmt.Sprintf("App.Setting%04d", i)
		vs = append(vs, model.Variable{Name: name, Value: fmt.Sprintf("value %d #{App.Setting%04d}", i, (i+1)%2000)})
		if i%10 == 0 {
			vs = append(vs,
				model.Variable{Name: name, Value: "prod", Scope: model.Scope{Environments: []string{"Env-Prod"}}},
				model.Variable{Name: name, Value: "web", Scope: model.Scope{Roles: []string{"web"}, Environments: []string{"Env-Prod", "Env-Test"}}},
				model.Variable{Name: name, Value: "m7", Scope: model.Scope{Machines: []string{"Machines-7"}}},
				model.Variable{Name: name, Value: "step", Scope: model.Scope{Steps: []string{"step-9"}}},
			)
		}
	}
	where := Scope{EnvironmentID: "Env-Prod", StepID: "step-1", MachineID: "Machines-7", MachineRoles: []string{"web"}, TargetRoles: []string{"web"}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if v := Resolve(vs, where); len(v.Names()) != 2000 {
			b.Fatal("lost variables")
		}
	}
}

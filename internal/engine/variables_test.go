package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// printEach is a bash script that prints "name=value" for each variable.
func printEach(names ...string) string {
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "echo '%s=#{%s}'\n", n, n)
	}
	return b.String()
}

func TestSystemVariablesNameWhatIsDeployedAndLinkToThePortal(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		names := []string{"Octopus.Release.Id", "Octopus.Release.Number", "Octopus.Release.Notes", "Octopus.Project.Id", "Octopus.Project.Name",
			"Octopus.Environment.Name", "Octopus.Step.Name", "Octopus.Action.Name", "Octopus.Deployment.Id", "Octopus.Task.Id",
			"Octopus.Web.ServerUri", "Octopus.Web.BaseUrl", "Octopus.Web.DeploymentLink", "Octopus.Web.ReleaseLink", "Octopus.Web.ProjectLink",
			"Pulpo.Release.Id", "Pulpo.Action.Name", "Pulpo.Web.DeploymentLink", "Pulpo.Web.ServerUri"}
		f := setup(t, s, nil, printEach(names...)+`echo "open=#{Octopus.Web.ServerUri}#{Octopus.Web.DeploymentLink}"`)
		srv := newServer(t, s, t.TempDir(), func(c *engine.Config) { c.ServerURL = "https://pulpo.example/" })
		r := model.Release{ProjectID: f.project.ID, Version: "2.0.0", Notes: "Fixes the login page"}
		if _, err := srv.engine.CreateRelease(context.Background(), &r); err != nil {
			t.Fatal(err)
		}
		d := srv.deploy(r, f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log := logOf(t, s, d.TaskID)

		for _, tt := range []struct{ name, want string }{
			{"Octopus.Release.Id", r.ID},
			{"Octopus.Release.Number", "2.0.0"},
			{"Octopus.Release.Notes", "Fixes the login page"},
			{"Octopus.Project.Id", f.project.ID},
			{"Octopus.Project.Name", "web"},
			{"Octopus.Environment.Name", "Dev"},
			{"Octopus.Step.Name", "Step A"},
			{"Octopus.Action.Name", "Step A"},
			{"Octopus.Deployment.Id", d.ID},
			{"Octopus.Task.Id", d.TaskID},
			// The server's address without its last slash, so that links
			// can follow it.
			{"Octopus.Web.ServerUri", "https://pulpo.example"},
			{"Octopus.Web.BaseUrl", "https://pulpo.example"},
			// Paths from the server's address to the portal's pages, as in
			// Octopus: a deployment is shown by its task's page.
			{"Octopus.Web.DeploymentLink", "/tasks/" + d.TaskID},
			{"Octopus.Web.ReleaseLink", "/releases/" + r.ID},
			{"Octopus.Web.ProjectLink", "/projects/" + f.project.ID},
			{"Pulpo.Release.Id", r.ID},
			{"Pulpo.Action.Name", "Step A"},
			{"Pulpo.Web.DeploymentLink", "/tasks/" + d.TaskID},
			{"Pulpo.Web.ServerUri", "https://pulpo.example"},
			{"open", "https://pulpo.example/tasks/" + d.TaskID},
		} {
			if line := "info " + tt.name + "=" + tt.want + "\n"; !strings.Contains(log, line) {
				t.Errorf("%s: want %q in the log", tt.name, tt.want)
			}
		}
		if t.Failed() {
			t.Log(log)
		}
	})
}

func TestAReleaseInAChannelGetsTheChannelsValues(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := setup(t, s, twoPhases(), `echo "banner: #{Banner}, channel #{Octopus.Release.Channel.Name}"`)
		channels := map[string]model.Channel{}
		err := s.Tx(ctx, func(q *store.Queries) error {
			for _, name := range []string{"Stable", "Beta"} {
				c := model.Channel{ProjectID: f.project.ID, Name: name}
				if err := q.CreateChannel(ctx, &c); err != nil {
					return err
				}
				channels[name] = c
			}
			vs, err := q.GetVariables(ctx, f.project.ID)
			if err != nil {
				return err
			}
			vs.Variables = append(vs.Variables,
				model.Variable{Name: "Banner", Value: "plain"},
				model.Variable{Name: "Banner", Value: "beta build", Scope: model.Scope{Channels: []string{channels["Beta"].ID}}},
				// The environment is the more specific scope.
				model.Variable{Name: "Banner", Value: "beta in test", Scope: model.Scope{Channels: []string{channels["Beta"].ID}, Environments: []string{f.envs["Test"].ID}}},
				model.Variable{Name: "Banner", Value: "stable build", Scope: model.Scope{Channels: []string{channels["Stable"].ID}}})
			return q.SaveVariables(ctx, &vs)
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := newServer(t, s, t.TempDir())
		for _, tt := range []struct{ channel, version, env, want string }{
			{"Beta", "1.0.0-beta", "Dev", "banner: beta build, channel Beta"},
			{"Beta", "1.0.1-beta", "Test", "banner: beta in test, channel Beta"},
			{"Stable", "1.0.0", "Dev", "banner: stable build, channel Stable"},
		} {
			r := model.Release{ProjectID: f.project.ID, Version: tt.version, ChannelID: channels[tt.channel].ID}
			if _, err := srv.engine.CreateRelease(ctx, &r); err != nil {
				t.Fatal(err)
			}
			d := srv.deploy(r, f.envs[tt.env])
			waitTask(t, s, d.TaskID, model.TaskSuccess)
			if log := logOf(t, s, d.TaskID); !strings.Contains(log, "info "+tt.want+"\n") {
				t.Errorf("%s in %s: want %q in the log:\n%s", tt.version, tt.env, tt.want, log)
			}
		}
	})
}

// A value the bootstrap cannot render reaches scripts as written, and the
// task log says which and why instead of hiding it.
func TestAValueThatCannotBeRenderedIsAWarningInTheLog(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, nil,
			`set_octopusvariable Loop '##{Octopus.Action[Step A].Output.Loop}'
set_octopusvariable Odd '##{Greeting | NoSuchFilter}'`,
			`echo "odd is $(get_octopusvariable 'Octopus.Action[Step A].Output.Odd')"`)
		srv := newServer(t, s, t.TempDir())
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log := logOf(t, s, d.TaskID)
		for _, want := range []string{
			`warning The value of variable "Octopus.Action[Step A].Output.Loop" cannot be rendered, so scripts get it as written: ` +
				`in the value of variable "Octopus.Action[Step A].Output.Loop": line 1, column 1: variable reference cycle: Octopus.Action[Step A].Output.Loop -> Octopus.Action[Step A].Output.Loop`,
			`warning The value of variable "Octopus.Action[Step A].Output.Odd" cannot be rendered, so scripts get it as written: line 1, column 14: unknown filter "NoSuchFilter"`,
			"info odd is #{Greeting | NoSuchFilter}\n",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q", want)
			}
		}
		if t.Failed() {
			t.Log(log)
		}
	})
}

// A secret in a step's failure message is masked wherever the message
// goes: the log line, the task's error and the deployment's error as later
// steps see it.
func TestASecretInAFailureMessageIsMasked(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		box, _ := secrets.New(secrets.NewKey())
		s.SetSealer(box)
		ctx := context.Background()
		f := setup(t, s, nil, `fail_step "cannot log in to the database with #{DbPassword}"`)
		err := s.Tx(ctx, func(q *store.Queries) error {
			vs, err := q.GetVariables(ctx, f.project.ID)
			if err != nil {
				return err
			}
			vs.Variables = append(vs.Variables, model.Variable{Name: "DbPassword", Value: "pa55-w0rd-x", Sensitive: true})
			if err := q.SaveVariables(ctx, &vs); err != nil {
				return err
			}
			d, err := q.GetProcess(ctx, f.project.ID)
			if err != nil {
				return err
			}
			d.Steps = append(d.Steps, model.Step{Name: "Report", Condition: model.ConditionFailure,
				Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: `echo 'report: #{Octopus.Deployment.Error}'`}})
			return q.SaveProcess(ctx, &d)
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := newServer(t, s, t.TempDir())
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		task := waitTask(t, s, d.TaskID, model.TaskFailed)
		log := logOf(t, s, d.TaskID)
		for _, want := range []string{"error cannot log in to the database with ********\n",
			`info report: step "Step A" failed on built-in worker (exit code 1: cannot log in to the database with ********)` + "\n"} {
			if !strings.Contains(log, want) {
				t.Errorf("the log lacks %q:\n%s", want, log)
			}
		}
		want := `step "Step A" failed on built-in worker (exit code 1: cannot log in to the database with ********)`
		if task.Error != want {
			t.Errorf("task error %q, want %q", task.Error, want)
		}
		if strings.Contains(log, "pa55-w0rd-x") {
			t.Errorf("the secret shows in the log:\n%s", log)
		}
	})
}

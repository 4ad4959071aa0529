package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// templateFlags are the flags that describe a step template.
type templateFlags struct {
	file, description, script, scriptFile, syntax, pkg string
	params                                             []string
}

func (f *templateFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.file, "file", "", "read the whole template (JSON: name, description, parameters, script or package) from this file; other flags change what it says")
	cmd.Flags().StringVar(&f.description, "description", "", "what the template does")
	cmd.Flags().StringVar(&f.script, "script", "", "the script's body (parameters are variables: #{Name})")
	cmd.Flags().StringVar(&f.scriptFile, "script-file", "", "read the script's body from this file")
	cmd.Flags().StringVar(&f.syntax, "syntax", "", syntaxHelp)
	cmd.Flags().StringVar(&f.pkg, "package", "", "make it a package step deploying this package")
	cmd.Flags().StringArrayVar(&f.params, "parameter", nil,
		"NAME[:CONTROL][=DEFAULT]: a parameter; CONTROL is text (default), multiline, checkbox, sensitive, or select(A|B|C); replaces the parameters when given (repeat)")
}

// apply changes t as the flags say.
func (f *templateFlags) apply(cmd *cobra.Command, t *model.StepTemplate) error {
	if f.file != "" {
		b, err := os.ReadFile(f.file)
		if err != nil {
			return fmt.Errorf("read template: %w", err)
		}
		id, version := t.ID, t.Version
		if err := json.Unmarshal(b, t); err != nil {
			return fmt.Errorf("read template %s: %w", f.file, err)
		}
		t.ID, t.Version = id, version
	}
	if cmd.Flags().Changed("description") {
		t.Description = f.description
	}
	if f.scriptFile != "" {
		b, err := os.ReadFile(f.scriptFile)
		if err != nil {
			return fmt.Errorf("read script: %w", err)
		}
		f.script = string(b)
	}
	if f.script != "" {
		t.Script, t.Package = &model.ScriptAction{Syntax: scriptSyntax(cmd, f.syntax, f.scriptFile, ""), Body: f.script}, nil
	} else if f.syntax != "" && t.Script != nil {
		t.Script.Syntax = model.ScriptSyntax(f.syntax)
	}
	if f.pkg != "" {
		t.Package, t.Script = &model.PackageAction{PackageID: f.pkg}, nil
	}
	if len(f.params) > 0 {
		t.Parameters = nil
		for _, spec := range f.params {
			p, err := parseParameter(spec)
			if err != nil {
				return err
			}
			t.Parameters = append(t.Parameters, p)
		}
	}
	return nil
}

// parseParameter reads NAME[:CONTROL][=DEFAULT].
func parseParameter(spec string) (model.StepTemplateParameter, error) {
	head, def, _ := strings.Cut(spec, "=")
	name, control, _ := strings.Cut(head, ":")
	p := model.StepTemplateParameter{Name: name, Label: name, DefaultValue: def}
	if opts, ok := strings.CutPrefix(control, "select("); ok {
		if !strings.HasSuffix(opts, ")") {
			return p, fmt.Errorf("--parameter %q: write a select as NAME:select(A|B)", spec)
		}
		p.Control, p.Options = model.ControlSelect, strings.Split(strings.TrimSuffix(opts, ")"), "|")
	} else {
		p.Control = model.ParameterControl(control)
	}
	if name == "" {
		return p, fmt.Errorf("--parameter %q has no name: write NAME[:CONTROL][=DEFAULT]", spec)
	}
	return p, nil
}

// templateRef makes the reference of a step made from a template's newest
// version, with parameter values NAME=VALUE.
func (a *app) templateRef(cmd *cobra.Command, c *client.Client, idOrName string, values []string) (*model.StepTemplateRef, error) {
	t, err := c.FindStepTemplate(cmd.Context(), idOrName)
	if err != nil {
		return nil, err
	}
	ref := &model.StepTemplateRef{ID: t.ID, Version: t.Version}
	for _, kv := range values {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--parameter takes NAME=VALUE, not %q", kv)
		}
		if ref.Parameters == nil {
			ref.Parameters = map[string]string{}
		}
		ref.Parameters[name] = value
	}
	return ref, nil
}

// stepTemplateCommand manages the library's step templates.
func (a *app) stepTemplateCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "step-template", Aliases: []string{"step-templates"},
		Short: "Manage step templates: reusable, parameterised, versioned steps in the library",
		Long: `Step templates are steps kept in the library (Octopus's action templates).
Every saved change makes a new version and every version is kept: a project
step made from a template names the version it uses and keeps it until it is
moved with "pulpo process update-template". Parameters become variables of
that step's scripts; a sensitive parameter's value is sealed, masked in logs
and never shown.`}
	var f templateFlags
	create := &cobra.Command{Use: "create NAME", Short: "Create a step template (version 1)", Args: cobra.ExactArgs(1),
		Example: `  pulpo step-template create "Notify chat" --script 'curl -fsS -d "#{Message}" "#{WebhookUrl}"' \
      --parameter 'Message=Deployed #{Octopus.Project.Name}' --parameter WebhookUrl:sensitive
  pulpo step-template create Migrate --file migrate-template.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			t := model.StepTemplate{Name: args[0]}
			if err := f.apply(cmd, &t); err != nil {
				return err
			}
			t.Name = args[0]
			t, err = c.CreateStepTemplate(cmd.Context(), t)
			if err != nil {
				return err
			}
			return a.print(t, func() { fmt.Fprintf(a.stdout, "Created step template %q (%s), version %d\n", t.Name, t.ID, t.Version) })
		}}
	f.add(create)
	var uf templateFlags
	var rename string
	update := &cobra.Command{Use: "update TEMPLATE", Short: "Change a step template: the change is its next version", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := clientAndFind(a, cmd.Context(), (*client.Client).FindStepTemplate, args[0])
			if err != nil {
				return err
			}
			before := t.Version
			if err := uf.apply(cmd, &t); err != nil {
				return err
			}
			if rename != "" {
				t.Name = rename
			}
			t, err = c.UpdateStepTemplate(cmd.Context(), t)
			if err != nil {
				return err
			}
			return a.print(t, func() {
				if t.Version == before {
					fmt.Fprintf(a.stdout, "Nothing changed: %q stays at version %d\n", t.Name, t.Version)
					return
				}
				fmt.Fprintf(a.stdout, "Saved %q as version %d; steps using older versions keep them until moved (pulpo step-template usage %s)\n", t.Name, t.Version, t.ID)
			})
		}}
	uf.add(update)
	update.Flags().StringVar(&rename, "name", "", "a new name")
	list := &cobra.Command{Use: "list", Short: "List step templates", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			all, err := c.StepTemplates(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(all, func() {
				rows := make([][]string, 0, len(all))
				for _, t := range all {
					var params []string
					for _, p := range t.Parameters {
						params = append(params, p.Name)
					}
					kind := "script"
					if t.Package != nil {
						kind = "package " + t.Package.PackageID
					}
					rows = append(rows, []string{t.ID, t.Name, strconv.Itoa(t.Version), kind, strings.Join(params, ", ")})
				}
				a.table([]string{"ID", "NAME", "VERSION", "DOES", "PARAMETERS"}, rows)
			})
		}}
	var showVersion int
	show := &cobra.Command{Use: "show TEMPLATE", Short: "Show a step template (its newest version, or --version N)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := clientAndFind(a, cmd.Context(), (*client.Client).FindStepTemplate, args[0])
			if err != nil {
				return err
			}
			if showVersion > 0 && showVersion != t.Version {
				if t, err = c.StepTemplateVersion(cmd.Context(), t.ID, showVersion); err != nil {
					return err
				}
			}
			return a.print(t, func() { a.showStepTemplate(t) })
		}}
	show.Flags().IntVar(&showVersion, "version", 0, "show this kept version")
	del := &cobra.Command{Use: "delete TEMPLATE", Short: "Delete a step template no project step uses", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := clientAndFind(a, cmd.Context(), (*client.Client).FindStepTemplate, args[0])
			if err != nil {
				return err
			}
			if err := c.DeleteStepTemplate(cmd.Context(), t.ID); err != nil {
				return err
			}
			return a.print(map[string]string{"deleted": t.ID}, func() { fmt.Fprintf(a.stdout, "Deleted step template %q\n", t.Name) })
		}}
	usage := &cobra.Command{Use: "usage TEMPLATE", Short: "List the project steps made from a step template and the version each uses", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := clientAndFind(a, cmd.Context(), (*client.Client).FindStepTemplate, args[0])
			if err != nil {
				return err
			}
			u, err := c.StepTemplateUsage(cmd.Context(), t.ID)
			if err != nil {
				return err
			}
			return a.print(u, func() {
				if len(u) == 0 {
					fmt.Fprintf(a.stdout, "No project step uses %q.\n", t.Name)
					return
				}
				rows := make([][]string, 0, len(u))
				for _, x := range u {
					state := "current"
					if x.Behind {
						state = fmt.Sprintf("behind (newest is %d)", x.Latest)
					}
					rows = append(rows, []string{x.ProjectName, x.RunbookName, x.StepName, strconv.Itoa(x.Version), state})
				}
				a.table([]string{"PROJECT", "RUNBOOK", "STEP", "VERSION", "STATE"}, rows)
			})
		}}
	cmd.AddCommand(create, list, show, update, del, usage)
	return cmd
}

func (a *app) showStepTemplate(t model.StepTemplate) {
	fmt.Fprintf(a.stdout, "%s (%s), version %d\n", t.Name, t.ID, t.Version)
	if t.Description != "" {
		fmt.Fprintln(a.stdout, t.Description)
	}
	if len(t.Parameters) > 0 {
		rows := make([][]string, 0, len(t.Parameters))
		for _, p := range t.Parameters {
			rows = append(rows, []string{p.Name, p.Label, string(p.Control), p.DefaultValue, strings.Join(p.Options, "|")})
		}
		a.table([]string{"PARAMETER", "LABEL", "CONTROL", "DEFAULT", "OPTIONS"}, rows)
	}
	switch {
	case t.Script != nil:
		fmt.Fprintf(a.stdout, "Runs a %s script:\n%s\n", t.Script.Syntax, t.Script.Body)
	case t.Package != nil:
		fmt.Fprintf(a.stdout, "Deploys package %s\n", t.Package.PackageID)
	}
}

// updateTemplateCommand moves a project's step to its template's newest
// version, showing the change first.
func (a *app) updateTemplateCommand(project *string) *cobra.Command {
	var dry bool
	cmd := &cobra.Command{Use: "update-template STEP", Short: "Move a step made from a step template to the template's newest version",
		Long: `Move a step made from a step template to the template's newest version. The
change is shown (fields of the action that change, parameters added,
removed or with another default); with --dry-run nothing is saved.`,
		Example: `  pulpo process update-template -p web "Notify chat" --dry-run
  pulpo process update-template -p web "Notify chat"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, *project)
			if err != nil {
				return err
			}
			u, err := c.UpdateStepTemplateOfStep(cmd.Context(), p.ID, args[0], dry)
			if err != nil {
				return err
			}
			return a.print(u, func() { a.showTemplateUpdate(u) })
		}}
	cmd.Flags().BoolVar(&dry, "dry-run", false, "only show what would change")
	return cmd
}

// runbookUpdateTemplateCommand moves a runbook's step to its template's
// newest version.
func (a *app) runbookUpdateTemplateCommand(project *string) *cobra.Command {
	var dry bool
	cmd := &cobra.Command{Use: "update-template RUNBOOK STEP", Short: "Move a runbook step made from a step template to the template's newest version (publish to use it)",
		Example: `  pulpo runbook update-template -p web "Rotate logs" Notify --dry-run`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, *project)
			if err != nil {
				return err
			}
			rb, err := c.FindRunbook(cmd.Context(), p.ID, args[0])
			if err != nil {
				return err
			}
			u, err := c.UpdateStepTemplateOfRunbookStep(cmd.Context(), rb.ID, args[1], dry)
			if err != nil {
				return err
			}
			return a.print(u, func() { a.showTemplateUpdate(u) })
		}}
	cmd.Flags().BoolVar(&dry, "dry-run", false, "only show what would change")
	return cmd
}

func (a *app) showTemplateUpdate(u wire.StepTemplateUpdate) {
	ch := u.Change
	if ch.From == ch.To {
		fmt.Fprintf(a.stdout, "Step %q already uses the newest version (%d)\n", u.StepName, ch.To)
		return
	}
	verb := "Moved"
	if u.DryRun {
		verb = "Would move"
	}
	fmt.Fprintf(a.stdout, "%s step %q from version %d to %d\n", verb, u.StepName, ch.From, ch.To)
	for _, line := range []struct {
		label string
		names []string
	}{{"Action fields changed", ch.Fields}, {"Parameters added", ch.ParametersAdded}, {"Parameters removed", ch.ParametersRemoved},
		{"Defaults changed", ch.DefaultsChanged}, {"Parameters otherwise changed", ch.OtherChanged}, {"Values dropped", ch.ValuesDropped}} {
		if len(line.names) > 0 {
			fmt.Fprintf(a.stdout, "  %s: %s\n", line.label, strings.Join(line.names, ", "))
		}
	}
}

// scriptModuleCommand manages the library's script modules.
func (a *app) scriptModuleCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "script-module", Aliases: []string{"script-modules"},
		Short: "Manage script modules: shared bash and Python code steps include",
		Long: `Script modules are shared code kept in the library. A step includes them by
name (pulpo process step add --script-module NAME): a bash module is sourced
before the step's bash scripts (inline, kept in a package, or a package step's
scripts); a Python module is written beside a .py script kept in a package as
NAME.py, so "import NAME" works. A release keeps the module bodies it was
created with.`}
	var syntax, body, file, description string
	read := func() error {
		if file != "" {
			b, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("read module: %w", err)
			}
			body = string(b)
		}
		return nil
	}
	create := &cobra.Command{Use: "create NAME", Short: "Create a script module", Args: cobra.ExactArgs(1),
		Example: `  pulpo script-module create notify --file notify.sh
  pulpo script-module create helpers --syntax python --file helpers.py`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := read(); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			m, err := c.CreateScriptModule(cmd.Context(), model.ScriptModule{Name: args[0], Syntax: model.ScriptSyntax(syntax), Body: body, Description: description})
			if err != nil {
				return err
			}
			return a.print(m, func() { fmt.Fprintf(a.stdout, "Created %s script module %q (%s)\n", m.Syntax, m.Name, m.ID) })
		}}
	update := &cobra.Command{Use: "update MODULE", Short: "Change a script module's body or description (releases keep theirs)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := read(); err != nil {
				return err
			}
			c, m, err := clientAndFind(a, cmd.Context(), (*client.Client).FindScriptModule, args[0])
			if err != nil {
				return err
			}
			if body != "" {
				m.Body = body
			}
			if cmd.Flags().Changed("description") {
				m.Description = description
			}
			if syntax != "" {
				m.Syntax = model.ScriptSyntax(syntax)
			}
			if m, err = c.UpdateScriptModule(cmd.Context(), m); err != nil {
				return err
			}
			return a.print(m, func() { fmt.Fprintf(a.stdout, "Saved script module %q\n", m.Name) })
		}}
	for _, c := range []*cobra.Command{create, update} {
		c.Flags().StringVar(&syntax, "syntax", "", "bash (default) or python")
		c.Flags().StringVar(&body, "body", "", "the module's code")
		c.Flags().StringVar(&file, "file", "", "read the module's code from this file")
		c.Flags().StringVar(&description, "description", "", "what it offers")
	}
	list := &cobra.Command{Use: "list", Short: "List script modules", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			all, err := c.ScriptModules(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(all, func() {
				rows := make([][]string, 0, len(all))
				for _, m := range all {
					rows = append(rows, []string{m.ID, m.Name, string(m.Syntax), m.Description})
				}
				a.table([]string{"ID", "NAME", "SYNTAX", "DESCRIPTION"}, rows)
			})
		}}
	show := &cobra.Command{Use: "show MODULE", Short: "Show a script module", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, m, err := clientAndFind(a, cmd.Context(), (*client.Client).FindScriptModule, args[0])
			if err != nil {
				return err
			}
			return a.print(m, func() { fmt.Fprintf(a.stdout, "%s (%s, %s)\n%s\n", m.Name, m.ID, m.Syntax, m.Body) })
		}}
	del := &cobra.Command{Use: "delete MODULE", Short: "Delete a script module no step includes", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, m, err := clientAndFind(a, cmd.Context(), (*client.Client).FindScriptModule, args[0])
			if err != nil {
				return err
			}
			if err := c.DeleteScriptModule(cmd.Context(), m.ID); err != nil {
				return err
			}
			return a.print(map[string]string{"deleted": m.ID}, func() { fmt.Fprintf(a.stdout, "Deleted script module %q\n", m.Name) })
		}}
	cmd.AddCommand(create, list, show, update, del)
	return cmd
}

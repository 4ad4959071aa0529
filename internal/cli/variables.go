package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// varOwner is where variables live: a project or a library variable set.
type varOwner struct {
	name string
	load func(ctx context.Context) ([]model.Variable, error)
	save func(ctx context.Context, vs []model.Variable) error
	// project is set for a project (steps can be scoped to), else nil.
	project *model.Project
}

func (a *app) owner(cmd *cobra.Command, c *client.Client, project, set string) (*varOwner, error) {
	ctx := cmd.Context()
	switch {
	case project != "" && set != "":
		return nil, errors.New("give --project or --library-set, not both")
	case project != "":
		p, err := c.FindProject(ctx, project)
		if err != nil {
			return nil, err
		}
		var version int
		return &varOwner{name: "project " + p.Name, project: &p,
			load: func(ctx context.Context) ([]model.Variable, error) {
				vs, err := c.Variables(ctx, p.ID)
				version = vs.Version
				return vs.Variables, err
			},
			save: func(ctx context.Context, vars []model.Variable) error {
				_, err := c.SaveVariables(ctx, model.VariableSet{OwnerID: p.ID, Version: version, Variables: vars})
				return err
			}}, nil
	case set != "":
		var l model.LibraryVariableSet
		return &varOwner{name: "library variable set " + set,
			load: func(ctx context.Context) ([]model.Variable, error) {
				var err error
				l, err = c.FindLibrarySet(ctx, set)
				return l.Variables, err
			},
			save: func(ctx context.Context, vars []model.Variable) error {
				l.Variables = vars
				_, err := c.UpdateLibrarySet(ctx, l)
				return err
			}}, nil
	}
	return nil, errors.New("whose variables? give --project (-p) or --library-set")
}

// ownerScope finds whose variables these are, the scope the flags name, and
// the variables as they are now.
func (a *app) ownerScope(cmd *cobra.Command, project, set string, flags *scopeFlags) (*varOwner, model.Scope, []model.Variable, error) {
	c, err := a.client()
	if err != nil {
		return nil, model.Scope{}, nil, err
	}
	o, err := a.owner(cmd, c, project, set)
	if err != nil {
		return nil, model.Scope{}, nil, err
	}
	scope, err := flags.scope(cmd.Context(), c, o)
	if err != nil {
		return nil, model.Scope{}, nil, err
	}
	vars, err := o.load(cmd.Context())
	return o, scope, vars, err
}

// scopeFlags are the scope a value is set or deleted for, by name.
type scopeFlags struct {
	envs, roles, machines, steps, channels []string
}

func (f *scopeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.envs, "environment", nil, "scope to this environment (repeat for several)")
	cmd.Flags().StringArrayVar(&f.roles, "role", nil, "scope to machines with this role (repeat for several)")
	cmd.Flags().StringArrayVar(&f.machines, "machine", nil, "scope to this machine (repeat for several)")
	cmd.Flags().StringArrayVar(&f.steps, "step", nil, "scope to this step of the project's process (repeat for several)")
	cmd.Flags().StringArrayVar(&f.channels, "channel", nil, "scope to releases in this channel of the project (repeat for several)")
}

func (f *scopeFlags) scope(ctx context.Context, c *client.Client, o *varOwner) (model.Scope, error) {
	var s model.Scope
	for _, name := range f.envs {
		e, err := c.FindEnvironment(ctx, name)
		if err != nil {
			return s, err
		}
		s.Environments = append(s.Environments, e.ID)
	}
	s.Roles = f.roles
	for _, name := range f.machines {
		m, err := c.FindMachine(ctx, name)
		if err != nil {
			return s, err
		}
		s.Machines = append(s.Machines, m.ID)
	}
	if len(f.steps) > 0 {
		if o.project == nil {
			return s, errors.New("a library set's values cannot be scoped to steps")
		}
		d, err := c.Process(ctx, o.project.ID)
		if err != nil {
			return s, err
		}
	steps:
		for _, name := range f.steps {
			for _, st := range d.Steps {
				if st.ID == name || model.SameName(st.Name, name) {
					s.Steps = append(s.Steps, st.ID)
					continue steps
				}
			}
			return s, fmt.Errorf("project %s has no step %q", o.project.Name, name)
		}
	}
	if len(f.channels) > 0 {
		if o.project == nil {
			return s, errors.New("a library set's values cannot be scoped to channels")
		}
		channels, err := c.Channels(ctx, o.project.ID)
		if err != nil {
			return s, err
		}
	channels:
		for _, name := range f.channels {
			for _, ch := range channels {
				if ch.ID == name || model.SameName(ch.Name, name) {
					s.Channels = append(s.Channels, ch.ID)
					continue channels
				}
			}
			return s, fmt.Errorf("project %s has no channel %q", o.project.Name, name)
		}
	}
	return s, nil
}

func (a *app) variableCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "variable", Aliases: []string{"variables", "var"}, Short: "Manage the variables of a project or a library variable set"}
	var project, set string
	cmd.PersistentFlags().StringVarP(&project, "project", "p", "", "the project whose variables these are")
	cmd.PersistentFlags().StringVar(&set, "library-set", "", "or the library variable set")
	list := &cobra.Command{Use: "list", Short: "List variables with their scopes (sensitive values are never shown)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			o, err := a.owner(cmd, c, project, set)
			if err != nil {
				return err
			}
			vars, err := o.load(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(nonNil(vars), func() {
				names := newNamer(cmd.Context(), c)
				own := o.partNames(cmd.Context(), c, vars)
				var rows [][]string
				for _, v := range vars {
					value := v.Value
					if v.Sensitive {
						value = "(sensitive, set)"
					}
					if v.IsCertificate() {
						value += " (certificate)"
					}
					rows = append(rows, []string{v.Name, value, scopeText(v.Scope, names, own)})
				}
				a.table([]string{"NAME", "VALUE", "SCOPE"}, rows)
			})
		}}
	var flags scopeFlags
	var sensitive, fromStdin, promptRequired, certificate bool
	var promptLabel string
	setCmd := &cobra.Command{Use: "set NAME [VALUE]", Short: "Set a variable's value for a scope (replacing the value with the same scope)",
		Args: cobra.RangeArgs(1, 2),
		Example: `  pulpo variable set -p web Greeting "hello"
  pulpo variable set -p web Greeting "hello dev" --environment Dev
  pulpo variable set -p web LogLevel debug --role web --environment Test
  pulpo variable set -p web Banner "beta build" --channel Beta
  pulpo variable set -p web DbPassword --sensitive --value-stdin < password.txt
  pulpo variable set --library-set Common SmtpHost smtp.internal
  pulpo variable set -p web SiteCert "Site TLS" --certificate`,
		RunE: func(cmd *cobra.Command, args []string) error {
			value, err := valueArg(args, fromStdin)
			if err != nil {
				return err
			}
			o, scope, vars, err := a.ownerScope(cmd, project, set, &flags)
			if err != nil {
				return err
			}
			v := model.Variable{Name: args[0], Value: value, Scope: scope, Sensitive: sensitive}
			if certificate {
				v.Type = model.VariableTypeCertificate
			}
			if promptLabel != "" || promptRequired {
				v.Prompt = &model.Prompt{Label: promptLabel, Required: promptRequired}
			}
			replaced := false
			for i := range vars {
				if model.SameName(vars[i].Name, v.Name) && model.SameScope(vars[i].Scope, scope) {
					v.ID = vars[i].ID
					vars[i], replaced = v, true
				}
			}
			if !replaced {
				vars = append(vars, v)
			}
			if err := o.save(cmd.Context(), vars); err != nil {
				return err
			}
			return a.print(v.Name, func() { fmt.Fprintf(a.stdout, "Set %s in %s\n", v.Name, o.name) })
		}}
	flags.add(setCmd)
	setCmd.Flags().BoolVar(&sensitive, "sensitive", false, "a secret: stored encrypted, never shown again, masked in task logs")
	setCmd.Flags().BoolVar(&fromStdin, "value-stdin", false, "read the value from standard input (keeps secrets out of shell history)")
	setCmd.Flags().StringVar(&promptLabel, "prompt", "", "ask for the value when deploying (release deploy --variable NAME=VALUE), with this label; VALUE is the default")
	setCmd.Flags().BoolVar(&promptRequired, "prompt-required", false, "a prompted value that must be given at every deployment")
	setCmd.Flags().BoolVar(&certificate, "certificate", false, "VALUE is a certificate of the library (name or id): scripts get #{NAME.CertificatePem}, #{NAME.PrivateKeyPem}, #{NAME.Thumbprint}…")
	var all bool
	del := &cobra.Command{Use: "delete NAME", Short: "Delete a variable's value for a scope (every value with --all)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, scope, vars, err := a.ownerScope(cmd, project, set, &flags)
			if err != nil {
				return err
			}
			kept := vars[:0]
			for _, v := range vars {
				if model.SameName(v.Name, args[0]) && (all || model.SameScope(v.Scope, scope)) {
					continue
				}
				kept = append(kept, v)
			}
			if len(kept) == len(vars) {
				return fmt.Errorf("%s has no value of %q with that scope", o.name, args[0])
			}
			if err := o.save(cmd.Context(), kept); err != nil {
				return err
			}
			return a.print(args[0], func() { fmt.Fprintf(a.stdout, "Deleted %s from %s\n", args[0], o.name) })
		}}
	flags.add(del)
	del.Flags().BoolVar(&all, "all", false, "delete every value of the variable")
	var previewEnv, previewMachine, previewStep, previewChannel string
	preview := &cobra.Command{Use: "preview", Short: "Show the values a step would get now, for an environment, machine, step and channel",
		Example: `  pulpo variables preview -p web --environment Production --machine web-3 --step Deploy --channel Hotfix`, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if project == "" {
				return errors.New("preview needs --project (-p)")
			}
			p, err := c.FindProject(cmd.Context(), project)
			if err != nil {
				return err
			}
			out, err := c.PreviewVariables(cmd.Context(), p.ID, previewEnv, previewMachine, previewStep, previewChannel)
			if err != nil {
				return err
			}
			return a.print(out, func() {
				var rows [][]string
				for _, v := range out {
					rows = append(rows, []string{v.Name, v.Value})
				}
				a.table([]string{"NAME", "VALUE"}, rows)
			})
		}}
	preview.Flags().StringVar(&previewEnv, "environment", "", "the environment")
	preview.Flags().StringVar(&previewMachine, "machine", "", "the machine")
	preview.Flags().StringVar(&previewStep, "step", "", "the step")
	preview.Flags().StringVar(&previewChannel, "channel", "", "the channel of the release (name or id)")
	cmd.AddCommand(list, setCmd, del, preview)
	return cmd
}

// valueArg takes the value from the argument or standard input.
func valueArg(args []string, fromStdin bool) (string, error) {
	switch {
	case fromStdin && len(args) == 2:
		return "", errors.New("give the value as an argument or with --value-stdin, not both")
	case fromStdin:
		b, err := io.ReadAll(bufio.NewReader(os.Stdin))
		if err != nil {
			return "", fmt.Errorf("read the value: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case len(args) == 2:
		return args[1], nil
	}
	return "", nil // an empty value (or, for a sensitive one, the value it has)
}

// partNames are the names of a project's steps and channels, which scopes
// give by id; a name that cannot be found shows as its id.
type partNames struct{ steps, channels map[string]string }

// partNames reads the names of the owner's steps and channels, if the
// values are scoped to any.
func (o *varOwner) partNames(ctx context.Context, c *client.Client, vars []model.Variable) partNames {
	n := partNames{steps: map[string]string{}, channels: map[string]string{}}
	if o.project == nil {
		return n
	}
	var steps, channels bool
	for _, v := range vars {
		steps, channels = steps || len(v.Scope.Steps) > 0, channels || len(v.Scope.Channels) > 0
	}
	if steps {
		if d, err := c.Process(ctx, o.project.ID); err == nil {
			for _, st := range d.Steps {
				n.steps[st.ID] = st.Name
			}
		}
	}
	if channels {
		if chs, err := c.Channels(ctx, o.project.ID); err == nil {
			for _, ch := range chs {
				n.channels[ch.ID] = ch.Name
			}
		}
	}
	return n
}

func scopeText(s model.Scope, names *namer, own partNames) string {
	if s.IsZero() {
		return "(everywhere)"
	}
	var parts []string
	list := func(kind string, ids []string, name func(string) string) {
		if len(ids) == 0 {
			return
		}
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = name(id)
		}
		parts = append(parts, kind+": "+strings.Join(out, ", "))
	}
	same := func(s string) string { return s }
	list("environments", s.Environments, names.environment)
	list("roles", s.Roles, same)
	list("machines", s.Machines, names.machine)
	list("steps", s.Steps, func(id string) string { return orID(own.steps[id], id) })
	list("channels", s.Channels, func(id string) string { return orID(own.channels[id], id) })
	return strings.Join(parts, "; ")
}

func (a *app) librarySetCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "library-set", Aliases: []string{"library-sets", "libraryset"}, Short: "Manage library variable sets that projects include"}
	list := &cobra.Command{Use: "list", Short: "List library variable sets", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			sets, err := c.LibrarySets(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(nonNil(sets), func() {
				var rows [][]string
				for _, l := range sets {
					rows = append(rows, []string{l.ID, l.Name, fmt.Sprint(len(l.Variables)), l.Description})
				}
				a.table([]string{"ID", "NAME", "VALUES", "DESCRIPTION"}, rows)
			})
		}}
	var description string
	create := &cobra.Command{Use: "create NAME", Short: "Create a library variable set", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			l, err := c.CreateLibrarySet(cmd.Context(), model.LibraryVariableSet{Name: args[0], Description: description})
			if err != nil {
				return err
			}
			return a.print(l, func() {
				fmt.Fprintf(a.stdout, "Created library variable set %s (%s); add values with: pulpo variable set --library-set %q NAME VALUE\n", l.Name, l.ID, l.Name)
			})
		}}
	create.Flags().StringVar(&description, "description", "", "what the set holds")
	include := &cobra.Command{Use: "include SET --project PROJECT", Short: "Make a project include a set (new releases take its values)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			project, _ := cmd.Flags().GetString("project")
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			l, err := c.FindLibrarySet(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			for _, id := range p.LibrarySetIDs {
				if id == l.ID {
					return a.print(p, func() { fmt.Fprintf(a.stdout, "%s already includes %s\n", p.Name, l.Name) })
				}
			}
			p.LibrarySetIDs = append(p.LibrarySetIDs, l.ID)
			if p, err = c.UpdateProject(cmd.Context(), p); err != nil {
				return err
			}
			return a.print(p, func() { fmt.Fprintf(a.stdout, "%s now includes %s\n", p.Name, l.Name) })
		}}
	include.Flags().StringP("project", "p", "", "the project (required)")
	include.MarkFlagRequired("project")
	cmd.AddCommand(list, create, include)
	return cmd
}

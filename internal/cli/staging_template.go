package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// stagingTemplateCommand reads and sets a project's staging template.
func (a *app) stagingTemplateCommand(project *string) *cobra.Command {
	cmd := &cobra.Command{Use: "template", Short: "Read and set a project's staging template: control scripts, defaults, naming and expiry",
		Long: `A project's staging template holds the control scripts that create, update,
check, archive, restore and clean up its stagings (bash; create, update,
archive and cleanup are required), the default settings, the naming rule,
idle expiry and archive retention. Its fields are those of the API's
StagingTemplate: scripts (create, update, archive, restore, check,
archiveCheck, cleanup, configCheck, info, notify), arguments (pulpo or
octopod), scriptTimeout, baseDomain, namespace, defaults (app, deployment),
sensitiveKeys, namePattern, idleExpiry, archiveRetention, statusTimeout,
checkInterval, workerPoolId, tagKey. Durations are text such as 30m or 72h.`}

	var outFile string
	get := &cobra.Command{Use: "get", Short: "Print a project's staging template as YAML (JSON with -o json)", Args: cobra.NoArgs,
		Long: `Print a project's staging template as YAML, or as JSON with -o json. Sensitive
defaults show as ********; sent back unchanged by "template set", they keep
their stored value. The version field makes "template set" refuse the file
if someone changed the template since.`,
		Example: `  pulpo staging template get --project web > staging-template.yaml
  pulpo staging template get -p web -f staging-template.yaml
  pulpo staging template get -p web -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.stagingProject(cmd, *project)
			if err != nil {
				return err
			}
			t, err := c.StagingTemplate(cmd.Context(), p.ID)
			if client.IsNotFound(err) {
				return fmt.Errorf("project %s has no staging template yet: write one and set it with pulpo staging template set --project %s -f FILE", p.Name, p.Name)
			}
			if err != nil {
				return err
			}
			var out []byte
			if a.output == "json" {
				out, err = json.MarshalIndent(t, "", "  ")
				out = append(out, '\n')
			} else {
				out, err = stagingTemplateYAML(t)
			}
			if err != nil {
				return err
			}
			if outFile == "" || outFile == "-" {
				_, err = a.stdout.Write(out)
				return err
			}
			if err := os.WriteFile(outFile, out, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", outFile, err)
			}
			fmt.Fprintf(a.stderr, "Wrote %s\n", outFile)
			return nil
		}}
	get.Flags().StringVarP(&outFile, "file", "f", "", "write to this file instead of standard output")

	var inFile string
	var force bool
	set := &cobra.Command{Use: "set", Short: "Set a project's staging template from a YAML or JSON file", Args: cobra.NoArgs,
		Long: `Set a project's staging template from a YAML or JSON file. When the file has
the version "template get" wrote, the server refuses it if the template
changed since; --force (or a file without a version) replaces whatever is
there. Unknown fields are an error, so a misspelt field is not silently
dropped.`,
		Example: `  pulpo staging template set --project web -f staging-template.yaml

  # staging-template.yaml
  # (scripts get the contract's arguments in "$@" and are first rendered
  # with #{Staging.Name}, #{Staging.App.KEY} and the like)
  scripts:
    create: ./stagings/create "$@"
    update: ./stagings/update "$@"
    archive: |
      kubectl -n "#{Staging.Namespace}" scale deployment -l staging="#{Staging.Name}" --replicas=0
    cleanup: ./stagings/cleanup "$@"
    info: echo "web,https://#{Staging.Name}.#{Staging.BaseDomain}/"
  baseDomain: staging.example.com
  defaults:
    app:
      tag: latest
    deployment:
      replicas: 1
  idleExpiry: 72h
  archiveRetention: 336h`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if inFile == "" {
				return fmt.Errorf("give the file with -f (use -f - to read standard input)")
			}
			var data []byte
			var err error
			if inFile == "-" {
				data, err = io.ReadAll(os.Stdin)
			} else {
				data, err = os.ReadFile(inFile)
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", inFile, err)
			}
			t, err := parseStagingTemplate(data)
			if err != nil {
				return fmt.Errorf("%s: %w", inFile, err)
			}
			c, p, err := a.stagingProject(cmd, *project)
			if err != nil {
				return err
			}
			if t.ProjectID != "" && t.ProjectID != p.ID {
				return fmt.Errorf("%s is the template of project %s, not of %s: remove its projectId to use it here", inFile, t.ProjectID, p.Name)
			}
			t.ProjectID = p.ID
			if force {
				t.Version = 0
			}
			saved, err := c.SaveStagingTemplate(cmd.Context(), t)
			if err != nil {
				return err
			}
			return a.print(saved, func() {
				fmt.Fprintf(a.stdout, "Set the staging template of %s (version %d)\n", p.Name, saved.Version)
			})
		}}
	set.Flags().StringVarP(&inFile, "file", "f", "", "YAML or JSON file (- for standard input)")
	set.Flags().BoolVar(&force, "force", false, "replace the template even if it changed since the file's version was read")
	cmd.AddCommand(get, set)
	return cmd
}

// stagingTemplateYAML writes a template as YAML with the API's field
// names and forms (durations as text), in the API's field order, scripts
// as literal blocks. It goes through the JSON form because that is the
// form the API defines.
func stagingTemplateYAML(t model.StagingTemplate) ([]byte, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	node, err := jsonToYAML(dec)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// jsonToYAML turns the next JSON value into a YAML node, keeping the
// order of object keys.
func jsonToYAML(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if v == '{' {
			n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		for dec.More() {
			if n.Kind == yaml.MappingNode {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fmt.Sprint(k)})
			}
			child, err := jsonToYAML(dec)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, child)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
		if strings.Contains(v, "\n") {
			n.Style = yaml.LiteralStyle
		}
		return n, nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(v.String(), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(v)}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// parseStagingTemplate reads a template from YAML or JSON (YAML holds
// JSON) in the API's JSON shape: the fields' JSON names, durations as
// text ("30m") or seconds. Default settings may be written as numbers or
// booleans (replicas: 2); they are text to the API.
func parseStagingTemplate(data []byte) (model.StagingTemplate, error) {
	var t model.StagingTemplate
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return t, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return t, errors.New("the file is empty")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return t, errors.New("the template is a mapping of fields (scripts, defaults, idleExpiry…)")
	}
	v, err := yamlToJSON(root, nil)
	if err != nil {
		return t, err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return t, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return t, fmt.Errorf("%s: a %s cannot be a %s", te.Field, te.Type, te.Value)
		}
		return t, errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	return t, nil
}

// yamlToJSON turns a YAML node into a value for encoding/json; path is
// where it sits, so that the values of defaults.app and
// defaults.deployment stay text whatever they look like.
func yamlToJSON(n *yaml.Node, path []string) (any, error) {
	if n.Kind == yaml.AliasNode {
		return yamlToJSON(n.Alias, path)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("line %d: %s is given twice", n.Content[i].Line, strings.Join(append(path, k), "."))
			}
			v, err := yamlToJSON(n.Content[i+1], append(slices.Clone(path), k))
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		return m, nil
	case yaml.SequenceNode:
		out := []any{}
		for _, c := range n.Content {
			v, err := yamlToJSON(c, path)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		if len(path) == 3 && path[0] == "defaults" && (path[1] == "app" || path[1] == "deployment") {
			if n.ShortTag() == "!!null" {
				return "", nil
			}
			return n.Value, nil
		}
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool", "!!int", "!!float":
			var v any
			if err := n.Decode(&v); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			return v, nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML", n.Line)
}

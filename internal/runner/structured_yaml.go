package runner

import (
	"bytes"
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// replaceYAML replaces values through yaml.v3's node tree, which keeps
// comments, key order, anchors and quoting styles; the file is written
// again only when a value changed, and then with yaml.v3's layout at the
// file's indentation. Types are kept as for JSON: a number or boolean
// stays one if the new value reads as one when written plain; strings stay
// strings (quoted if needed), and so do nulls, as Octopus's JSON rules do.
// A mapping or sequence is replaced by the value read as YAML (JSON is
// YAML); a value that is not YAML becomes a string.
func replaceYAML(content []byte, values []structuredValue, out *output) ([]byte, []string, error) {
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(content))
	for {
		doc := new(yaml.Node)
		err := dec.Decode(doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, &parseError{msg: err.Error()}
		}
		docs = append(docs, doc)
	}
	paths := map[string]yamlTarget{}
	for _, doc := range docs {
		if len(doc.Content) == 1 {
			mapYAML(doc.Content[0], "", 0, paths)
		}
	}

	type change struct {
		target yamlTarget
		value  structuredValue
	}
	var changes []change
	for _, v := range values {
		if skippedForKeyPaths(v.name) {
			continue
		}
		if t, ok := paths[strings.ToLower(v.name)]; ok {
			changes = append(changes, change{t, v})
		}
	}
	// Outer values first, so a value inside one already replaced is known
	// to be gone (as with JSON, replacing the whole wins).
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].target.depth < changes[j].target.depth })
	gone := map[*yaml.Node]bool{}
	var applied []string
	for _, c := range changes {
		if gone[c.target.node] {
			continue
		}
		if c.target.node.Kind == yaml.MappingNode || c.target.node.Kind == yaml.SequenceNode {
			markSubtree(c.target.node, gone)
			replaceYAMLStructure(c.target.node, c.value.value)
		} else {
			setYAMLScalar(c.target.node, c.value.value)
		}
		applied = append(applied, c.value.name)
	}
	if len(applied) == 0 {
		return content, nil, nil
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(yamlIndent(content))
	for _, doc := range docs {
		if err := enc.Encode(doc); err != nil {
			return nil, nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, nil, err
	}
	return b.Bytes(), applied, nil
}

type yamlTarget struct {
	node  *yaml.Node
	depth int
}

// mapYAML records every value under node by its key path. Aliases are not
// followed (their anchor is reachable by its own path) and merge keys are
// not expanded.
func mapYAML(node *yaml.Node, path string, depth int, paths map[string]yamlTarget) {
	switch node.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			key, val := node.Content[i], node.Content[i+1]
			if key.Kind != yaml.ScalarNode || key.Value == "<<" {
				continue
			}
			p := joinKeyPath(path, key.Value)
			paths[strings.ToLower(p)] = yamlTarget{val, depth + 1}
			mapYAML(val, p, depth+1, paths)
		}
	case yaml.SequenceNode:
		for i, val := range node.Content {
			p := joinKeyPath(path, strconv.Itoa(i))
			paths[strings.ToLower(p)] = yamlTarget{val, depth + 1}
			mapYAML(val, p, depth+1, paths)
		}
	}
}

func markSubtree(n *yaml.Node, gone map[*yaml.Node]bool) {
	for _, c := range n.Content {
		gone[c] = true
		markSubtree(c, gone)
	}
}

func setYAMLScalar(n *yaml.Node, value string) {
	original := n.ShortTag()
	customTag := n.Tag != "" && !strings.HasPrefix(n.Tag, "!!")
	n.Value = value
	if customTag {
		return // the application reads its own tag; keep it and the style
	}
	want := "!!str"
	if original != "!!str" && original != "!!null" {
		plain := yamlPlainTag(value)
		numeric := func(t string) bool { return t == "!!int" || t == "!!float" }
		if plain == original || numeric(plain) && numeric(original) {
			want = plain
		}
	}
	n.Tag = want
	if want != "!!str" {
		n.Style &^= yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
	}
}

// yamlPlainTag is the type YAML gives value written unquoted, or "" if it
// cannot be written unquoted as one scalar.
func yamlPlainTag(value string) string {
	var doc yaml.Node
	if yaml.Unmarshal([]byte(value), &doc) != nil || len(doc.Content) != 1 {
		return ""
	}
	n := doc.Content[0]
	if n.Kind != yaml.ScalarNode || n.Style != 0 || n.Value != value {
		return ""
	}
	return n.ShortTag()
}

func replaceYAMLStructure(n *yaml.Node, value string) {
	anchor := n.Anchor
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(value), &doc); err == nil && len(doc.Content) == 1 {
		*n = *doc.Content[0]
	} else {
		*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	}
	n.Anchor = anchor
}

// yamlIndent is the file's smallest indentation, so a rewritten file keeps
// it (2 if none; yaml.v3 needs at least 2).
func yamlIndent(src []byte) int {
	smallest := 0
	for _, line := range strings.Split(string(src), "\n") {
		n := len(line) - len(strings.TrimLeft(line, " "))
		rest := strings.TrimSpace(line)
		if n == 0 || rest == "" || strings.HasPrefix(rest, "#") {
			continue
		}
		if smallest == 0 || n < smallest {
			smallest = n
		}
	}
	if smallest < 2 {
		return 2
	}
	return smallest
}

package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/template"
)

// Structured configuration variables, as Octopus's feature of that name
// (docs: shared-content/structured-configuration-variables.include.md;
// Calamari: StructuredConfigVariablesService and its replacers):
//
//   - JSON and YAML values are named by their keys from the root joined
//     with ':' (Logging:LogLevel:Default, Servers:0:Host), matched ignoring
//     case; names starting with "Octopus" but not "Octopus:" are skipped.
//   - XML values are named by XPath expressions (a subset; see xpath.go).
//   - .properties values are named by their key.
//
// A file is tried as JSON first (Octopus's backwards compatibility), then
// as the format its extension names; with an unknown extension, as JSON,
// XML, YAML and properties in turn, and the first that parses wins.

// structuredValue is a variable offered to the replacers: its name and its
// value with templates inside it rendered.
type structuredValue struct {
	name  string
	value string
}

// replacer rewrites one format. It returns the new content and the names
// of the variables it applied; a *parseError means "not this format".
type replacer struct {
	format  string
	replace func(content []byte, values []structuredValue, out *output) ([]byte, []string, error)
}

// parseError is content that is not in the replacer's format.
type parseError struct{ msg string }

func (e *parseError) Error() string { return e.msg }

var (
	jsonReplacer       = replacer{"JSON", replaceJSON}
	yamlReplacer       = replacer{"YAML", replaceYAML}
	xmlReplacer        = replacer{"XML", replaceXML}
	propertiesReplacer = replacer{"properties", replaceProperties}
)

// replacersFor lists the formats to try for a file, in order.
func replacersFor(name string) []replacer {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return []replacer{jsonReplacer}
	case ".yaml", ".yml":
		return []replacer{jsonReplacer, yamlReplacer}
	case ".xml":
		return []replacer{jsonReplacer, xmlReplacer}
	case ".properties":
		return []replacer{jsonReplacer, propertiesReplacer}
	}
	return []replacer{jsonReplacer, xmlReplacer, yamlReplacer, propertiesReplacer}
}

// structuredValues renders every variable's value once, in the manifest's
// order; a value whose template fails is used as written, with a warning.
func structuredValues(vars *variableSet, out *output) []structuredValue {
	values := make([]structuredValue, 0, len(vars.Names()))
	for _, name := range vars.Names() {
		raw, _ := vars.Get(name)
		v, err := template.Evaluate(raw, vars, template.Options{InValue: true})
		if err != nil {
			out.Warnf("the value of variable %q could not be rendered (%v); its text is used as written", name, err)
			v = raw
		}
		values = append(values, structuredValue{name: name, value: v})
	}
	return values
}

// replaceStructured applies the variables to every file matching patterns.
func replaceStructured(root string, patterns []string, vars *variableSet, out *output) error {
	if len(patterns) == 0 {
		out.Warnf("structured configuration variables are enabled but no files are listed; nothing to do")
		return nil
	}
	files, unmatched, err := matchingFiles(root, patterns)
	if err != nil {
		return err
	}
	for _, p := range unmatched {
		out.Warnf("no files match the structured configuration pattern %q", p)
	}
	values := structuredValues(vars, out)
	for _, rel := range files {
		if err := replaceStructuredFile(filepath.Join(root, filepath.FromSlash(rel)), rel, values, out); err != nil {
			return err
		}
	}
	return nil
}

func replaceStructuredFile(path, rel string, values []structuredValue, out *output) error {
	content, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	replacers := replacersFor(rel)
	for i, r := range replacers {
		updated, applied, err := r.replace(content, values, out)
		var pe *parseError
		if errors.As(err, &pe) {
			if i < len(replacers)-1 {
				continue
			}
			return fmt.Errorf("%s could not be parsed as %s: %v", rel, r.format, pe)
		}
		if err != nil {
			return fmt.Errorf("%s (%s): %w", rel, r.format, err)
		}
		if len(applied) == 0 || string(updated) == string(content) {
			out.Infof("Structured configuration: %s (%s): no variable matched", rel, r.format)
			return nil
		}
		if err := replaceFile(path, updated); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		sort.Strings(applied)
		out.Infof("Structured configuration: %s (%s): replaced %s", rel, r.format, strings.Join(applied, ", "))
		return nil
	}
	return nil
}

// skippedForKeyPaths is Octopus's rule for JSON and YAML: system variables
// (Octopus.*) must not hit a key by accident, but "Octopus:…" is a path.
func skippedForKeyPaths(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasPrefix(lower, "octopus") && !strings.HasPrefix(lower, "octopus:")
}

// edit replaces src[start:end] with text.
type edit struct {
	start, end int
	text       string
	name       string // the variable that asked for it
}

// applyEdits makes the edits to src. An edit inside another one is dropped
// (replacing a whole object or element wins over replacing part of it); of
// two edits of the same span, the later one wins. It returns the names of
// the edits kept.
func applyEdits(src []byte, edits []edit) ([]byte, []string) {
	sort.SliceStable(edits, func(i, j int) bool {
		if edits[i].start != edits[j].start {
			return edits[i].start < edits[j].start
		}
		return edits[i].end > edits[j].end
	})
	var kept []edit
	for _, e := range edits {
		if n := len(kept); n > 0 {
			last := kept[n-1]
			if e.start == last.start && e.end == last.end {
				kept[n-1] = e
				continue
			}
			if e.start < last.end {
				continue
			}
		}
		kept = append(kept, e)
	}
	var b strings.Builder
	b.Grow(len(src))
	at := 0
	names := make([]string, 0, len(kept))
	for _, e := range kept {
		b.Write(src[at:e.start])
		b.WriteString(e.text)
		at = e.end
		names = append(names, e.name)
	}
	b.Write(src[at:])
	return []byte(b.String()), names
}

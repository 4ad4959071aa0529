package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
)

// printJSON writes v as indented JSON.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// print writes v as JSON, or runs text to write it for people.
func (a *app) print(v any, text func()) error {
	if a.output == "json" {
		return a.printJSON(v)
	}
	text()
	return nil
}

// table writes aligned columns.
func (a *app) table(header []string, rows [][]string) {
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
}

// fields writes "name: value" lines, aligned.
func (a *app) fields(pairs ...string) {
	w := tabwriter.NewWriter(a.stdout, 0, 4, 1, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			continue
		}
		fmt.Fprintf(w, "%s:\t%s\n", pairs[i], pairs[i+1])
	}
	w.Flush()
}

package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// printComparisons prints, for each Compare group, every tool's median and
// spread and the ratio of Pulpo's median to it (below 1: Pulpo is faster).
func printComparisons(out io.Writer, results []Result) {
	var groups []string
	byGroup := map[string][]Result{}
	for _, r := range results {
		if r.Compare == "" {
			continue
		}
		if _, ok := byGroup[r.Compare]; !ok {
			groups = append(groups, r.Compare)
		}
		byGroup[r.Compare] = append(byGroup[r.Compare], r)
	}
	if len(groups) == 0 {
		return
	}
	fmt.Fprintln(out, "\nPulpo and the tools people use instead (same machine, same run; ratio = Pulpo's median ÷ the tool's, below 1 is faster)")
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "work\ttool\truns\tmedian ms\tmin–max ms\tbytes on wire\tPulpo ÷ tool\tnote")
	for _, g := range groups {
		var pulpo *Result
		for i, r := range byGroup[g] {
			if r.Tool == "pulpo" {
				pulpo = &byGroup[g][i]
			}
		}
		for _, r := range byGroup[g] {
			ratio := ""
			if pulpo != nil && r.Tool != "pulpo" && r.MedianMs > 0 {
				ratio = fmt.Sprintf("%.2f", pulpo.MedianMs/r.MedianMs)
			}
			bytes := ""
			if r.BytesOnWire > 0 {
				bytes = humanBytes(r.BytesOnWire)
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%.1f\t%.1f–%.1f\t%s\t%s\t%s\n", g, r.Tool, r.Runs, r.MedianMs, r.MinMs, r.MaxMs, bytes, ratio, r.Note)
		}
	}
	w.Flush()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// printComparisons prints, for each Compare group, every tool's median and
// spread and the ratio of Pulpo's median (the reference row's) to it
// (below 1: Pulpo is faster).
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
		pulpo := referenceRow(byGroup[g])
		for i, r := range byGroup[g] {
			ratio := ""
			if pulpo >= 0 && i != pulpo && r.MedianMs > 0 {
				ratio = fmt.Sprintf("%.2f", byGroup[g][pulpo].MedianMs/r.MedianMs)
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

// referenceRow is the index of a group's Pulpo row, the one the others are
// compared with: the first whose Tool is "pulpo" or starts with it (a group
// of several Pulpo variants, such as "pulpo (listening)" and "pulpo
// (polling)", lists the reference first); -1 if there is none.
func referenceRow(group []Result) int {
	for i, r := range group {
		if strings.HasPrefix(r.Tool, "pulpo") {
			return i
		}
	}
	return -1
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

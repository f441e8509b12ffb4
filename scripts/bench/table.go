package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

// row is one line of the results table: a figure beside its reference,
// measured in the same run, and the goal for their ratio.
type row struct {
	ID        string // P1, P1b, …
	Figure    string // what is measured
	Value     string // Sluice's figure
	Reference string // the reference's figure, "—" when the goal is absolute
	Ratio     string // "—" when there is none
	Goal      string
	Met       *bool // nil: no goal
}

func met(ok bool) *bool { return &ok }

func (r row) verdict() string {
	switch {
	case r.Met == nil:
		return "—"
	case *r.Met:
		return "met"
	default:
		return "**missed**"
	}
}

// markdown renders the rows as one Markdown table.
func markdown(rows []row) string {
	var b strings.Builder
	b.WriteString("| # | figure | Sluice | reference | ratio | goal | goal met |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		cells := []string{r.ID, r.Figure, r.Value, r.Reference, r.Ratio, r.Goal, r.verdict()}
		for i, c := range cells {
			if c == "" {
				cells[i] = "—"
			}
			cells[i] = strings.ReplaceAll(cells[i], "|", `\|`)
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
	}
	return b.String()
}

// machine describes where the figures were measured.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d cores (%s), %s/%s%s, %s", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH, kernel, runtime.Version())
}

// Formatting of figures.
func ratio(a, b float64) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func dollars(d float64) string { return fmt.Sprintf("$%.6f", d) }

func count(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

package grid

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

//go:embed status.html.tmpl
var pageTemplate string

var page = template.Must(template.New("status").Funcs(template.FuncMap{
	"symbol":    func(s State) string { return strings.TrimSpace(Symbols[s]) },
	"age":       Age,
	"duration":  duration,
	"errorText": errorText,
	"title":     title,
}).Parse(pageTemplate))

// failedInput is a failed cell with its input, for the page's list.
type failedInput struct {
	Input string
	Cell  Cell
}

type legendItem struct {
	State State
	Text  string
}

// HTML writes g as one self-contained page: inline CSS and script, no
// external assets. Each cell carries its run's fields as data-*
// attributes and a title (hover); a click shows them under the grid.
func HTML(w io.Writer, g Grid) error {
	var failed []failedInput
	for _, s := range g.Sources {
		for _, c := range s.Failures() {
			failed = append(failed, failedInput{Input: s.Name + "/" + c.Window, Cell: c})
		}
	}
	var legend []legendItem
	for _, st := range States {
		legend = append(legend, legendItem{st, legendText[st]})
	}
	return page.Execute(w, struct {
		Grid
		Failed []failedInput
		Legend []legendItem
	}{g, failed, legend})
}

func duration(ms int64) string {
	if ms == 0 {
		return ""
	}
	return (time.Duration(ms) * time.Millisecond).String()
}

func errorText(c Cell) string {
	if c.ErrorClass != "" {
		return c.ErrorClass + ": " + c.Error
	}
	return c.Error
}

// title is a cell's hover text: its input, state and run in one line.
func title(source string, c Cell) string {
	parts := []string{source + "/" + c.Window, legendText[c.State]}
	if c.Status != "" {
		parts = append(parts, fmt.Sprintf("%s, attempt %d", c.Status, c.Attempt), fmt.Sprintf("%d records", c.Records))
	}
	if d := duration(c.DurationMS); d != "" {
		parts = append(parts, d)
	}
	if c.Progress != "" {
		parts = append(parts, c.Progress)
	}
	if e := errorText(c); e != "" {
		parts = append(parts, e)
	}
	return strings.Join(parts, " · ")
}

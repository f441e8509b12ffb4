package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// writeStatusPage seeds the status fixture and writes `status --html`.
func writeStatusPage(t *testing.T) string {
	t.Helper()
	st := setup(t)
	usePipeline(t, mustRead(t, "testdata/status/pipeline.yaml"))
	seedStatus(t, st)
	file := filepath.Join(t.TempDir(), "status.html")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"status", "--now", statusNow, "--html", file}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "wrote "+file) {
		t.Errorf("output %q does not say where the page went", out.String())
	}
	return file
}

// attrs returns n's attributes by name.
func attrs(n *html.Node) map[string]string {
	m := map[string]string{}
	for _, a := range n.Attr {
		m[a.Key] = a.Val
	}
	return m
}

// walk calls f on every element under n.
func walk(n *html.Node, f func(*html.Node)) {
	if n.Type == html.ElementNode {
		f(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

// The page parses, has a title, one cell per window of each source with the
// run's fields in data attributes and a title for hover, and loads nothing
// from elsewhere.
func TestStatusHTMLStructure(t *testing.T) {
	file := writeStatusPage(t)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var title string
	cells := map[string]map[string]string{} // input → attributes
	rows := map[string]string{}             // source → data-stale
	scripts := 0
	walk(doc, func(n *html.Node) {
		a := attrs(n)
		switch n.Data {
		case "title":
			title = n.FirstChild.Data
		case "td":
			if strings.Contains(a["class"], "cell") {
				cells[a["data-source"]+"/"+a["data-window"]] = a
			}
		case "tr":
			if a["data-source"] != "" {
				rows[a["data-source"]] = a["data-stale"]
			}
		case "script":
			scripts++
		}
		for _, k := range []string{"src", "href"} {
			if v, ok := a[k]; ok {
				t.Errorf("<%s %s=%q>: the page must load no external asset", n.Data, k, v)
			}
		}
		if n.Data == "link" {
			t.Errorf("<link %v>: the page must load no external asset", n.Attr)
		}
	})
	if want := "Sluice status at " + statusNow; title != want {
		t.Errorf("title %q, want %q", title, want)
	}
	if scripts != 1 {
		t.Errorf("%d scripts, want the one inline script", scripts)
	}
	if len(cells) != 3*14 {
		t.Errorf("%d cells, want 14 per source for 3 sources", len(cells))
	}
	// events is hourly, 6h behind under the default daily schedule: fresh (freshness.Check allows the schedule's period).
	if want := map[string]string{"orders": "false", "events": "false", "clicks": "true"}; len(rows) != 3 || rows["orders"] != want["orders"] || rows["events"] != want["events"] || rows["clicks"] != want["clicks"] {
		t.Errorf("rows (data-stale) %v, want %v", rows, want)
	}
	tests := []struct {
		input     string
		state     string
		attrs     map[string]string
		titleHave []string
	}{
		{"orders/2026-11-11", "succeeded", map[string]string{"data-status": "SUCCEEDED", "data-attempt": "1", "data-records": "1011", "data-duration": "42.5s"}, []string{"SUCCEEDED, attempt 1", "1011 records", "42.5s"}},
		{"orders/2026-11-18", "failed", map[string]string{"data-attempt": "3", "data-error": "http-status: GET http://api.test/v1/orders: 500 Internal Server Error after 3 attempts"}, []string{"FAILED, attempt 3", "500 Internal Server Error"}},
		{"orders/2026-11-23", "running", map[string]string{"data-status": "RUNNING", "data-progress": "fetching, 3 batches written, hand-over 1"}, []string{"fetching"}},
		{"orders/2026-11-24", "not_due", map[string]string{"data-status": ""}, []string{"not yet due"}},
		{"events/2026-11-23T21", "before_start", nil, []string{"before partition.start"}},
		{"events/2026-11-24T06", "running", map[string]string{"data-status": "COMMITTING", "data-records": "600"}, []string{"committing"}},
		{"events/2026-11-24T07", "missing", nil, []string{"missing"}},
		{"clicks/2026-11-11", "missing", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			a, ok := cells[tt.input]
			if !ok {
				t.Fatalf("no cell for %s", tt.input)
			}
			if a["data-state"] != tt.state || !strings.Contains(a["class"], "st-"+tt.state) {
				t.Errorf("state %q class %q, want %s", a["data-state"], a["class"], tt.state)
			}
			for k, v := range tt.attrs {
				if a[k] != v {
					t.Errorf("%s = %q, want %q", k, a[k], v)
				}
			}
			for _, s := range tt.titleHave {
				if !strings.Contains(a["title"], s) {
					t.Errorf("title %q lacks %q", a["title"], s)
				}
			}
		})
	}
}

// chromium returns the path of a Chromium binary, or skips the test saying
// why.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not found on PATH or at /usr/bin/chromium: the page is not checked in a browser (Debian: apt-get install chromium)")
	return ""
}

// The page renders in headless Chromium and its script runs: the DOM it
// dumps has every cell, the summary the script writes and its marker.
func TestStatusHTMLRendersInChromium(t *testing.T) {
	bin := chromium(t)
	file := writeStatusPage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	doc, err := html.Parse(bytes.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	var ready, summary string
	cells := 0
	walk(doc, func(n *html.Node) {
		a := attrs(n)
		if n.Data == "body" {
			ready = a["data-js"]
		}
		if n.Data == "td" && strings.Contains(a["class"], "cell") {
			cells++
		}
		if a["id"] == "summary" && n.FirstChild != nil {
			summary = n.FirstChild.Data
		}
	})
	if ready != "ready" {
		t.Errorf("body data-js = %q: the page's script did not run\n%s", ready, stderr.String())
	}
	if cells != 42 {
		t.Errorf("%d cells rendered, want 42", cells)
	}
	if want := "42 cells: 3 before start, 2 failed, 14 missing, 4 not due, 4 running, 15 succeeded"; summary != want {
		t.Errorf("summary %q, want %q (written by the page's script)", summary, want)
	}
}

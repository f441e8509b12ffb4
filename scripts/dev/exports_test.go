package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// The export lines give a POSIX shell every value exactly, quotes and
// spaces included.
func TestExportLinesRoundTripThroughAShell(t *testing.T) {
	t.Parallel()
	values := []string{"plain", "with space", "it's", `"double" $HOME \n`, "", "a'b'c"}
	var env []string
	for i, v := range values {
		env = append(env, "V"+string(rune('0'+i))+"="+v)
	}
	var script bytes.Buffer
	writeExports(&script, env)
	for i := range values {
		script.WriteString(`printf '%s\0' "$V` + string(rune('0'+i)) + `"` + "\n")
	}
	out, err := exec.Command("sh", "-c", script.String()).Output()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, script.String())
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	for i, v := range values {
		if i >= len(got) || got[i] != v {
			t.Errorf("V%d = %q after the shell read it, want %q", i, got, v)
		}
	}
}

// The example trigger names the first source and its latest window due.
func TestExamplesTriggerTheLatestDueWindow(t *testing.T) {
	t.Parallel()
	cfg, err := pipeline.Parse("p.yaml", []byte(`version: 1
sources:
  - name: hourly
    request: {base_url: "http://127.0.0.1:1", path: /v1}
    pagination: {type: none}
    records: {path: data}
    partition: {every: hour}
  - name: daily
    request: {base_url: "http://127.0.0.1:1", path: /v1}
    pagination: {type: none}
    records: {path: data}
    partition: {every: day}
`))
	if err != nil {
		t.Fatal(err)
	}
	ex := examples(cfg, time.Date(2026, 12, 1, 21, 30, 0, 0, time.UTC))
	want := "sluicectl trigger --source hourly --window 2026-12-01T20"
	if ex[0] != want {
		t.Errorf("example %q, want %q", ex[0], want)
	}
	if !strings.Contains(ex[1], `"source":"hourly","window":"2026-12-01T20","trigger":"manual"`) {
		t.Errorf("aws sqs example %q does not send the same input", ex[1])
	}
}

package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/shared/runs"
)

// An input's attempts show the schema each published with, and a change
// from the schema the source's files had before.
func TestAttemptsShowTheSchemaAndItsChange(t *testing.T) {
	tests := []struct {
		name string
		run  runs.Run
		want string
	}{
		{"jsonl: none", runs.Run{Attempt: 1, Status: runs.Succeeded}, "- "},
		{"same schema", runs.Run{Attempt: 1, Status: runs.Succeeded, Schema: "ab12"}, "ab12"},
		{"changed", runs.Run{Attempt: 2, Status: runs.Succeeded, Schema: "cd34", SchemaChange: "ab12 (orders/2026-11-01 attempt 1)"},
			"cd34 (changed from ab12 (orders/2026-11-01 attempt 1))"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			zero := 0
			tt.run.Trigger, tt.run.BatchesExpected = "manual", &zero
			var out bytes.Buffer
			if err := PrintAttempts(&out, []runs.Run{tt.run}); err != nil {
				t.Fatal(err)
			}
			header, row, _ := strings.Cut(out.String(), "\n")
			col := strings.Index(header, "SCHEMA")
			if col < 0 || len(row) < col || !strings.HasPrefix(row[col:], tt.want) {
				t.Fatalf("the SCHEMA column does not read %q:\n%s", tt.want, out.String())
			}
		})
	}
}

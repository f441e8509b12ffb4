package main

import (
	"encoding/json"
	"testing"

	"github.com/sluice-data/sluice/services/sluicectl/grid"
)

func decodeGrid(t *testing.T, b []byte) grid.Grid {
	t.Helper()
	var g grid.Grid
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("decode status --json: %v\n%s", err, b)
	}
	return g
}

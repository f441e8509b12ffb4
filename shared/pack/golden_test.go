package pack

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/sluice-data/sluice/shared/contracts"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenRun has a run id that needs escaping in JSON (a quote, HTML
// characters, a line separator), so the golden batch pins the escaping too.
var goldenRun = contracts.Run{Source: "orders", Window: "2026-11-01T13", RunID: "r\"<&>\u2028é", Attempt: 3}

// goldenRecords are the records of testdata/batch.json.
var goldenRecords = [][]byte{
	[]byte(`{"id":1,"name":"a"}`),
	[]byte(`{"id":2,"s":"é\u00e9 🚀","n":12345678901234567890.5}`),
	[]byte(`[1,2,3]`),
	[]byte(`"plain"`),
}

// TestGolden pins the batch body: what the packer builds from
// goldenRecords is testdata/batch.json byte for byte — the body the packer
// of contracts wrote before it moved here — and its records come back out.
// (contracts' own golden test checks the same file decodes and re-encodes
// to itself.)
func TestGolden(t *testing.T) {
	p := New(goldenRun, 1<<20)
	p.ContinueAt(7)
	for _, r := range goldenRecords {
		if err := p.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	body, err := p.Flush()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("testdata/batch.json", body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/batch.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, want) {
		t.Fatalf("packed body differs from testdata/batch.json:\n got %s\nwant %s", body, want)
	}
	b, err := contracts.DecodeBatch(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(b); err != nil {
		t.Fatal(err)
	}
	lines, err := Lines(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != len(goldenRecords) {
		t.Fatalf("%d lines, want %d", len(lines), len(goldenRecords))
	}
	for i, l := range lines {
		if !bytes.Equal(l, goldenRecords[i]) {
			t.Fatalf("line %d = %s, want %s", i, l, goldenRecords[i])
		}
	}
}

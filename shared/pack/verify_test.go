package pack

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sluice-data/sluice/shared/contracts"
)

func TestVerifyRefusesCorruptBatches(t *testing.T) {
	p := New(contracts.Run{Source: "a", Window: "2026-11-01", RunID: "r", Attempt: 1}, 1<<20)
	for _, r := range []string{`{"a":1}`, `{"a":2}`} {
		if err := p.Add([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	body, _ := p.Flush()
	good, err := contracts.DecodeBatch(body)
	if err != nil || Verify(good) != nil {
		t.Fatalf("good batch: %v / %v", err, Verify(good))
	}
	tests := []struct {
		name   string
		mutate func(b *contracts.Batch)
	}{
		{"count off", func(b *contracts.Batch) { b.Count = 3 }},
		{"raw bytes off", func(b *contracts.Batch) { b.RawBytes++ }},
		{"truncated payload", func(b *contracts.Batch) { b.Data = b.Data[:len(b.Data)-9] }},
		{"not gzip", func(b *contracts.Batch) { b.Data = []byte("plain text") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := good
			b.Data = bytes.Clone(good.Data)
			tt.mutate(&b)
			if err := Verify(b); !errors.Is(err, ErrCorruptBatch) {
				t.Fatalf("Verify = %v, want ErrCorruptBatch", err)
			}
		})
	}
}

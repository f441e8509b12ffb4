package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pack"
	"github.com/sluice-data/sluice/shared/source"
)

// A record the packer refuses fails the run naming its page, and, in a
// sliced walk, where page numbers count within a slice, the slice too.
func TestPackErrorNamesTheSlice(t *testing.T) {
	notJSON := []byte("{\n\"id\": }")
	huge := fmt.Appendf(nil, `{"blob":%q}`, strings.Repeat("x", maxMessage))
	tests := []struct {
		name   string
		sliced bool
		rec    []byte
		want   string
	}{
		{"not JSON, whole window", false, notJSON, "page 3 record 1: record is not valid JSON"},
		{"not JSON, sliced", true, notJSON, "slice 2 page 3 record 1: record is not valid JSON"},
		{"too large, whole window", false, huge, "page 3 record 1 is "},
		{"too large, sliced", true, huge, "slice 2 page 3 record 1 is "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &batcher{packer: pack.New(theRun, maxMessage)}
			p := source.Page{Number: 3, Records: [][]byte{[]byte(`{"id":1}`), tt.rec}}
			if tt.sliced {
				b.slices = make([]source.Slice, 4)
				p.Slice = 2
			}
			err := b.pack(context.Background(), p)
			if !fault.IsPermanent(err) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("pack = %v, want a permanent error starting %q", err, tt.want)
			}
		})
	}
}

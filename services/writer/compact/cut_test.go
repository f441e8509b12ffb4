package compact

import (
	"fmt"
	"testing"

	"github.com/sluice-data/sluice/shared/sink"
)

func TestCut(t *testing.T) {
	sizes := func(bs ...int64) []sink.Part {
		var ps []sink.Part
		for i, b := range bs {
			ps = append(ps, sink.Part{Seq: i, Bytes: b})
		}
		return ps
	}
	tests := []struct {
		name  string
		parts []sink.Part
		size  int64
		want  int // parts in the next file
	}{
		{"one part", sizes(5), 10, 1},
		{"all under the size", sizes(3, 3, 3), 10, 3},
		{"closes at the part that reaches the size", sizes(4, 4, 4, 4), 8, 2},
		{"closes past the size, never splits a part", sizes(4, 4, 4, 4), 9, 3},
		{"a part larger than the size is a file alone", sizes(20, 1), 10, 1},
		{"empty parts ride along", sizes(0, 0, 10, 1), 10, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cut(tt.parts, tt.size); len(got) != tt.want {
				t.Fatalf("cut(%v, %d) takes %d parts, want %d", tt.parts, tt.size, len(got), tt.want)
			}
		})
	}
	// Cutting again after each file covers every part once, in order.
	parts := sizes(7, 1, 9, 3, 3, 3, 12, 2)
	var seen string
	for next := 0; next < len(parts); {
		g := cut(parts[next:], 10)
		for _, p := range g {
			seen += fmt.Sprint(p.Seq)
		}
		seen += "|"
		next = g[len(g)-1].Seq + 1
	}
	if want := "012|3456|7|"; seen != want {
		t.Fatalf("files %s, want %s", seen, want)
	}
}

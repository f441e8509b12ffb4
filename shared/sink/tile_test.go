package sink_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/shared/sink"
)

// parts builds staged objects from names: "3" is single part 3, "4-7"
// the block of batches 4…7.
func parts(names ...string) []sink.Part {
	var ps []sink.Part
	for _, n := range names {
		var p sink.Part
		if a, b, ok := strings.Cut(n, "-"); ok {
			fmt.Sscan(a, &p.Seq)
			fmt.Sscan(b, &p.Last)
		} else {
			fmt.Sscan(n, &p.Seq)
		}
		p.Key = n
		p.Bytes = int64(p.LastSeq() - p.Seq + 1)
		ps = append(ps, p)
	}
	return ps
}

func keys(ps []sink.Part) string {
	var ks []string
	for _, p := range ps {
		ks = append(ks, p.Key)
	}
	return strings.Join(ks, " ")
}

func TestTile(t *testing.T) {
	tests := []struct {
		name    string
		staged  []sink.Part
		from, n int
		want    string // the keys picked, or the error's text
		wantErr bool
	}{
		{name: "singles", staged: parts("0", "1", "2"), n: 3, want: "0 1 2"},
		{name: "blocks", staged: parts("0-3", "4-7"), n: 8, want: "0-3 4-7"},
		{name: "blocks and a single tail", staged: parts("0-3", "4-7", "8"), n: 9, want: "0-3 4-7 8"},
		{name: "a block over its singles", staged: parts("0", "0-3", "1", "2", "3", "4"), n: 5, want: "0-3 4"},
		{name: "a block missing: its singles", staged: parts("0", "1", "2", "3", "4-7"), n: 8, want: "0 1 2 3 4-7"},
		{name: "some singles of a block written too", staged: parts("0-3", "2", "4", "5", "6", "7"), n: 8, want: "0-3 4 5 6 7"},
		{name: "blocks of two sizes (a deploy changed G)", staged: parts("0-3", "0-7", "4-7", "8-11", "8"), n: 12, want: "0-7 8-11"},
		{name: "blocks of sizes that do not nest (not powers of two)", staged: parts("0-5", "0-3", "4-7", "6", "7", "8"), n: 9, want: "0-3 4-7 8"},
		{name: "blocks that overlap and cannot line up", staged: parts("0-2", "1", "2-3"), n: 4, wantErr: true, want: "do not line up"},
		{name: "from a file's end inside a block", staged: parts("0-3", "0", "1", "2", "3", "4"), from: 2, n: 5, want: "2 3 4"},
		{name: "nothing", n: 0, want: ""},
		{name: "a single missing", staged: parts("0", "2"), n: 3, wantErr: true, want: "part 1 is missing"},
		{name: "a single of a block missing, no block", staged: parts("0", "1", "3", "4"), n: 5, wantErr: true, want: "part 2 is missing"},
		{name: "the tail missing", staged: parts("0-3"), n: 5, wantErr: true, want: "part 4 is missing"},
		{name: "a part beyond the count", staged: parts("0", "1", "2"), n: 2, wantErr: true, want: "the run counts 2"},
		{name: "a block beyond the count", staged: parts("0", "1", "0-3"), n: 2, wantErr: true, want: "the run counts 2"},
		{name: "from a file's end inside a block, its singles gone", staged: parts("0-3", "4"), from: 2, n: 5, wantErr: true, want: "part 2 is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sink.Tile(tt.staged, tt.from, tt.n)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Tile = %q, %v; want an error saying %q", keys(got), err, tt.want)
				}
				return
			}
			if err != nil || keys(got) != tt.want {
				t.Fatalf("Tile = %q, %v; want %q", keys(got), err, tt.want)
			}
		})
	}
}

package sink

import "fmt"

// Tile picks, from an attempt's staged objects (Staged: single parts and
// blocks, by first batch), the fewest that hold batches from…n-1 each
// exactly once, in order, and returns them. Any such pick holds the same
// bytes: a block is its batches' single parts concatenated, and it exists
// only whole, so a block missing leaves its single parts to be taken
// (every batch counted was staged in one or the other). Among picks of as
// few objects it prefers the longer object first, so that every committer
// picks alike. An object reaching past n-1 is an error (S3 holds a batch
// the run does not count), as is a batch no object holds. Blocks of
// sizes that are powers of two, aligned, nest or are apart: whatever
// blocks of whichever sizes exist, the largest ones and the single parts
// outside them tile the batches.
func Tile(parts []Part, from, n int) ([]Part, error) {
	if n < from {
		return nil, fmt.Errorf("tile batches %d-%d: an empty range", from, n-1)
	}
	starts := make(map[int][]Part, len(parts))
	for _, p := range parts {
		if p.LastSeq() >= n {
			return nil, fmt.Errorf("S3 holds %s of the attempt, holding batch %d; the run counts %d", p.Key, p.LastSeq(), n)
		}
		if p.Seq >= from {
			starts[p.Seq] = append(starts[p.Seq], p)
		}
	}
	// cost[i] is the fewest objects that hold i…n-1 (-1: none do), pick[i]
	// the first of them.
	cost := make([]int, n-from+1)
	pick := make([]Part, n-from+1)
	for i := n - 1; i >= from; i-- {
		cost[i-from] = -1
		for _, p := range starts[i] {
			rest := cost[p.LastSeq()+1-from]
			if rest < 0 {
				continue
			}
			if c := cost[i-from]; c < 0 || rest+1 < c || (rest+1 == c && p.LastSeq() > pick[i-from].LastSeq()) {
				cost[i-from], pick[i-from] = rest+1, p
			}
		}
	}
	var tiles []Part
	for i := from; i < n; i = pick[i-from].LastSeq() + 1 {
		if cost[i-from] < 0 {
			return nil, gap(parts, i, n)
		}
		tiles = append(tiles, pick[i-from])
	}
	return tiles, nil
}

// gap says why batches i…n-1 cannot be tiled: the first of them no
// object holds, or (objects overlapping out of line, which aligned blocks
// never do) that none line up.
func gap(parts []Part, i, n int) error {
	held := make([]bool, n-i)
	for _, p := range parts {
		for s := p.Seq; s >= i && s <= p.LastSeq(); s++ {
			held[s-i] = true
		}
	}
	for s, ok := range held {
		if !ok {
			return fmt.Errorf("part %d is missing from S3: no single part or block of the attempt holds it", s+i)
		}
	}
	return fmt.Errorf("the attempt's parts and blocks from batch %d on overlap and do not line up", i)
}

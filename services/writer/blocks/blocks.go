// Package blocks stages a run's batches in aligned blocks: the batches
// kG…kG+G-1 of one attempt, when the writer handles them at once, are
// stored as one object (sink.BlockKey, part-<first>-<last>: their gzip
// members concatenated in order) instead of G single parts — one S3 PUT
// instead of G.
//
// A batch is handed to the Stager by the handler of its own message, which
// waits up to a short time for the rest of its block to be handed in by
// the handlers of theirs (the poller and the Lambda transport handle
// several messages at once: SLUICE_WORKERS). The last to arrive stores the
// block; every member then counts its own batch, as a single part's
// handler does, and its message's outcome is its own. A batch whose block
// does not gather in time (its batch-mates not received together, a
// message that failed to decode or verify and so never joined, the run's
// last incomplete block) is stored as a single part, as before, and so
// are its block's later batches, at once.
//
// A handler waits only while another is free to receive a batch-mate:
// the poller receives a message only when one of its workers is free, so
// when every handler waits (two runs' batches interleaved, one run's out
// of order) none of the mates can come, and the block with the fewest
// batches there is released to single parts at once (Stager.release).
//
// Exactly once holds whatever is stored: a block's bytes are the same on
// every delivery (the batches' bytes, in order), it is staged with a
// single part's rules (If-None-Match; the same bytes again are a
// redelivery, other bytes a conflict), and it exists only whole, so the
// commit takes for each block its block object if there is one, else its
// single parts (sink.Tile). A block PUT that fails fails each member's
// message, each redelivered and retried on its own — but a conflict with
// the stored block fails only the members that differ
// (sink.BlockConflictError): the others are in it.
//
// The Stager's state is its process's memory only: gathering never spans
// processes, and a process that dies mid-gathering leaves its messages to
// be redelivered.
package blocks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/sink"
)

// Store stages objects; *sink.Sink is one.
type Store interface {
	WritePart(ctx context.Context, key string, gz []byte, records int) (sink.Written, error)
	WriteBlock(ctx context.Context, key string, gzs [][]byte, records int) (sink.Written, error)
}

var _ Store = (*sink.Sink)(nil)

// Stager stages batches in blocks of its size, and single parts
// otherwise. Its methods are safe for concurrent use: that is their
// point.
type Stager struct {
	store  Store
	layout sink.Layout
	size   int
	wait   time.Duration

	// handlers is how many handlers can be in the Stager at once (the
	// consumer's SLUICE_WORKERS); 0: not known.
	handlers int

	mu      sync.Mutex
	pending map[string]*gathering // by run id and block key
	totals  map[string]int        // batches of a run's attempt, by run id and attempt (Total)
	// broken: blocks that can no longer gather, by run id and block key:
	// a member was staged as a single part when its wait ended (timed
	// out, or released). Their later members go on their own at once.
	broken map[string]bool
	// stored: blocks this Stager stored, by run id and block key, with a
	// hash of each member's bytes, so that a batch redelivered after its
	// block is stored is known there at once (Stage).
	stored map[string][]uint64
	seed   maphash.Seed
	stats  Stats
}

// Stats counts how a Stager's batches went.
type Stats struct {
	Blocks int // blocks stored (by their last member)
	Waited int // batches that waited all of the wait for a block that did not gather
	// Released: batches staged as single parts at once because every
	// handler was waiting, so none was free to receive a batch-mate.
	Released int
	Waiting  int // handlers waiting now for a block that can still gather
}

// maxTotals bounds the runs whose totals a Stager remembers: past it, it
// forgets them all (a batch then waits for a block that cannot gather, as
// it would have before its run's Done came).
const maxTotals = 4096

// New returns a Stager that stores in store, under layout's keys, blocks
// of size batches, each batch waiting at most wait for its block to
// gather. A size of 1 (or less) stages every batch as a single part, at
// once.
//
// handlers is how many handlers can be in the Stager at once (the
// consumer's workers; 0: not known). When all of them wait, none is free
// to receive a batch-mate, so no block can gather by waiting longer: the
// block with the fewest batches here is released at once (see Stage).
func New(store Store, layout sink.Layout, size int, wait time.Duration, handlers int) *Stager {
	return &Stager{store: store, layout: layout, size: size, wait: wait, handlers: handlers, pending: map[string]*gathering{}, totals: map[string]int{},
		broken: map[string]bool{}, stored: map[string][]uint64{}, seed: maphash.MakeSeed()}
}

// Stats returns the Stager's counts so far.
func (s *Stager) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Waiting = s.waiting()
	return st
}

// Total tells the Stager how many batches run's attempt has (its Done
// message, or the run's count): a block reaching past the last cannot
// gather, so its batches are staged as single parts at once — those
// waiting now, and those that come later — instead of after the wait (a
// run's last, incomplete block; a one-batch input's only batch).
func (s *Stager) Total(run contracts.Run, batches int) {
	if s.size <= 1 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.totals) >= maxTotals {
		clear(s.totals)
	}
	s.totals[attemptID(run)] = batches
	for _, g := range s.pending {
		if g.run == attemptID(run) && g.last >= batches {
			g.cutShort()
		}
	}
}

func attemptID(r contracts.Run) string { return fmt.Sprintf("%s#%d", r.RunID, r.Attempt) }

// gathering is one block's batches handed in so far.
type gathering struct {
	id      string // run id and block key: its key in pending
	run     string // attemptID
	last    int    // the block's last batch
	key     string
	members []*contracts.Batch // by seq from the block's first; nil: not here
	here    int
	full    bool          // all here: the block is being stored, by its last member
	done    chan struct{} // closed once it is stored (or failed to be)
	short   bool          // the run ends before the block's last batch: it cannot gather
	cut     chan struct{} // closed when short is set
	existed bool
	err     error
	// differ, when err is a conflict naming its members
	// (sink.BlockConflictError): the members that differ from the stored
	// block, by seq from the block's first. The others are in it.
	differ map[int]bool
}

// Stage stores batch b of partition p — checked by the caller — in its
// block, or as a single part, and returns where. An error is the
// store's: for a block, every member's message gets it, but a conflict
// with the stored block only the members that differ.
func (s *Stager) Stage(ctx context.Context, p sink.Partition, b contracts.Batch) (sink.Written, error) {
	if s.size <= 1 {
		return s.single(ctx, p, b)
	}
	first := b.Seq - b.Seq%s.size
	last := first + s.size - 1
	key := s.layout.BlockKey(p, b.Attempt, first, last)
	id := b.RunID + " " + key
	s.mu.Lock()
	if sums, ok := s.stored[id]; ok {
		// A redelivery after the block was stored: the same bytes are in
		// it (a redelivery, as a single part's PUT of them would find);
		// other bytes conflict with it, as with a single part — the
		// commit takes the block, so a single part of them would never
		// be published.
		s.mu.Unlock()
		if sums[b.Seq-first] == maphash.Bytes(s.seed, b.Data) {
			return sink.Written{Key: key, Records: b.Count, Bytes: len(b.Data), Existed: true}, nil
		}
		return sink.Written{}, conflict(key, b.Seq-first)
	}
	if n, ok := s.totals[attemptID(b.Run)]; (ok && last >= n) || s.broken[id] {
		s.mu.Unlock()
		return s.single(ctx, p, b)
	}
	g := s.pending[id]
	if g == nil {
		g = &gathering{id: id, run: attemptID(b.Run), last: last, key: key, members: make([]*contracts.Batch, s.size),
			done: make(chan struct{}), cut: make(chan struct{})}
		s.pending[id] = g
	}
	slot := b.Seq - first
	if m := g.members[slot]; m != nil {
		// Another delivery of the batch is gathering already (the
		// fetcher's send retried): this one, of the same bytes, goes on
		// its own; of other bytes, it conflicts with the one gathering.
		s.mu.Unlock()
		if !bytes.Equal(m.Data, b.Data) {
			return sink.Written{}, conflict(key, slot)
		}
		return s.single(ctx, p, b)
	}
	g.members[slot] = &b
	g.here++
	if g.here == s.size {
		g.full = true
		delete(s.pending, id)
		s.mu.Unlock()
		s.storeBlock(ctx, g)
		return g.written(b)
	}
	if s.handlers > 0 && s.waiting() >= s.handlers {
		s.release()
	}
	s.mu.Unlock()

	t := time.NewTimer(s.wait)
	defer t.Stop()
	timedOut := false
	select {
	case <-g.done:
		return g.written(b)
	case <-t.C:
		timedOut = true
	case <-g.cut:
	case <-ctx.Done():
	}
	s.mu.Lock()
	if g.full {
		// The block gathered as the wait ended: its last member is
		// storing it, within its own deadline.
		s.mu.Unlock()
		select {
		case <-g.done:
			return g.written(b)
		case <-ctx.Done():
			return sink.Written{}, fmt.Errorf("batch %d: waiting for its block to be stored: %w", b.Seq, ctx.Err())
		}
	}
	g.members[slot] = nil
	g.here--
	if g.here == 0 {
		delete(s.pending, id)
	}
	if timedOut {
		s.stats.Waited++
	}
	if ctx.Err() == nil {
		s.breakBlock(id) // this member goes on its own
	}
	s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return sink.Written{}, fmt.Errorf("batch %d: waiting for its block: %w", b.Seq, err)
	}
	return s.single(ctx, p, b)
}

// conflict is the permanent error of other bytes for member i of the
// block at key, staged or gathering already.
func conflict(key string, i int) error {
	return fault.Permanent(&sink.BlockConflictError{Key: key, Differ: []int{i}})
}

// waiting is how many handlers wait in the Stager for a block that can
// still gather. The caller holds s.mu.
func (s *Stager) waiting() int {
	n := 0
	for _, g := range s.pending {
		if !g.short {
			n += g.here
		}
	}
	return n
}

// release lets the handlers of one gathering block go on their own at
// once: every handler waits, so none is free to receive a batch-mate and
// no block can gather by waiting longer. It releases the block with the
// fewest batches here (the one furthest from gathering; of equal ones,
// any), which frees the fewest handlers that let the others gather: at
// least one, so the poller receives again, and a batch-mate received
// completes its block or joins it. The caller holds s.mu.
func (s *Stager) release() {
	var least *gathering
	for _, g := range s.pending {
		if !g.short && (least == nil || g.here < least.here) {
			least = g
		}
	}
	if least == nil {
		return
	}
	s.stats.Released += least.here
	s.breakBlock(least.id)
}

// breakBlock marks a block that can no longer gather, and ends the waits
// of its members gathering now: each goes on its own at once, as its
// later members will. The caller holds s.mu.
func (s *Stager) breakBlock(id string) {
	if len(s.broken) >= maxTotals {
		clear(s.broken)
	}
	s.broken[id] = true
	if g := s.pending[id]; g != nil {
		g.cutShort()
	}
}

// cutShort marks g as one that cannot gather and ends its members' waits,
// once. The caller holds s.mu.
func (g *gathering) cutShort() {
	if !g.short {
		g.short = true
		close(g.cut)
	}
}

func (s *Stager) single(ctx context.Context, p sink.Partition, b contracts.Batch) (sink.Written, error) {
	return s.store.WritePart(ctx, s.layout.PartKey(p, b.Attempt, b.Seq), b.Data, b.Count)
}

// storeBlock stores g, gathered, and then ends its members' waits, even
// if storing it panics (the consumer recovers the panic as this
// handler's fault): the members get an error, their messages retried.
func (s *Stager) storeBlock(ctx context.Context, g *gathering) {
	g.err = fmt.Errorf("block %s: storing it panicked", g.key)
	defer close(g.done)
	g.existed, g.err = s.block(ctx, g)
	if conflict := (*sink.BlockConflictError)(nil); errors.As(g.err, &conflict) {
		g.differ = map[int]bool{}
		for _, i := range conflict.Differ {
			g.differ[i] = true
		}
	}
	if g.err != nil {
		return
	}
	sums := make([]uint64, len(g.members))
	for i, m := range g.members {
		sums[i] = maphash.Bytes(s.seed, m.Data)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Blocks++
	if len(s.stored) >= maxTotals {
		clear(s.stored)
	}
	s.stored[g.id] = sums
}

// block stores g's members as its block; true if it was there already.
func (s *Stager) block(ctx context.Context, g *gathering) (bool, error) {
	gzs := make([][]byte, len(g.members))
	records := 0
	for i, m := range g.members {
		gzs[i] = m.Data
		records += m.Count
	}
	w, err := s.store.WriteBlock(ctx, g.key, gzs, records)
	if err != nil {
		return false, fmt.Errorf("block %s: %w", g.key, err)
	}
	return w.Existed, nil
}

// written is what b's handler reports of its batch once g is stored.
func (g *gathering) written(b contracts.Batch) (sink.Written, error) {
	if g.differ != nil && !g.differ[b.Seq-(g.last+1-len(g.members))] {
		// The stored block holds this batch as it is: a redelivery.
		return sink.Written{Key: g.key, Records: b.Count, Bytes: len(b.Data), Existed: true}, nil
	}
	if g.err != nil {
		return sink.Written{}, g.err
	}
	return sink.Written{Key: g.key, Records: b.Count, Bytes: len(b.Data), Existed: g.existed}, nil
}

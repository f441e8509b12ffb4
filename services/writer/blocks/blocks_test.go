package blocks_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/services/writer/blocks"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/sink"
)

// store is an in-memory Store that records its PUTs and fails those of
// keys in fail.
type store struct {
	mu      sync.Mutex
	objects map[string][]byte
	puts    []string
	fail    func(key string) error
}

func (s *store) WritePart(_ context.Context, key string, gz []byte, records int) (sink.Written, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts = append(s.puts, key)
	if s.fail != nil {
		if err := s.fail(key); err != nil {
			return sink.Written{}, err
		}
	}
	if old, ok := s.objects[key]; ok {
		if !bytes.Equal(old, gz) {
			return sink.Written{}, fault.Permanent(sink.ErrConflict)
		}
		return sink.Written{Key: key, Records: records, Bytes: len(gz), Existed: true}, nil
	}
	s.objects[key] = slices.Clone(gz)
	return sink.Written{Key: key, Records: records, Bytes: len(gz)}, nil
}

func (s *store) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.objects)
}

func (s *store) WriteBlock(ctx context.Context, key string, gzs [][]byte, records int) (sink.Written, error) {
	return s.WritePart(ctx, key, bytes.Join(gzs, nil), records)
}

var (
	layout = sink.NewLayout("")
	part   = sink.Partition{Source: "orders", Hive: "dt=2026-11-01"}
)

func batch(seq int) contracts.Batch {
	return contracts.Batch{Run: contracts.Run{Source: "orders", Window: "2026-11-01", RunID: "r1", Attempt: 2}, Seq: seq, Count: 1,
		Data: []byte(fmt.Sprintf("<%d>", seq))}
}

// base names a key by its file name.
func base(key string) string { return key[strings.LastIndex(key, "/")+1:] }

// stageAtOnce stages the batches of seqs, each from a handler of its own,
// all at once, and returns what each was told.
func stageAtOnce(ctx context.Context, s *blocks.Stager, seqs ...int) ([]sink.Written, []error) {
	written := make([]sink.Written, len(seqs))
	errs := make([]error, len(seqs))
	var wg sync.WaitGroup
	for i, seq := range seqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			written[i], errs[i] = s.Stage(ctx, part, batch(seq))
		}()
	}
	wg.Wait()
	return written, errs
}

func TestStage(t *testing.T) {
	down := fault.Retryable(errors.New("S3 503 SlowDown"))
	tests := []struct {
		name string
		size int
		seqs []int // handed in at once, each by its own handler
		// fail fails the PUTs of keys with this name; cancel cancels the
		// handlers' context after a moment.
		fail   string
		cancel bool
		// wantObjects: the objects stored, by name, and what they hold;
		// wantErrs: the seqs whose Stage failed.
		wantObjects map[string]string
		wantErrs    []int
		// orObjects, if set, is as good as wantObjects: the handlers'
		// order decides between them.
		orObjects map[string]string
	}{
		{name: "a whole block: one PUT, its batches in order", size: 4, seqs: []int{6, 4, 7, 5},
			wantObjects: map[string]string{"part-000004-000007.jsonl.gz": "<4><5><6><7>"}},
		{name: "two blocks and a straggler", size: 2, seqs: []int{3, 0, 2, 1, 4},
			wantObjects: map[string]string{"part-000000-000001.jsonl.gz": "<0><1>", "part-000002-000003.jsonl.gz": "<2><3>",
				"part-000004.jsonl.gz": "<4>"}},
		{name: "a batch-mate that never came (it failed to decode): single parts", size: 4, seqs: []int{4, 5, 7},
			wantObjects: map[string]string{"part-000004.jsonl.gz": "<4>", "part-000005.jsonl.gz": "<5>", "part-000007.jsonl.gz": "<7>"}},
		{name: "the same batch twice: one in the block, the other on its own, or found in the block once stored", size: 2, seqs: []int{0, 0, 1},
			wantObjects: map[string]string{"part-000000-000001.jsonl.gz": "<0><1>", "part-000000.jsonl.gz": "<0>"},
			orObjects:   map[string]string{"part-000000-000001.jsonl.gz": "<0><1>"}},
		{name: "blocks off", size: 1, seqs: []int{0, 1},
			wantObjects: map[string]string{"part-000000.jsonl.gz": "<0>", "part-000001.jsonl.gz": "<1>"}},
		{name: "the block's PUT fails: every member fails, nothing on its own", size: 2, seqs: []int{0, 1}, fail: "part-000000-000001.jsonl.gz",
			wantObjects: map[string]string{}, wantErrs: []int{0, 1}},
		{name: "cancelled while gathering: nothing stored", size: 4, seqs: []int{0, 1}, cancel: true,
			wantObjects: map[string]string{}, wantErrs: []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &store{objects: map[string][]byte{}, fail: func(key string) error {
				if base(key) == tt.fail {
					return down
				}
				return nil
			}}
			wait := 300 * time.Millisecond
			if tt.cancel {
				wait = time.Minute
			}
			s := blocks.New(st, layout, tt.size, wait, 0)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			written, errs := stageAtOnce(ctx, s, tt.seqs...)
			var failed []int
			for i, err := range errs {
				if err != nil {
					failed = append(failed, tt.seqs[i])
					continue
				}
				// Each reports where its own batch went: its block or its part.
				if obj := string(st.objects[written[i].Key]); !strings.Contains(obj, fmt.Sprintf("<%d>", tt.seqs[i])) || written[i].Records != 1 {
					t.Errorf("batch %d reported %+v, which holds %q", tt.seqs[i], written[i], obj)
				}
			}
			slices.Sort(failed)
			if !slices.Equal(failed, tt.wantErrs) {
				t.Errorf("failed batches %v (%v), want %v", failed, errs, tt.wantErrs)
			}
			got := map[string]string{}
			for k, v := range st.objects {
				got[base(k)] = string(v)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantObjects) && (tt.orObjects == nil || fmt.Sprint(got) != fmt.Sprint(tt.orObjects)) {
				t.Errorf("stored %v (PUTs %v), want %v", got, st.puts, tt.wantObjects)
			}
		})
	}
}

// A block stored again by a redelivery of its batches is the same bytes:
// a redelivery, not a conflict; its batches staged as single parts later
// are beside it, and the commit takes one or the other (sink.Tile).
func TestStageAgainIsARedelivery(t *testing.T) {
	st := &store{objects: map[string][]byte{}}
	s := blocks.New(st, layout, 2, time.Second, 0)
	for round := range 2 {
		res, errs := stageAtOnce(context.Background(), s, 0, 1)
		for i := range 2 {
			if errs[i] != nil || res[i].Existed != (round == 1) || base(res[i].Key) != "part-000000-000001.jsonl.gz" {
				t.Fatalf("round %d batch %d: %+v, %v", round, i, res[i], errs[i])
			}
		}
	}
}

// Told the run's count of batches (its Done), a batch whose block
// reaches past the last is staged as a single part at once: the ones
// waiting now, and the ones that come later — not after the wait.
func TestStageDoesNotWaitPastTheRunsEnd(t *testing.T) {
	st := &store{objects: map[string][]byte{}}
	s := blocks.New(st, layout, 4, time.Minute, 0)
	run := batch(0).Run
	var wg sync.WaitGroup
	errs := make([]error, 2)
	start := time.Now()
	for i, seq := range []int{4, 5} { // the run's last batches: block 4-7 cannot gather
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = s.Stage(context.Background(), part, batch(seq)) }()
	}
	for s.Stats().Waiting < 2 { // until both wait for block 4-7
		time.Sleep(time.Millisecond)
	}
	other := run
	other.Attempt++
	s.Total(other, 6) // another attempt's count: both still wait, nothing staged
	if stats, stored := s.Stats(), st.count(); stats.Waiting != 2 || stored != 0 {
		t.Fatalf("after another attempt's count: %+v, %d objects; want both waiting, nothing staged", stats, stored)
	}
	s.Total(run, 6)
	wg.Wait()
	if _, err := s.Stage(context.Background(), part, batch(4)); err != nil { // a redelivery, after
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second || errs[0] != nil || errs[1] != nil {
		t.Fatalf("staged in %v (%v); want single parts at once", took, errs)
	}
	var got []string
	for k := range st.objects {
		got = append(got, base(k))
	}
	slices.Sort(got)
	if want := []string{"part-000004.jsonl.gz", "part-000005.jsonl.gz"}; !slices.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
}

// pool hands queue's batches to the Stager as the poller does: a batch is
// taken off the queue only when one of workers is free, then handled by
// it; it returns once all are staged.
func pool(t *testing.T, s *blocks.Stager, workers int, queue []contracts.Batch) {
	t.Helper()
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for _, b := range queue {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := s.Stage(context.Background(), partOf(b), b); err != nil {
				t.Errorf("batch %s %d: %v", b.RunID, b.Seq, err)
			}
		}()
	}
	wg.Wait()
}

// partOf is b's partition: one per run.
func partOf(b contracts.Batch) sink.Partition {
	return sink.Partition{Source: part.Source, Hive: part.Hive + "/run=" + b.RunID}
}

// When every handler waits, none is free to receive a batch-mate: no
// block can gather by waiting longer. Those batches must not sit out the
// wait (the Stager's own count, not a timing), whatever the order of the
// queue: two runs' batches interleaved, or one run's a little out of
// order. Every batch is stored, in its block or on its own.
func TestStageNeverWaitsWithNoHandlerFree(t *testing.T) {
	interleaved := func(runs, n int) []contracts.Batch {
		var q []contracts.Batch
		for seq := range n {
			for r := range runs {
				b := batch(seq)
				b.RunID = fmt.Sprint("r", r)
				q = append(q, b)
			}
		}
		return q
	}
	reordered := func(n int) []contracts.Batch {
		var q []contracts.Batch
		for first := 0; first < n; first += 8 {
			for _, d := range []int{0, 1, 2, 4, 5, 3, 6, 7} {
				q = append(q, batch(first+d))
			}
		}
		return q
	}
	inOrder := func(n int) []contracts.Batch {
		var q []contracts.Batch
		for seq := range n {
			q = append(q, batch(seq))
		}
		return q
	}
	tests := []struct {
		name       string
		queue      []contracts.Batch
		wantBlocks int // at least
	}{
		{name: "two runs interleaved", queue: interleaved(2, 16), wantBlocks: 1},
		{name: "three runs interleaved", queue: interleaved(3, 8), wantBlocks: 1},
		{name: "one run slightly reordered", queue: reordered(16), wantBlocks: 2},
		{name: "one run in order: every block gathers", queue: inOrder(16), wantBlocks: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &store{objects: map[string][]byte{}}
			// A wait of a minute: a batch that sat it out would stall the
			// test, and is counted in Waited.
			s := blocks.New(st, layout, 4, time.Minute, 5)
			pool(t, s, 5, tt.queue)
			stats := s.Stats()
			if stats.Waited != 0 {
				t.Errorf("%d batches waited all of the wait (%+v)", stats.Waited, stats)
			}
			if stats.Blocks < tt.wantBlocks {
				t.Errorf("%d blocks, want at least %d (%+v)", stats.Blocks, tt.wantBlocks, stats)
			}
			// Every batch is stored: in its block or its single part.
			for _, b := range tt.queue {
				first := b.Seq - b.Seq%4
				blk := st.objects[layout.BlockKey(partOf(b), b.Attempt, first, first+3)]
				if single := st.objects[layout.PartKey(partOf(b), b.Attempt, b.Seq)]; !bytes.Contains(blk, b.Data) && !bytes.Equal(single, b.Data) {
					t.Errorf("run %s batch %d stored nowhere", b.RunID, b.Seq)
				}
			}
		})
	}
}

// panicStore panics in WriteBlock.
type panicStore struct{ store }

func (p *panicStore) WriteBlock(context.Context, string, [][]byte, int) (sink.Written, error) {
	panic("boom")
}

// A member that panics storing its block (the consumer recovers it, a
// fault) still ends its batch-mates' waits: each gets an error, its
// message retried, instead of holding its worker for good.
func TestStageMatesOfAPanickedStorerReturn(t *testing.T) {
	s := blocks.New(&panicStore{store{objects: map[string][]byte{}}}, layout, 2, time.Minute, 0)
	mate := make(chan error, 1)
	go func() { _, err := s.Stage(context.Background(), part, batch(0)); mate <- err }()
	for s.Stats().Waiting == 0 { // until batch 0 waits for its block
		time.Sleep(time.Millisecond)
	}
	panicked := func() (p any) {
		defer func() { p = recover() }()
		_, _ = s.Stage(context.Background(), part, batch(1))
		return nil
	}()
	if panicked == nil {
		t.Fatal("batch 1 stored the block without the store's panic")
	}
	select {
	case err := <-mate:
		if err == nil {
			t.Fatal("the mate of a panicked storer reported its batch stored")
		}
		t.Logf("mate: %v", err)
	case <-time.After(30 * time.Second): // a bound on a hang, not a speed
		t.Fatal("the mate of a panicked storer still waits")
	}
}

// A batch redelivered after its block was stored (its message's delete
// lost, say) finds the block holding its bytes: a redelivery, at once —
// no wait for mates that will not come, no redundant single part.
func TestStageRedeliveryAfterItsBlockIsStored(t *testing.T) {
	st := &store{objects: map[string][]byte{}}
	s := blocks.New(st, layout, 2, 300*time.Millisecond, 0)
	stageAtOnce(context.Background(), s, 0, 1)
	w, err := s.Stage(context.Background(), part, batch(1))
	if err != nil || !w.Existed || base(w.Key) != "part-000000-000001.jsonl.gz" || w.Records != 1 {
		t.Fatalf("redelivery: %+v, %v; want the block, existed", w, err)
	}
	if stats := s.Stats(); stats.Waited != 0 || len(st.puts) != 1 {
		t.Fatalf("redelivery: %+v, PUTs %v; want no wait and the block's PUT only", stats, st.puts)
	}
	// Other bytes under the same seq conflict with the block that holds
	// the batch (the commit takes the block: a single part of them would
	// never be published), as with a single part: permanent, at once.
	other := batch(1)
	other.Data = []byte("<other>")
	if w, err := s.Stage(context.Background(), part, other); !errors.Is(err, sink.ErrConflict) || !fault.IsPermanent(err) || s.Stats().Waited != 0 {
		t.Fatalf("other bytes: %+v, %v (%+v); want a permanent conflict at once", w, err, s.Stats())
	}
	if len(st.puts) != 1 {
		t.Fatalf("PUTs %v; want the block's only", st.puts)
	}
}

// Other bytes for a batch whose block holds it conflict, whatever the
// block size (size 1: the single part's own conflict), and so do other
// bytes for a batch whose other delivery is gathering in its block.
func TestStageOtherBytesForAStagedBatchConflict(t *testing.T) {
	for _, size := range []int{1, 2} {
		st := &store{objects: map[string][]byte{}}
		s := blocks.New(st, layout, size, time.Minute, 0)
		stageAtOnce(context.Background(), s, 0, 1)
		other := batch(1)
		other.Data = []byte("<other>")
		if _, err := s.Stage(context.Background(), part, other); !errors.Is(err, sink.ErrConflict) || !fault.IsPermanent(err) {
			t.Errorf("size %d: other bytes for batch 1: %v; want a permanent conflict", size, err)
		}
	}
	st := &store{objects: map[string][]byte{}}
	s := blocks.New(st, layout, 2, 300*time.Millisecond, 0)
	first := make(chan error, 1)
	go func() { _, err := s.Stage(context.Background(), part, batch(0)); first <- err }()
	for s.Stats().Waiting == 0 {
		time.Sleep(time.Millisecond)
	}
	other := batch(0)
	other.Data = []byte("<other>")
	if _, err := s.Stage(context.Background(), part, other); !errors.Is(err, sink.ErrConflict) || !fault.IsPermanent(err) {
		t.Errorf("other bytes for batch 0 while it gathers: %v; want a permanent conflict", err)
	}
	if err := <-first; err != nil {
		t.Errorf("batch 0: %v", err)
	}
}

// conflictStore's blocks conflict with a stored one in member 1.
type conflictStore struct{ store }

func (c *conflictStore) WriteBlock(_ context.Context, key string, _ [][]byte, _ int) (sink.Written, error) {
	return sink.Written{}, fault.Permanent(&sink.BlockConflictError{Key: key, Differ: []int{1}})
}

// A block that conflicts with the stored one in one member fails that
// member's batch only, as a single part's conflict would: one bad message
// never fails its batch-mates, which are in the stored block.
func TestStageBlockConflictFailsOnlyTheMemberThatDiffers(t *testing.T) {
	s := blocks.New(&conflictStore{store{objects: map[string][]byte{}}}, layout, 2, time.Minute, 0)
	res, errs := stageAtOnce(context.Background(), s, 0, 1)
	if errs[0] != nil || !res[0].Existed || base(res[0].Key) != "part-000000-000001.jsonl.gz" {
		t.Errorf("batch 0 (as stored): %+v, %v; want in the stored block", res[0], errs[0])
	}
	if !errors.Is(errs[1], sink.ErrConflict) || !fault.IsPermanent(errs[1]) {
		t.Errorf("batch 1 (differs): %v, want a permanent ErrConflict", errs[1])
	}
}

// A block broken by a member's timeout cannot gather: its other waiting
// members go on their own at once, not after their own full wait.
func TestStageBrokenBlockReleasesItsWaitingMates(t *testing.T) {
	st := &store{objects: map[string][]byte{}}
	s := blocks.New(st, layout, 4, 400*time.Millisecond, 0)
	done := make(chan int, 2)
	go func() { _, _ = s.Stage(context.Background(), part, batch(0)); done <- 0 }()
	time.Sleep(200 * time.Millisecond)
	go func() { _, _ = s.Stage(context.Background(), part, batch(1)); done <- 1 }()
	// Which of the two returns first is a race (each then stores its own
	// single part); what counts is that batch 1 did not wait out its own
	// wait: only batch 0's ran out (Waited, the Stager's own count).
	<-done
	<-done
	for _, seq := range []int{2, 3} {
		if w, err := s.Stage(context.Background(), part, batch(seq)); err != nil || base(w.Key) != fmt.Sprintf("part-%06d.jsonl.gz", seq) {
			t.Fatalf("batch %d: %+v, %v; want a single part", seq, w, err)
		}
	}
	if n := s.Stats().Waiting; n != 0 {
		t.Errorf("block 0-3 is broken, yet %d handler(s) still wait for it (%+v)", n, s.Stats())
	}
	if w := s.Stats().Waited; w != 1 {
		t.Errorf("Waited %d; want 1 (batch 0 only)", w)
	}
}

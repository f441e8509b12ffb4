package sink_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/sink"
)

// Against versitygw: the pointer only ever moves to a higher attempt, and
// readers see exactly the attempt it names.
func TestPublishMovesForwardOnly(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	s := sink.New(st.S3, st.Resources.Bucket, "")
	p := sink.Partition{Source: "orders", Hive: "dt=2026-11-01"}
	if _, err := s.Current(ctx, p); !errors.Is(err, sink.ErrNoPointer) {
		t.Fatalf("unpublished partition: %v", err)
	}
	manifest := func(attempt, parts int) sink.Manifest {
		m := sink.Manifest{V: 1, Source: "orders", Window: "2026-11-01", RunID: "r", Attempt: attempt, Records: int64(parts)}
		for seq := range parts {
			key := s.PartKey(p, attempt, seq)
			if _, err := s.WritePart(ctx, key, gz(t, "{}\n"), 1); err != nil {
				t.Fatal(err)
			}
			m.Parts = append(m.Parts, sink.Part{Key: key, Seq: seq})
		}
		if _, err := s.WriteManifest(ctx, p, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	steps := []struct {
		attempt, parts int
		want           sink.Publication
		wantCurrent    int
	}{
		{2, 3, sink.Publication{Attempt: 2, Replaced: 0, Moved: true}, 2},
		{1, 1, sink.Publication{Attempt: 2, Replaced: 0}, 2}, // a late commit of an older attempt
		{2, 3, sink.Publication{Attempt: 2, Replaced: 0}, 2}, // the same commit again
		{4, 2, sink.Publication{Attempt: 4, Replaced: 2, Moved: true}, 4},
	}
	for _, st := range steps {
		pub, err := s.Publish(ctx, p, manifest(st.attempt, st.parts))
		if err != nil || pub != st.want {
			t.Fatalf("publish attempt %d = %+v, %v; want %+v", st.attempt, pub, err, st.want)
		}
		cur, err := s.Current(ctx, p)
		if err != nil || cur.Attempt != st.wantCurrent {
			t.Fatalf("current after attempt %d = %+v, %v", st.attempt, cur, err)
		}
		for seq, uri := range cur.URIs {
			if key, ok := s.KeyOf(uri); !ok || key != s.PartKey(p, cur.Attempt, seq) {
				t.Fatalf("pointer lists %q, want attempt %d part %d", uri, cur.Attempt, seq)
			}
		}
	}
	// Concurrent publishers of different attempts: the highest wins.
	var wg sync.WaitGroup
	for attempt := 5; attempt <= 9; attempt++ {
		m := manifest(attempt, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Publish(ctx, p, m); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	cur, err := s.Current(ctx, p)
	if err != nil || cur.Attempt != 9 || cur.Replaced == 0 {
		t.Fatalf("after concurrent publishes: %+v, %v; want attempt 9, replacing another", cur, err)
	}
	// A late committer of attempt 8 cleans up: it must not touch attempt 9.
	n, err := s.RemoveAttemptsBelow(ctx, p, 8, 7)
	if err != nil {
		t.Fatal(err)
	}
	// Attempts 1, 2, 4, 5, 6: 1+3+2+1+1 parts, each with its manifest.
	if n != 8+5 {
		t.Fatalf("removed %d objects, want 13", n)
	}
	for _, a := range []int{7, 8, 9} {
		if parts, err := s.Parts(ctx, p, a); err != nil || len(parts) != 1 {
			t.Fatalf("kept attempt %d has parts %v, %v", a, parts, err)
		}
	}
	if parts, err := s.Parts(ctx, p, 4); err != nil || len(parts) != 0 {
		t.Fatalf("removed attempt 4 still has parts %v, %v", parts, err)
	}
}

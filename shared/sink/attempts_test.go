package sink_test

import (
	"context"
	"testing"

	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/sink"
)

// Against versitygw: the highest attempt a partition holds counts every
// attempt=<n>/ folder (a failed attempt's leftovers too) and the pointer,
// and nothing of another partition.
func TestHighestAttempt(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	s := sink.New(st.S3, st.Resources.Bucket, "raw/")
	p := sink.Partition{Source: "orders", Hive: "dt=2026-11-01"}
	other := sink.Partition{Source: "orders", Hive: "dt=2026-11-02"}
	write := func(p sink.Partition, attempt int) sink.Manifest {
		key := s.PartKey(p, attempt, 0)
		if _, err := s.WritePart(ctx, key, gz(t, "{}\n"), 1); err != nil {
			t.Fatal(err)
		}
		return sink.Manifest{V: 1, Attempt: attempt, Parts: []sink.Part{{Key: key, Seq: 0}}}
	}
	highest := func(want int, when string) {
		t.Helper()
		if got, err := s.HighestAttempt(ctx, p); err != nil || got != want {
			t.Fatalf("%s: highest attempt = %d, %v; want %d", when, got, err, want)
		}
	}
	highest(0, "empty")
	write(other, 9)
	highest(0, "another partition's attempt")
	write(p, 3)
	highest(3, "a failed attempt's leftover part")
	m := write(p, 2)
	if _, err := s.Publish(ctx, p, m); err != nil {
		t.Fatal(err)
	}
	highest(3, "published attempt 2 under leftover 3")
	if _, err := s.RemoveAttemptsBelow(ctx, p, 4); err != nil { // every folder gone, the pointer stays
		t.Fatal(err)
	}
	highest(2, "only the pointer")
}

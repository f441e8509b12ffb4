package commit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-data/sluice/services/writer/commit"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
	"github.com/sluice-data/sluice/shared/sink"
)

// A committer that decided its commit, then stalled past its lease before
// publishing, resumes while a newer attempt has written its parts: it may
// publish its own complete attempt, but it must leave the newer attempt's
// objects alone, and the newer attempt then commits and is what readers
// see.
func TestStaleCommitterLeavesTheNewerAttemptAlone(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	c := runstest.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	store, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table, Lease: 30 * time.Second}, runs.WithClock(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	sk := sink.New(st.S3, st.Resources.Bucket, "")
	part := sink.Partition{Source: "orders", Hive: "dt=2026-11-01"}

	// run drives one attempt to a complete, counted set of parts.
	run := func(msg string) runs.Run {
		claimed, err := store.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", MessageID: msg})
		if err != nil {
			t.Fatal(err)
		}
		r, err := store.Start(ctx, claimed.Ref(), "f-"+msg)
		if err != nil {
			t.Fatal(err)
		}
		for seq := range 2 {
			if _, err := sk.WritePart(ctx, sk.PartKey(part, r.Attempt, seq), batchData(t, r.Attempt, seq, 0), 2); err != nil {
				t.Fatal(err)
			}
			if _, err := store.BatchWritten(ctx, r.Ref(), seq); err != nil {
				t.Fatal(err)
			}
		}
		done, err := store.SetTotals(ctx, r.Ref(), 2, 4, 0)
		if err != nil || !done.Complete() {
			t.Fatalf("totals: %+v %v", done, err)
		}
		return done
	}

	first := run("m-1")
	stalled := &stallOnce{Sink: sk}
	if _, err := commit.New(store, stalled).Commit(ctx, first, part); !errors.Is(err, errStalled) {
		t.Fatalf("first commit = %v, want it stalled before publishing", err)
	}
	c.Add(time.Minute) // its lease runs out; a new trigger takes over
	second := run("m-2")

	// The stalled committer resumes: it publishes attempt 1 (complete) and
	// cleans up below it — not attempt 2.
	pub, err := sk.Publish(ctx, part, stalled.manifest)
	if err != nil || pub.Attempt != first.Attempt {
		t.Fatalf("late publish = %+v, %v", pub, err)
	}
	if _, err := sk.RemoveAttemptsBelow(ctx, part, first.Attempt, pub.Replaced); err != nil {
		t.Fatal(err)
	}
	if parts, err := sk.Parts(ctx, part, second.Attempt); err != nil || len(parts) != 2 {
		t.Fatalf("the newer attempt's parts after the late clean-up: %v, %v", parts, err)
	}
	if _, err := store.FinishCommit(ctx, first.Ref(), 2); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("the late committer finished its run: %v", err)
	}

	res, err := commit.New(store, sk).Commit(ctx, second, part)
	if err != nil || !res.Won || !res.Published || res.Replaced != first.Attempt {
		t.Fatalf("second commit = %+v, %v", res, err)
	}
	ptr, err := sk.Current(ctx, part)
	// Its two parts, compacted into one file.
	if err != nil || ptr.Attempt != second.Attempt || len(ptr.URIs) != 1 || ptr.URIs[0] != "s3://"+sk.Bucket()+"/"+sk.FileKey(part, second.Attempt, 0, 1, ".jsonl.gz") {
		t.Fatalf("pointer = %+v, %v", ptr, err)
	}
	if r, err := store.Get(ctx, "orders/2026-11-01"); err != nil || r.Status != runs.Succeeded || r.Attempt != second.Attempt {
		t.Fatalf("run = %+v, %v", r, err)
	}
}

// stallOnce stalls the first publish, keeping its manifest.
type stallOnce struct {
	*sink.Sink
	manifest sink.Manifest
}

func (s *stallOnce) Publish(_ context.Context, _ sink.Partition, m sink.Manifest) (sink.Publication, error) {
	s.manifest = m
	return sink.Publication{}, errStalled
}

// The run item is lost after the partition was published at attempt 2 (a
// PITR restore, a replaced table, an operator deleting a "stuck" item):
// attempts begin again at 1. That attempt's commit finds the pointer
// above it and must not report SUCCEEDED; and a claim that reads the
// bucket's highest attempt as its floor numbers the next attempt above
// everything the partition holds, so it commits and is what readers see.
func TestLostRunItemNeverReportsSucceededAndIsNumberedAbove(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	c := runstest.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	store, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table, Lease: 30 * time.Second}, runs.WithClock(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	sk := sink.New(st.S3, st.Resources.Bucket, "")
	part := sink.Partition{Source: "orders", Hive: "dt=2026-11-01"}
	input := "orders/2026-11-01"

	// attempt drives a claimed attempt to a complete, counted set of parts.
	attempt := func(claimed runs.Run) runs.Run {
		r, err := store.Start(ctx, claimed.Ref(), "f-"+claimed.RunID)
		if err != nil {
			t.Fatal(err)
		}
		for seq := range 2 {
			if _, err := sk.WritePart(ctx, sk.PartKey(part, r.Attempt, seq), batchData(t, r.Attempt, seq, 0), 2); err != nil {
				t.Fatal(err)
			}
			if _, err := store.BatchWritten(ctx, r.Ref(), seq); err != nil {
				t.Fatal(err)
			}
		}
		done, err := store.SetTotals(ctx, r.Ref(), 2, 4, 0)
		if err != nil || !done.Complete() {
			t.Fatalf("totals: %+v %v", done, err)
		}
		return done
	}
	claim := func(msg string, floor int) runs.Run {
		r, err := store.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", MessageID: msg, Floor: floor})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	lose := func() {
		if _, err := st.DynamoDB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(st.Resources.Table),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: input}, "sk": &types.AttributeValueMemberS{Value: "RUN"}}}); err != nil {
			t.Fatal(err)
		}
	}

	// Attempt 1 fails, attempt 2 is published.
	first := claim("m-1", 0)
	if err := store.Fail(ctx, first.Ref(), "permanent", "HTTP 401"); err != nil {
		t.Fatal(err)
	}
	second := attempt(claim("m-2", 0))
	if res, err := commit.New(store, sk).Commit(ctx, second, part); err != nil || !res.Published || second.Attempt != 2 {
		t.Fatalf("commit of attempt 2 = %+v, %v", res, err)
	}

	// Lost: attempt 1 again, under the partition's attempt 2.
	lose()
	again := attempt(claim("m-3", 0))
	_, err = commit.New(store, sk).Commit(ctx, again, part)
	if !fault.IsPermanent(err) {
		t.Fatalf("commit of attempt %d under a partition at attempt 2 = %v, want a permanent error", again.Attempt, err)
	}
	if r, err := store.Get(ctx, input); err != nil || r.Status == runs.Succeeded {
		t.Fatalf("run after committing below the pointer = %+v, %v; it must not read SUCCEEDED", r, err)
	}
	if ptr, err := sk.Current(ctx, part); err != nil || ptr.Attempt != 2 {
		t.Fatalf("pointer = %+v, %v; want attempt 2 untouched", ptr, err)
	}

	// Lost again; this time the claim reads the floor from the bucket.
	lose()
	floor, err := sk.HighestAttempt(ctx, part)
	if err != nil || floor != 2 {
		t.Fatalf("highest attempt = %d, %v; want 2 (attempt=1/ and attempt=2/, pointer at 2)", floor, err)
	}
	third := attempt(claim("m-4", floor))
	if third.Attempt != 3 {
		t.Fatalf("claim with floor %d = attempt %d, want 3", floor, third.Attempt)
	}
	res, err := commit.New(store, sk).Commit(ctx, third, part)
	if err != nil || !res.Published || res.Replaced != 2 {
		t.Fatalf("commit of attempt 3 = %+v, %v", res, err)
	}
	if r, err := store.Get(ctx, input); err != nil || r.Status != runs.Succeeded || r.Attempt != 3 {
		t.Fatalf("run = %+v, %v", r, err)
	}
}

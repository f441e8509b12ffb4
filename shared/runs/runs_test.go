package runs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
)

// The contract suite, against a fresh table in DynamoDB Local per test.
func TestStore(t *testing.T) {
	runstest.TestStore(t, func(t *testing.T, cfg runs.Config, now func() time.Time) runstest.Contract {
		st := devstacktest.Start(t, devstackOptions)
		cfg.Table = st.Resources.Table
		s, err := runs.New(st.DynamoDB, cfg, runs.WithClock(now))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestComplete(t *testing.T) {
	n := func(v int) *int { return &v }
	tests := []struct {
		name string
		run  runs.Run
		want bool
	}{
		{"total unknown", runs.Run{Written: []int{0}}, false},
		{"missing batch", runs.Run{BatchesExpected: n(3), Written: []int{0, 2}}, false},
		{"stray batch number", runs.Run{BatchesExpected: n(2), Written: []int{0, 5}}, false},
		{"all written", runs.Run{BatchesExpected: n(3), Written: []int{2, 0, 1}}, true},
		{"empty window", runs.Run{BatchesExpected: n(0)}, true},
	}
	for _, tt := range tests {
		if got := tt.run.Complete(); got != tt.want {
			t.Errorf("%s: Complete = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  runs.Config
		ok   bool
	}{
		{"defaults", runs.Config{Table: "t"}, true},
		{"heartbeat a third of the lease", runs.Config{Table: "t", Lease: 30 * time.Second, Heartbeat: 10 * time.Second}, true},
		{"heartbeat half the lease", runs.Config{Table: "t", Lease: 30 * time.Second, Heartbeat: 15 * time.Second}, false},
		{"heartbeat over the default lease", runs.Config{Table: "t", Heartbeat: 10 * time.Minute}, false},
		{"lease too short", runs.Config{Table: "t", Lease: time.Second}, false},
		{"no table", runs.Config{}, false},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

// flakyDB applies an update, then reports it failed, once: a response lost
// in transit, which the SDK retries.
type flakyDB struct {
	runs.DynamoDB
	failOnce string // the update expression to hit
	hit      bool
}

func (f *flakyDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := f.DynamoDB.UpdateItem(ctx, in, opts...)
	if err == nil && !f.hit && strings.Contains(*in.UpdateExpression, f.failOnce) {
		f.hit = true
		// The retry of the same request, as the SDK would send it.
		return f.DynamoDB.UpdateItem(ctx, in, opts...)
	}
	return out, err
}

// An update the SDK retried after the first request took effect is
// recognised as ours, not taken for a fence.
func TestRetriedUpdatesAreRecognisedAsOurOwn(t *testing.T) {
	for _, expr := range []string{"started_at = :at, lease_until", "checkpoint = :cp", "taken = :hop", "attempt = attempt + :one"} {
		t.Run(expr, func(t *testing.T) {
			st := devstacktest.Start(t, devstackOptions)
			db := &flakyDB{DynamoDB: st.DynamoDB, failOnce: expr}
			c := runstest.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
			s, err := runs.New(db, runs.Config{Table: st.Resources.Table, Lease: time.Minute}, runs.WithClock(c.Now))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			claimed, err := s.Claim(ctx, req("m-1"))
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.Start(ctx, claimed.Ref(), "f-0")
			if err != nil || r.Status != runs.Running {
				t.Fatalf("start = %+v, %v", r, err)
			}
			if err := s.Checkpoint(ctx, r.Ref(), 0, `{"page":{"pages":3}}`); err != nil {
				t.Fatalf("checkpoint: %v", err)
			}
			hop, err := s.StartHop(ctx, r.Ref(), "f-1", 1)
			if err != nil || hop.Taken != 1 {
				t.Fatalf("continue = %+v, %v", hop, err)
			}
			if err := s.Yield(ctx, hop.Ref(), "f-1"); err != nil {
				t.Fatal(err)
			}
			c.Add(5 * time.Second)                           // a visibility timeout later
			again, err := s.StartHop(ctx, r.Ref(), "f-1", 1) // its redelivery: a restart
			if err != nil || again.Attempt != r.Attempt+1 {
				t.Fatalf("restart = %+v, %v", again, err)
			}
			if !db.hit {
				t.Fatalf("the update %q was never retried", expr)
			}
		})
	}
}

func req(msg string) runs.ClaimRequest {
	return runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", MessageID: msg}
}

// devstack provisions the open-runs index by the names the store queries.
func TestOpenIndexIsTheOneDevstackProvisions(t *testing.T) {
	if runs.OpenIndex != devstack.OpenIndex || runs.OpenAttribute != devstack.OpenAttribute || devstack.LeaseAttribute != "lease_until" {
		t.Fatalf("runs: %s/%s, devstack: %s/%s/%s", runs.OpenIndex, runs.OpenAttribute, devstack.OpenIndex, devstack.OpenAttribute, devstack.LeaseAttribute)
	}
}

// countingDB counts the write requests made through it.
type countingDB struct {
	runs.DynamoDB
	writes atomic.Int64
}

func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.writes.Add(1)
	return c.DynamoDB.UpdateItem(ctx, in, opts...)
}

func (c *countingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.writes.Add(1)
	return c.DynamoDB.PutItem(ctx, in, opts...)
}

// A claim is one conditional write request in the cases that make up
// nearly every claim: a new input (a PutItem), its duplicates and
// redeliveries while it is claimed (that PutItem's failure says why), a
// rerun of an input whose bucket holds attempts (an UpdateItem, numbered
// above the floor). Two requests: an existing run claimed with no floor
// (the PutItem finds it, the UpdateItem claims it). A take-over of a live
// attempt writes that attempt's history too. The history still shows
// every attempt (the contract suite checks what it holds).
func TestAClaimIsOneWrite(t *testing.T) {
	ctx := context.Background()
	withFloor := func(r runs.ClaimRequest, floor int) runs.ClaimRequest { r.Floor = floor; return r }
	failed := func(t *testing.T, s *runs.Store, _ *runstest.Clock) {
		r, err := s.Claim(ctx, req("m-1"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Fail(ctx, r.Ref(), "permanent", "HTTP 401"); err != nil {
			t.Fatal(err)
		}
	}
	claimed := func(t *testing.T, s *runs.Store, _ *runstest.Clock) {
		if _, err := s.Claim(ctx, req("m-1")); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		setup  func(t *testing.T, s *runs.Store, c *runstest.Clock)
		req    runs.ClaimRequest
		lost   bool
		writes int64
	}{
		{"new input", func(*testing.T, *runs.Store, *runstest.Clock) {}, req("m-1"), false, 1},
		{"the claiming message again", claimed, req("m-1"), false, 1},
		{"a duplicate trigger while claimed", claimed, req("m-2"), true, 1},
		{"after a FAILED run whose bucket holds its attempt", failed, withFloor(req("m-2"), 1), false, 1},
		{"after a FAILED run with nothing in the bucket", failed, req("m-2"), false, 2},
		{"a take-over of an expired lease", func(t *testing.T, s *runs.Store, c *runstest.Clock) {
			claimed(t, s, c)
			c.Add(2 * time.Minute)
		}, req("m-2"), false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := devstacktest.Start(t, devstackOptions)
			db := &countingDB{DynamoDB: st.DynamoDB}
			c := runstest.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
			s, err := runs.New(db, runs.Config{Table: st.Resources.Table, Lease: time.Minute}, runs.WithClock(c.Now))
			if err != nil {
				t.Fatal(err)
			}
			tt.setup(t, s, c)
			before := db.writes.Load()
			got, err := s.Claim(ctx, tt.req)
			if n := db.writes.Load() - before; n != tt.writes {
				t.Errorf("the claim made %d write requests, want %d", n, tt.writes)
			}
			if tt.lost {
				if !errors.Is(err, runs.ErrClaimLost) {
					t.Fatalf("claim = %+v, %v; want it lost", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cur, err := s.Get(ctx, got.Input)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", cur) {
				t.Errorf("claim returned\n%+v\nthe run item is\n%+v", got, cur)
			}
			h, err := s.History(ctx, got.Input)
			if err != nil {
				t.Fatal(err)
			}
			if last := h[len(h)-1]; len(h) != got.Attempt || last.Attempt != got.Attempt || last.Status != runs.Claimed || last.RunID != got.RunID {
				t.Errorf("history = %+v; want attempts 1…%d, the last CLAIMED", h, got.Attempt)
			}
		})
	}
}

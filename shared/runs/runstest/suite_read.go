package runstest

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluice-data/sluice/shared/runs"
)

// GetMany reads more inputs than one DynamoDB batch takes and leaves out
// those without a run; LatestSucceeded returns the first SUCCEEDED input of
// those asked, newest first, past batches of others.
func testReadsByKey(t *testing.T, open Open) {
	s, _ := newStore(t, open)
	ctx := context.Background()
	var inputs []string // newest first: w150 … w001
	for i := 150; i > 0; i-- {
		w := fmt.Sprintf("w%03d", i)
		inputs = append(inputs, "orders/"+w)
		if i%3 == 0 { // no run
			continue
		}
		r, err := s.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: w, Trigger: "backfill", MessageID: "m-" + w})
		if err != nil {
			t.Fatal(err)
		}
		switch i {
		case 10, 20:
			succeed(t, s, r)
		case 140:
			if err := s.Fail(ctx, r.Ref(), "permanent", "HTTP 401"); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := s.GetMany(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 {
		t.Fatalf("GetMany returned %d runs, want the 100 that have one", len(got))
	}
	for in, want := range map[string]runs.Status{"orders/w140": runs.Failed, "orders/w020": runs.Succeeded, "orders/w149": runs.Claimed} {
		if r := got[in]; r.Status != want || r.Input != in {
			t.Errorf("%s: %s %s, want %s", in, r.Input, r.Status, want)
		}
	}
	if _, ok := got["orders/w150"]; ok {
		t.Error("orders/w150 has no run but was returned")
	}
	// The same input asked twice (schedule --sources orders,orders) is read
	// once: DynamoDB refuses a batch whose keys repeat.
	dup := []string{"orders/w149", "orders/w150", "orders/w149", "orders/w148", "orders/w148"}
	got, err = s.GetMany(ctx, dup)
	if err != nil {
		t.Fatalf("GetMany with repeated inputs: %v", err)
	}
	if len(got) != 2 || got["orders/w149"].Input != "orders/w149" || got["orders/w148"].Input != "orders/w148" {
		t.Errorf("GetMany with repeated inputs returned %v, want w149 and w148", got)
	}
	if _, ok, err := s.LatestSucceeded(ctx, []string{"orders/w020", "orders/w020"}); err != nil || !ok {
		t.Errorf("LatestSucceeded with a repeated input: %v, %v; want w020", ok, err)
	}
	for _, tt := range []struct {
		name   string
		inputs []string
		want   string
	}{
		{"past more than a batch of others", inputs, "orders/w020"},
		{"the older one", inputs[131:], "orders/w010"},
		{"none", inputs[:100], ""},
		{"nothing asked", nil, ""},
	} {
		r, ok, err := s.LatestSucceeded(ctx, tt.inputs)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (tt.want != "") || r.Input != tt.want || (ok && r.Status != runs.Succeeded) {
			t.Errorf("%s: LatestSucceeded = %s %s, %v; want %q", tt.name, r.Input, r.Status, ok, tt.want)
		}
	}
}

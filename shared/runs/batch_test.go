package runs_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
)

// GetMany reads more keys than one BatchGetItem takes, and leaves out
// inputs without a run; LatestSucceeded finds the newest SUCCEEDED input
// of those asked, past a batch of others.
func TestGetManyAndLatestSucceeded(t *testing.T) {
	st := devstacktest.Start(t, devstackOptions)
	s, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var inputs []string // newest first
	for i := 250; i > 0; i-- {
		w := fmt.Sprintf("w%03d", i)
		inputs = append(inputs, "orders/"+w)
		switch {
		case i == 40 || i == 10:
			runstest.Put(t, st.DynamoDB, st.Resources.Table, runs.Run{Source: "orders", Window: w, Status: runs.Succeeded, Attempt: 1, Records: int64(i)})
		case i > 120:
			runstest.Put(t, st.DynamoDB, st.Resources.Table, runs.Run{Source: "orders", Window: w, Status: runs.Failed, Attempt: 2})
		case i%2 == 0:
			runstest.Put(t, st.DynamoDB, st.Resources.Table, runs.Run{Source: "orders", Window: w, Status: runs.Running, Attempt: 1})
		}
	}
	got, err := s.GetMany(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	// 130 failed (121…250), 2 succeeded, the even ones of 1…120 but 40, 10.
	if want := 130 + 2 + 58; len(got) != want {
		t.Fatalf("GetMany returned %d runs, want %d", len(got), want)
	}
	if r := got["orders/w200"]; r.Status != runs.Failed || r.Attempt != 2 {
		t.Fatalf("orders/w200 = %+v", r)
	}
	if _, ok := got["orders/w119"]; ok {
		t.Fatal("orders/w119 has no run but was returned")
	}

	tests := []struct {
		name   string
		inputs []string
		want   string // "" for none
	}{
		{"past 130 failed windows, over two batches", inputs, "orders/w040"},
		{"the newest of two", inputs[210:], "orders/w040"},
		{"after the newest", inputs[211:], "orders/w010"},
		{"none succeeded", inputs[:100], ""},
		{"nothing asked", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok, err := s.LatestSucceeded(ctx, tt.inputs)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tt.want != "") || r.Input != tt.want {
				t.Fatalf("LatestSucceeded = %s, %v; want %q", r.Input, ok, tt.want)
			}
		})
	}
}

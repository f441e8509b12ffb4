package main

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/contracts"
)

// The ticker sends a schedule trigger at once and then every interval,
// each one a valid Trigger for every source at the tick's time; a failed
// send is reported and the next tick sends again.
func TestScheduleEverySendsScheduleTriggers(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	at := time.Date(2026, 12, 1, 21, 0, 0, 0, time.FixedZone("CET", 3600))
	var mu sync.Mutex
	var sent []contracts.Trigger
	var reported []error
	calls := 0
	send := func(_ context.Context, body []byte) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 2 {
			return errors.New("queue unreachable")
		}
		tr, err := contracts.DecodeTrigger(body)
		if err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		sent = append(sent, tr)
		if len(sent) == 3 {
			cancel()
		}
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		scheduleEvery(ctx, send, 10*time.Millisecond, func() time.Time { return at }, func(err error) {
			mu.Lock()
			defer mu.Unlock()
			reported = append(reported, err)
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("scheduleEvery did not return after its context ended")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 3 || len(reported) != 1 {
		t.Fatalf("sent %d triggers and reported %d errors (%v), want 3 and 1", len(sent), len(reported), reported)
	}
	for _, tr := range sent {
		if tr.Trigger != contracts.TriggerSchedule || len(tr.Sources) != 0 || !tr.From.IsZero() || !tr.At.Equal(at) || tr.Force {
			t.Errorf("trigger %+v, want every source's due windows at %v, trigger schedule", tr, at)
		}
	}
}

package handover_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/handover"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/queue"
)

func TestContinues(t *testing.T) {
	src := &pipeline.Source{Name: "orders", Pagination: pipeline.Pagination{Type: pipeline.PageNumber, PageSize: 10}}
	other := *src
	other.Pagination.PageSize = 20
	tests := []struct {
		name string
		cut  string
		want bool
	}{
		{"the same config", src.Fingerprint(), true},
		{"another config", other.Fingerprint(), false},
		{"a checkpoint without a fingerprint", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := handover.Continues(tt.cut, src); got != tt.want {
				t.Fatalf("Continues = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStopPolicyAfter(t *testing.T) {
	p := handover.StopPolicy{Max: 3, Backoff: 30 * time.Second}
	quota := fault.RetryAfter(errors.New("429"), 5*time.Minute)
	plain := fault.Retryable(errors.New("503"))
	tests := []struct {
		name       string
		stops      int
		progressed bool
		cause      error
		want       handover.Stop
		wantErr    bool
	}{
		{"a page got, no Retry-After: go on at once", 2, true, plain, handover.Stop{}, false},
		{"a page got, a Retry-After: wait it, the count reset", 2, true, quota, handover.Stop{Wait: 5 * time.Minute}, false},
		{"no page, a Retry-After: wait it, counted", 0, false, quota, handover.Stop{Stops: 1, Wait: 5 * time.Minute}, false},
		{"no page, no Retry-After: the backoff, doubling", 1, false, plain, handover.Stop{Stops: 2, Wait: time.Minute}, false},
		{"the backoff is capped at the queue's longest delay", 2, false, plain, handover.Stop{Stops: 3, Wait: min(2*time.Minute, queue.MaxDelay)}, false},
		{"one stop more than Max without a page: the fetch fails", 3, false, quota, handover.Stop{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.After(tt.stops, tt.progressed, tt.cause)
			if tt.wantErr {
				if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "no progress over 4 stops") || !errors.Is(err, tt.cause) {
					t.Fatalf("After = %+v, %v; want a permanent error saying no progress over 4 stops, wrapping the cause", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("After = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

package source

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// TestCounts: a walk tallies the API's 429 and 5xx answers and the
// requests it made again into the Counts its context carries, whether
// the walk ends well or gives up.
func TestCounts(t *testing.T) {
	tests := []struct {
		name                      string
		fail                      demoapi.Failure
		retry                     pipeline.Retry
		wantErr                   bool
		want429, want5xx, wantTry int64
	}{
		{"no failure", demoapi.Failure{}, pipeline.Retry{}, false, 0, 0, 0},
		{"two 429s waited out", demoapi.Failure{Status: 429, RetryAfter: "1", Count: 2}, pipeline.Retry{}, false, 2, 0, 2},
		{"two 500s retried", demoapi.Failure{Status: 500, Count: 2}, pipeline.Retry{}, false, 0, 2, 2},
		{"503 until the walk gives up", demoapi.Failure{Status: 503}, pipeline.Retry{MaxAttempts: 3}, true, 0, 3, 2},
		{"a truncated body is a retry, not a status", demoapi.Failure{Body: demoapi.Truncated, Count: 1}, pipeline.Retry{}, false, 0, 0, 1},
		{"a 404 is counted as neither", demoapi.Failure{Status: 404}, pipeline.Retry{}, true, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDemo(t, styleOpts(demoapi.SourceOptions{Style: demoapi.PageNumber}))
			src := *d.src("src")
			src.Retry = tt.retry
			src.Retry.BaseDelay = time.Millisecond
			if tt.fail != (demoapi.Failure{}) {
				d.api.Inject("src", tt.fail)
			}
			c, _ := recordingClient()
			var counts Counts
			_, err := walk(WithCounts(context.Background(), &counts), c, &src, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("walk: %v, want an error: %v", err, tt.wantErr)
			}
			if got := [3]int64{counts.TooManyRequests.Load(), counts.ServerErrors.Load(), counts.Retries.Load()}; got != [3]int64{tt.want429, tt.want5xx, tt.wantTry} {
				t.Fatalf("429s, 5xx, retries = %v, want %v", got, [3]int64{tt.want429, tt.want5xx, tt.wantTry})
			}
		})
	}
}

// A walk whose context carries no Counts tallies nothing and still works.
func TestCountsAreOptional(t *testing.T) {
	d := startDemo(t, styleOpts(demoapi.SourceOptions{Style: demoapi.PageNumber}))
	d.api.Inject("src", demoapi.Failure{Status: 500, Count: 1})
	c, _ := recordingClient()
	if _, err := walk(context.Background(), c, d.src("src"), nil); err != nil {
		t.Fatal(err)
	}
}

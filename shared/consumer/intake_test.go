package consumer

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"
)

// The Lambda transport's Intake counts the event's records not finished:
// each handler sees its own and those still running or to start, and no
// message outside the event. The poller's handlers have none.
func TestLambdaIntakeCountsTheRecordsNotFinished(t *testing.T) {
	for _, tt := range []struct {
		records, workers int
		want             []int // Unfinished, seen by each record's handler as it starts
	}{
		{records: 1, workers: 5, want: []int{1}},
		{records: 3, workers: 5, want: []int{3, 3, 3}},    // all running at once
		{records: 4, workers: 1, want: []int{4, 3, 2, 1}}, // one after another
	} {
		t.Run(fmt.Sprint(tt.records, "/", tt.workers), func(t *testing.T) {
			var (
				mu     sync.Mutex
				seen   = map[string]int{}
				gate   = make(chan struct{})
				starts sync.WaitGroup
			)
			running := min(tt.records, tt.workers)
			starts.Add(running)
			h := HandlerFunc(func(ctx context.Context, m Message) error {
				n, ok := IntakeOf(ctx).Unfinished()
				if !ok {
					t.Error("a Lambda handler without an Intake")
				}
				mu.Lock()
				seen[m.ID] = n
				first := len(seen) <= running
				mu.Unlock()
				if first {
					starts.Done()
					<-gate // the first records stay running until all of them started
				}
				return nil
			})
			var ev events.SQSEvent
			for i := range tt.records {
				ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprint(i), Body: "{}"})
			}
			go func() { starts.Wait(); close(gate) }()
			if _, err := Lambda(zap.NewNop(), h, &fakeSettler{}, tt.workers, 5, 0, nil)(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			var got []int
			for i := range tt.records {
				got = append(got, seen[fmt.Sprint(i)])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Unfinished as each record started: %v, want %v", got, tt.want)
			}
		})
	}
	if _, ok := IntakeOf(context.Background()).Unfinished(); ok {
		t.Error("no Intake: bounded")
	}
}

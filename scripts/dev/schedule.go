package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/contracts"
)

// scheduleTrigger is the trigger a deployment's EventBridge schedule
// stands for at time at: every source, the windows due at at, trigger
// "schedule". (On AWS the scheduler Lambda gets the scheduled event itself;
// a local poller only reads its triggers queue, so the trigger goes there.)
func scheduleTrigger(at time.Time) contracts.Trigger {
	return contracts.Trigger{V: contracts.Version, Kind: contracts.KindTrigger, Trigger: contracts.TriggerSchedule, At: at.UTC()}
}

// sendFunc sends one message body to the scheduler's triggers queue.
type sendFunc func(ctx context.Context, body []byte) error

// sqsSender sends to the queue at url.
func sqsSender(api *sqs.Client, url string) sendFunc {
	return func(ctx context.Context, body []byte) error {
		ctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
		defer cancel()
		_, err := api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(string(body))})
		return err
	}
}

// scheduleEvery sends a schedule trigger at once and then every interval
// until ctx ends, as the deployment's EventBridge schedule would. A send
// that fails is reported to report and the next tick tries again.
func scheduleEvery(ctx context.Context, send sendFunc, every time.Duration, now func() time.Time, report func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		body, err := json.Marshal(scheduleTrigger(now()))
		if err == nil {
			err = send(ctx, body)
		}
		if err != nil && ctx.Err() == nil {
			report(fmt.Errorf("schedule trigger not sent (the next tick tries again): %w", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

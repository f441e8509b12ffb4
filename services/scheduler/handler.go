package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/queue"
)

// batchSender publishes many messages; *queue.Publisher is one.
type batchSender interface {
	SendBatch(ctx context.Context, url string, bodies [][]byte) error
}

var _ batchSender = (*queue.Publisher)(nil)

type handler struct {
	pipeline  *pipeline.Config
	out       batchSender
	inputsURL string
	now       func() time.Time
	sweep     sweeper
	// latest reads the sources' latest SUCCEEDED windows for the
	// freshness lines of each sweep (nil: none), which carry metrics.
	latest  latestReader
	metrics *metrics.Emitter
	// scheduleEvery is the schedule's longest gap between fires, for
	// freshness.Check (0: freshness.DefaultEvery).
	scheduleEvery time.Duration
	// freshnessBudget bounds the freshness reads of one sweep, which run
	// after the sweep itself (0: defaultFreshnessBudget).
	freshnessBudget time.Duration
}

// Handle expands one Trigger message into inputs and publishes them.
func (h *handler) Handle(ctx context.Context, m consumer.Message) error {
	t, err := contracts.DecodeTrigger(m.Body)
	if err != nil {
		return err
	}
	return h.publish(ctx, t, m.ID)
}

// publish sends the inputs of t. requestID names the trigger across its
// redeliveries (the message id, the EventBridge event id): a forced
// trigger gives it to every input as force id, so that copies of the same
// forced trigger rerun each input once.
//
// A trigger is expanded at its own time (At) if it has one, else now. A
// time ahead of this clock (a schedule's time and a little clock skew, or
// a time still to come) is refused, whole, only if one of its windows is
// not due now: dedupe would refuse it.
func (h *handler) publish(ctx context.Context, t contracts.Trigger, requestID string) error {
	now := h.now()
	if t.At.IsZero() {
		t.At = now
	}
	inputs, err := expand(h.pipeline, t)
	if err != nil {
		return err
	}
	if t.At.After(now) {
		for _, in := range inputs {
			if _, _, err := h.pipeline.Admit(in.Source, in.Window, now); err != nil {
				return fmt.Errorf("trigger at %s, ahead of the scheduler's clock: %w", t.At.UTC().Format(time.RFC3339), err)
			}
		}
	}
	if t.Force {
		for i := range inputs {
			inputs[i].ForceID = requestID
		}
	}
	bodies := make([][]byte, len(inputs))
	for i, in := range inputs {
		if bodies[i], err = json.Marshal(in); err != nil {
			return fault.Permanent(fmt.Errorf("encode input: %w", err))
		}
	}
	// A partial failure is retried whole: inputs sent twice lose their
	// claim in dedupe, which is what it is for.
	if err := h.out.SendBatch(ctx, h.inputsURL, bodies); err != nil {
		return fmt.Errorf("publish %d inputs: %w", len(inputs), err)
	}
	logging.From(ctx).Info("inputs published", zap.Int("inputs", len(inputs)), zap.String("trigger", t.Trigger),
		zap.Strings("sources", t.Sources), zap.Bool("force", t.Force))
	return nil
}

// expand is the domain step: the inputs a trigger stands for at its time
// At. With a range it is every window of each named source (all sources
// when none is named) that overlaps [From, To), refused whole if one of them
// is not due at At; without one, the windows due at At — each source's
// partition.lookback latest windows that ended partition.lag ago, none
// before partition.start.
//
// The expansion, and its bounds, are the pipeline config's (Config.Expand),
// shared with `sluicectl backfill` and `schedule`, which refuse what it
// refuses before sending.
func expand(p *pipeline.Config, t contracts.Trigger) ([]contracts.Input, error) {
	planned, err := p.Expand(t.Sources, t.From, t.To, t.At)
	if err != nil {
		return nil, err
	}
	var inputs []contracts.Input
	for _, u := range planned {
		inputs = append(inputs, contracts.NewInput(u.Source, u.Window, t.Trigger, t.Force))
	}
	return inputs, nil
}

// maxInputsPerTrigger guards against a mistyped range flooding the queue.
const maxInputsPerTrigger = pipeline.MaxInputs

// scheduledEvent is the detail-type of the events an EventBridge rule with a
// schedule expression sends.
const scheduledEvent = "Scheduled Event"

// HandleEvent handles an event the scheduler Lambda is invoked with
// directly: a scheduled event from an EventBridge rule, the sweep's event
// (detail-type sweepEvent, the input of the sweep's rule: it runs one
// sweep), or a Trigger from EventBridge Scheduler (the schedule's input). (SQS events from the
// triggers queue go through Handle; consumer.LambdaEvents tells them
// apart.) Anything else is refused with a permanent error: a schedule
// whose input is wrong must show up, not quietly become "every source,
// latest window".
func (h *handler) HandleEvent(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		DetailType string    `json:"detail-type"`
		Time       time.Time `json:"time"`
		ID         string    `json:"id"`
	}
	var t contracts.Trigger
	err := json.Unmarshal(raw, &probe)
	switch {
	case err != nil:
		err = fault.Permanentf("scheduler: undecodable event: %w", err)
	case probe.DetailType == scheduledEvent:
		t = contracts.Trigger{V: contracts.Version, Kind: contracts.KindTrigger, Trigger: contracts.TriggerSchedule, At: probe.Time}
	case probe.DetailType == sweepEvent:
		rep, err := h.runSweep(ctx)
		if err != nil {
			return nil, fmt.Errorf("sweep failed (the next one tries again): %w", err)
		}
		return rep, nil
	case probe.DetailType != "":
		err = fault.Permanentf("scheduler: EventBridge event of detail-type %q, want %q or %q", probe.DetailType, scheduledEvent, sweepEvent)
	default:
		if t, err = contracts.DecodeTrigger(raw); err != nil {
			err = fmt.Errorf("scheduler: event is neither an SQS event, a scheduled event nor a Trigger: %w", err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("event refused; nothing published: %w", err)
	}
	requestID := probe.ID // EventBridge keeps the event id across retries
	if lc, ok := lambdacontext.FromContext(ctx); ok && requestID == "" {
		requestID = lc.AwsRequestID // kept across Lambda's async retries
	}
	if err := h.publish(ctx, t, requestID); err != nil {
		return nil, fmt.Errorf("scheduled trigger failed: %w", err) // EventBridge retries and then uses its DLQ
	}
	return map[string]any{"ok": true}, nil
}

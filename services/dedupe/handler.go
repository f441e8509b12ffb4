package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/service"
	"github.com/sluice-data/sluice/shared/sink"
)

// claimer takes inputs; *runs.Store is one.
type claimer interface {
	Claim(ctx context.Context, req runs.ClaimRequest) (runs.Run, error)
	service.RunFailer
}

// floors reads the highest attempt the bucket holds for a partition;
// *sink.Sink is one.
type floors interface {
	HighestAttempt(ctx context.Context, p sink.Partition) (int, error)
}

// sender publishes messages; *queue.Publisher is one.
type sender interface {
	SendJSON(ctx context.Context, url string, v any) error
}

var (
	_ claimer = (*runs.Store)(nil)
	_ floors  = (*sink.Sink)(nil)
)

type handler struct {
	pipeline *pipeline.Config
	runs     claimer
	floors   floors
	out      sender
	fetchURL string
	now      func() time.Time
	// metrics puts a dropped duplicate and a FAILED run on their lines
	// (nil: none).
	metrics *metrics.Emitter
}

// Handle claims the input of one Input message and hands the claim to the
// fetcher.
func (h *handler) Handle(ctx context.Context, m consumer.Message) error {
	in, err := contracts.DecodeInput(m.Body)
	if err != nil {
		return err
	}
	logging.Annotate(ctx, zap.String(logging.FieldInput, in.Key()))
	p, err := h.partition(in)
	if err != nil {
		return err
	}
	// The claim numbers its attempt above whatever the bucket holds, so a
	// lost run item never reuses an attempt number.
	floor, err := h.floors.HighestAttempt(ctx, p)
	if err != nil {
		return fmt.Errorf("read the attempts %s holds: %w", in.Key(), err)
	}
	run, err := claim(ctx, h.runs, in, m.ID, floor)
	if errors.Is(err, runs.ErrClaimLost) {
		logging.From(ctx).Info("claim lost; duplicate dropped", zap.String("reason", err.Error()),
			h.metrics.Service(dropped(in, err).Int(1)))
		return nil
	}
	if err != nil {
		return err
	}
	logging.Annotate(ctx, zap.String(logging.FieldRunID, run.RunID), zap.Int(logging.FieldAttempt, run.Attempt))
	// From here the input is held: giving up on the message (its Fetch
	// never sent) must free it, or it stays claimed for a lease with no
	// message anywhere.
	consumer.OnGiveUp(ctx, service.FailRun(h.runs, run.Ref(), h.metrics))
	if err := h.out.SendJSON(ctx, h.fetchURL, contracts.NewFetch(run.Ref(), in.Trigger)); err != nil {
		// Retried: the redelivered message gets its own claim back.
		return fmt.Errorf("hand %s to the fetcher: %w", in.Key(), err)
	}
	logging.From(ctx).Info("claimed", zap.String("trigger", in.Trigger), zap.Time("lease_until", run.LeaseExpiry()))
	return nil
}

// partition checks the input against the pipeline config — a known
// source, one of its windows, and due now (pipeline.Config.Admit): a
// window that has not ended, or is before the source's start, is refused
// permanently, so the input is parked with the reason before anything is
// claimed — and returns where its output goes.
func (h *handler) partition(in contracts.Input) (sink.Partition, error) {
	src, w, err := h.pipeline.Admit(in.Source, in.Window, h.now())
	if err != nil {
		return sink.Partition{}, err
	}
	return sink.Partition{Source: in.Source, Hive: src.Partition.HivePath(w)}, nil
}

// claim is the domain step: take the input for a new attempt, numbered
// above floor. A forced input without a force id is its own rerun
// request. Its errors already name the input.
func claim(ctx context.Context, c claimer, in contracts.Input, messageID string, floor int) (runs.Run, error) {
	req := runs.ClaimRequest{Source: in.Source, Window: in.Window, Trigger: in.Trigger, Force: in.Force, MessageID: messageID, Floor: floor, TakeUp: in.TakeUp}
	if in.Force {
		req.ForceID = in.ForceID
		if req.ForceID == "" {
			req.ForceID = messageID
		}
	}
	return c.Claim(ctx, req)
}

// dropped is the metric of in, dropped with err, a lost claim:
// AlreadySucceeded when its window SUCCEEDED and in does not ask for a
// rerun (not forced: what lookback's re-asks of finished windows find on
// every scheduled trigger, a late copy, a sweep's take-up of a run that
// finished); DuplicatesDropped for every other lost claim — an attempt
// holds the input (asked for again while it runs), a copy of a forced
// request that already reran it (the run SUCCEEDED under its force id),
// or a sweep's take-up that the run no longer needs (taken up already,
// FAILED, CLAIMED, or fetched).
func dropped(in contracts.Input, err error) metrics.Def {
	var lost *runs.ClaimLostError
	if errors.As(err, &lost) && lost.Status == runs.Succeeded && !in.Force {
		return metrics.AlreadySucceeded
	}
	return metrics.DuplicatesDropped
}

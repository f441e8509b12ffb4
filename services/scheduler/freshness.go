package main

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/freshness"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
)

// latestReader finds a source's latest SUCCEEDED window among inputs
// given newest first; *runs.Store is one.
type latestReader interface {
	LatestSucceeded(ctx context.Context, inputs []string) (runs.Run, bool, error)
}

var _ latestReader = (*runs.Store)(nil)

// freshnessWindows is how many of a source's latest due windows a
// freshness check reads (one BatchGetItem): a source with no SUCCEEDED
// window among them is at least that old, which is all its lag needs to
// say (it is stale long before).
const freshnessWindows = 100

// reportFreshness writes one "freshness" line per source, with the
// FreshnessLag metric of the source: how far its latest SUCCEEDED window
// is behind what its schedule allows (freshness.Check: partition.lag, one
// window, the schedule's period SLUICE_SCHEDULE_INTERVAL and an hour's
// grace), 0 when it is fresh. The scheduler's sweep
// calls it every minute, so a source that runs no more — whose services
// emit nothing — still has its lag measured, and the freshness alarm
// fires on it. A source whose runs cannot be read is logged and left out
// of this sweep's lines (the alarm treats missing data as breaching).
func (h *handler) reportFreshness(ctx context.Context) {
	if h.latest == nil {
		return
	}
	now := h.now()
	for i := range h.pipeline.Sources {
		src := &h.pipeline.Sources[i]
		rep, found, err := h.freshnessOf(ctx, src, now)
		if err != nil {
			logging.From(ctx).Warn("freshness: cannot read the source's runs; no lag measured this sweep", zap.String("source", src.Name), zap.Error(err))
			continue
		}
		lag := max(0, rep.Age-rep.Allowed)
		latest := ""
		if found {
			latest = src.Partition.Key(rep.Latest)
		}
		logging.From(ctx).Info("freshness", zap.String("source", src.Name), zap.String("latest_succeeded", latest),
			zap.Duration("age", rep.Age), zap.Duration("allowed", rep.Allowed), zap.Bool("stale", rep.Stale),
			h.metrics.Source(src.Name, metrics.FreshnessLag.Duration(lag)))
	}
}

// freshnessOf checks src at now from its latest SUCCEEDED window among
// its freshnessWindows latest due ones, and says whether it found one. A
// source with nothing due yet (before partition.start) has the zero
// report, fresh: it still gets its line, or its alarm would see missing
// data, which is breaching.
func (h *handler) freshnessOf(ctx context.Context, src *pipeline.Source, now time.Time) (freshness.Report, bool, error) {
	p := src.Partition
	due := p.Due(now)
	if len(due) == 0 {
		return freshness.Report{}, false, nil
	}
	end := due[len(due)-1].End
	from := end.Add(-freshnessWindows * time.Hour)
	if p.Every == pipeline.Day {
		from = end.AddDate(0, 0, -freshnessWindows)
	}
	if !p.Start.IsZero() && !from.After(p.Start) {
		from = p.Start
	}
	ws := p.Windows(from, end)
	keys := make([]string, 0, len(ws))
	for i := len(ws) - 1; i >= 0; i-- {
		keys = append(keys, contracts.InputKey(src.Name, p.Key(ws[i])))
	}
	r, found, err := h.latest.LatestSucceeded(ctx, keys)
	if err != nil {
		return freshness.Report{}, false, fmt.Errorf("latest SUCCEEDED window of %s: %w", src.Name, err)
	}
	// None among the windows read: the zero window, as `sluicectl status`
	// passes for a source with none — measured from partition.start, or
	// never published without one (freshness.Check: one rule for both).
	var latest pipeline.Window
	if found {
		if latest, err = p.ParseKey(r.Window); err != nil {
			return freshness.Report{}, false, fmt.Errorf("latest SUCCEEDED window of %s: %w", src.Name, err)
		}
	}
	return freshness.Check(p, latest, now, h.scheduleEvery, 0), found, nil
}

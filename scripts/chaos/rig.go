package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// stack is where a round runs: the emulators and a resource set of its own.
type stack struct {
	Endpoints devstack.Endpoints
	Config    aws.Config
	Resources devstack.Resources
}

// pollEvery is how often the rig reads the runs table: the resolution of
// the take-up times.
const pollEvery = 200 * time.Millisecond

// round runs one chaos round of cfg on st with the binaries in bin, its
// pipeline file, service logs and signals.log (one line per signal) under
// work. It writes a line to report
// for everything wrong it finds, and returns the figures; the error is for
// a rig that could not do its part (an emulator gone, a binary that would
// not start), not for what it found.
func round(ctx context.Context, cfg Config, st stack, bin, work string, report io.Writer) (fig Figures, err error) {
	fig.Seed = cfg.Seed
	api := demoapi.New(demoapi.Options{RecordsPerDay: cfg.Records, PageSize: cfg.PageSize, Sources: cfg.sources()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fig, err
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	yaml := strings.ReplaceAll(api.PipelineYAML("http://"+ln.Addr().String(), nil), "    partition:\n", retryYAML+"    partition:\n")
	yaml = cfg.concurrencyYAML(yaml)
	pipelineFile := filepath.Join(work, "pipeline.yaml")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return fig, err
	}
	if err := os.WriteFile(pipelineFile, []byte(yaml), 0o644); err != nil {
		return fig, err
	}

	p := &localrun.Pipeline{
		Bin: bin, LogDir: filepath.Join(work, "logs"), Endpoints: st.Endpoints, Resources: st.Resources,
		PipelineFile: pipelineFile, Env: cfg.serviceEnv(),
	}
	signals, err := os.Create(filepath.Join(work, "signals.log"))
	if err != nil {
		return fig, err
	}
	defer signals.Close()
	m := newMonkey(cfg, p, api, st.Endpoints.SQS, signals)
	defer func() {
		err = errors.Join(err, m.calm(), p.StopAll())
	}()
	if _, err := p.Start("scheduler", "SLUICE_SWEEP_EVERY="+cfg.SweepEvery.String()); err != nil {
		return fig, err
	}
	if _, err := p.Start("dedupe"); err != nil {
		return fig, err
	}
	for _, r := range []struct {
		role  role
		n     int
		queue string
		env   []string
	}{
		{fetcherRole, cfg.Fetchers, st.Resources.Fetch.URL, []string{fmt.Sprintf("SLUICE_WORKERS=%d", cfg.FetchWorkers)}},
		{writerRole, cfg.Writers, st.Resources.Batches.URL, nil},
	} {
		for i := range r.n {
			s := &slot{role: r.role, index: i, queueURL: r.queue, env: r.env}
			if err := s.start(p); err != nil {
				return fig, err
			}
			m.slots = append(m.slots, s)
		}
	}

	store, err := runs.New(dynamodb.NewFromConfig(st.Config), runs.Config{Table: st.Resources.Table})
	if err != nil {
		return fig, err
	}
	list := func() (map[string]runs.Run, error) {
		rs, err := store.List(ctx)
		if err != nil {
			return nil, err
		}
		out := make(map[string]runs.Run, len(rs))
		for _, r := range rs {
			out[r.Input] = r
		}
		return out, nil
	}
	days := cfg.days()
	var inputs []string
	for _, s := range slices.Sorted(maps.Keys(cfg.sources())) {
		for _, d := range days {
			inputs = append(inputs, s+"/"+d)
		}
	}
	fig.Inputs = len(inputs)
	for _, in := range inputs {
		source, day, _ := strings.Cut(in, "/")
		fig.PagesInWindows += cfg.windowPages(api, source, day)
	}

	start := time.Now()
	last, _ := time.Parse(time.DateOnly, days[len(days)-1])
	if _, err := p.Ctl(ctx, "schedule", "--from", days[0], "--to", last.AddDate(0, 0, 1).Format(time.DateOnly)); err != nil {
		return fig, err
	}
	tk := &takeups{}
	if err := m.run(ctx, cfg, start, inputs, tk, list); err != nil {
		return fig, err
	}
	fig.WorstTakeup, fig.NotTakenUp = tk.finish(time.Now())
	if tk.worstWhat != "" {
		fmt.Fprintf(report, "chaos: worst take-up %.1fs: %s\n", fig.WorstTakeup.Seconds(), tk.worstWhat)
	}
	fig.Kills, fig.Pauses = m.kills, m.pauses
	if err := m.calm(); err != nil {
		return fig, err
	}

	now, err := list()
	if err != nil {
		return fig, err
	}
	for _, in := range inputs {
		if r, ok := now[in]; ok && (r.Status == runs.Succeeded || r.Status == runs.Failed) {
			fig.Settled++
		}
	}
	if fig.Settled < fig.Inputs {
		if err := reportUnsettled(ctx, st, inputs, now, report); err != nil {
			return fig, err
		}
	}
	fig.Exact = exact(ctx, s3.NewFromConfig(st.Config), sink.New(s3.NewFromConfig(st.Config), st.Resources.Bucket, ""), api, cfg.anyOrder, inputs, now, report)

	sqsc := sqs.NewFromConfig(st.Config)
	// The scheduler's sweep deletes the DLQ messages of runs that no longer
	// need them: give it three rounds.
	if fig.DLQLeft, err = waitDLQsEmpty(ctx, sqsc, st.Resources, 3*cfg.SweepEvery+time.Second); err != nil {
		return fig, err
	}
	if fig.DLQLeft > 0 {
		if err := reportDLQs(ctx, sqsc, st.Resources, report); err != nil {
			return fig, err
		}
	}
	if fig.Settled < fig.Inputs {
		where := filepath.Join(work, "where.txt")
		if err := os.WriteFile(where, []byte(localrun.Where(ctx, st.Endpoints.SQS, st.Resources)), 0o644); err != nil {
			return fig, err
		}
		fmt.Fprintf(report, "chaos: where every message is: %s\n", where)
	}
	for _, s := range slices.Sorted(maps.Keys(cfg.sources())) {
		served := api.Served(s)
		fig.PagesFetched += served.Pages
		fig.Faults += served.Injected
		fig.OverQuota += served.OverQuota
	}
	fig.Elapsed = time.Since(start)
	return fig, nil
}

// run is the round's clock: it reads the runs every pollEvery (resolving
// take-ups), lets the monkey act, ends the chaos after cfg.Duration or
// cfg.Kills kills, and returns once every input settled or cfg.Settle after
// the chaos ended.
func (m *monkey) run(ctx context.Context, cfg Config, start time.Time, inputs []string, tk *takeups, list func() (map[string]runs.Run, error)) error {
	m.nextSig = start.Add(m.jitter(cfg.Every))
	m.nextFault = start.Add(m.jitter(faultEvery))
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastRead, settleBy time.Time
	for {
		now := time.Now()
		if now.Sub(lastRead) >= pollEvery {
			cur, err := list()
			if err != nil {
				return err
			}
			lastRead = now
			tk.observe(time.Now(), cur)
			if settled(cur, inputs) {
				return nil
			}
		}
		if settleBy.IsZero() && (now.Sub(start) >= cfg.Duration || cfg.Kills > 0 && m.kills >= cfg.Kills) {
			settleBy = now.Add(cfg.Settle)
		}
		if !settleBy.IsZero() && now.After(settleBy) {
			return nil
		}
		if err := m.tick(ctx, now, settleBy.IsZero(), tk, list); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// settled reports whether every input's run SUCCEEDED or FAILED.
func settled(now map[string]runs.Run, inputs []string) bool {
	for _, in := range inputs {
		if r, ok := now[in]; !ok || r.Status != runs.Succeeded && r.Status != runs.Failed {
			return false
		}
	}
	return true
}

// reportUnsettled writes a line for every input not settled: its run, and
// whether any queue still holds a message of it. A live run whose lease
// has run out with no message left anywhere is stuck: nothing but a sweep
// of expired leases takes it up again.
func reportUnsettled(ctx context.Context, st stack, inputs []string, now map[string]runs.Run, report io.Writer) error {
	messages := map[string][]string{}
	for _, key := range devstack.QueueKeys() {
		q, _ := st.Resources.Queue(key)
		for _, u := range []string{q.URL, q.DLQURL} {
			held, err := localrun.Messages(ctx, st.Endpoints.SQS, u)
			if err != nil {
				return err
			}
			for _, m := range held.All() {
				messages[m.Input()] = append(messages[m.Input()], path.Base(u))
			}
		}
	}
	for _, in := range inputs {
		r, ok := now[in]
		if ok && (r.Status == runs.Succeeded || r.Status == runs.Failed) {
			continue
		}
		line := fmt.Sprintf("chaos: unsettled: %s status %q attempt %d owner %q", in, r.Status, r.Attempt, r.Owner)
		if left := time.Until(r.LeaseExpiry()); ok && left < 0 {
			line += fmt.Sprintf(", lease expired %s ago", (-left).Round(time.Second))
		}
		if qs := messages[in]; len(qs) > 0 {
			line += fmt.Sprintf("; messages on %v", qs)
		} else {
			line += "; no message of it on any queue or DLQ (stuck until a sweep of expired leases takes it up)"
		}
		fmt.Fprintln(report, line)
	}
	return nil
}

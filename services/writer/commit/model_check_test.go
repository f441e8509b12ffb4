package commit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/sluice-data/sluice/services/writer/commit"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/handover"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// What the model checks: after every step (check) and at the end
// (finish), and the records it writes to tell attempts, batches and
// configs apart.

// check verifies the invariants; full reads every object the pointer names.
func (m *model) check(full bool) {
	m.t.Helper()
	for a, n := range m.wins {
		if n > 1 {
			m.fatalf("attempt %d's commit was decided %d times", a, n)
		}
	}
	ptr, err := m.sink.Current(m.ctx, m.part)
	if errors.Is(err, sink.ErrNoPointer) {
		if m.published > 0 {
			m.fatalf("the partition was published (attempt %d) and is gone", m.published)
		}
		return
	}
	if err != nil {
		m.fatalf("read pointer: %v", err)
	}
	if ptr.Attempt < m.published {
		m.fatalf("the partition went back from attempt %d to %d", m.published, ptr.Attempt)
	}
	m.published = ptr.Attempt
	// The pointer lists the files of the attempt's manifest, which hold
	// its parts 0…n-1 compacted, in order, all fetched under one config.
	n, ok := m.batchesOf[ptr.Attempt]
	man, err := m.sink.ReadManifest(m.ctx, m.part, ptr.Attempt)
	if !ok || err != nil {
		m.fatalf("the partition shows attempt %d (fetch known: %v), whose manifest reads %v", ptr.Attempt, ok, err)
	}
	if keys := man.Keys(); len(keys) != len(ptr.URIs) {
		m.fatalf("the partition shows %d files, attempt %d's manifest lists %d", len(ptr.URIs), ptr.Attempt, len(keys))
	}
	next := 0
	for i, uri := range ptr.URIs {
		f := man.Files[i]
		if key, _ := m.sink.KeyOf(uri); key != f.Key || f.First != next || !strings.HasPrefix(key, m.sink.AttemptPrefix(m.part, ptr.Attempt)) {
			m.fatalf("the partition's file %d is %s, not attempt %d's file of parts %d-…", i, uri, ptr.Attempt, next)
		}
		if full {
			var want []byte
			for seq := f.First; seq <= f.Last; seq++ {
				want = append(want, gunzip(m.t, batchData(m.t, ptr.Attempt, seq, m.cfgOf[ptr.Attempt]))...)
			}
			if got := gunzip(m.t, m.read(uri)); !bytes.Equal(got, want) {
				m.fatalf("file %d of the published attempt %d holds %q, want parts %d-%d fetched under config %d: %q",
					i, ptr.Attempt, got, f.First, f.Last, m.cfgOf[ptr.Attempt], want)
			}
		}
		next = f.Last + 1
	}
	if next != n {
		m.fatalf("the partition shows parts 0-%d of attempt %d, whose fetch produced %d", next-1, ptr.Attempt, n)
	}
	if m.released[ptr.Attempt] {
		m.fatalf("the partition shows attempt %d, which was released", ptr.Attempt)
	}
	r, err := m.store.Get(m.ctx, m.ref.Key())
	if errors.Is(err, runs.ErrNotFound) {
		return // lost
	}
	if err != nil {
		m.fatalf("get run: %v", err)
	}
	if r.Status == runs.Succeeded && ptr.Attempt != r.Attempt {
		m.fatalf("the run SUCCEEDED as attempt %d, the partition shows attempt %d", r.Attempt, ptr.Attempt)
	}
	// A published run is never FAILED — unless a committer of its attempt,
	// stalled before its PUT, published it after (the README's known gap).
	if r.Status == runs.Failed && ptr.Attempt == r.Attempt && !m.lateAfter[r.Attempt] {
		m.fatalf("the run FAILED as attempt %d (%s: %s), which the partition shows", r.Attempt, r.ErrorClass, r.LastError)
	}
}

// finish stops the chaos: whatever state the input is in, one worker must
// bring it to SUCCEEDED one lease after every wait a stopped fetch asked
// for — and within the stop budget: its source stops it SLUICE_MAX_STOPS
// times in a row without a page before the first, and again after each
// page; no claim takes the input over while it waits. After its first
// page a deploy changes the config: the fetch restarts as a new attempt,
// and the published one holds one config's records. The continuations
// still in the queue come last, and change nothing.
func (m *model) finish() {
	wait := modelLease + time.Second
	for _, until := range m.held {
		wait = max(wait, time.Unix(until, 0).Sub(m.clock.Now())+time.Second)
	}
	m.clock.Add(wait)
	r, err := m.store.Get(m.ctx, m.ref.Key())
	if errors.Is(err, runs.ErrNotFound) {
		r = runs.Run{}
	} else if err != nil {
		m.fatalf("get: %v", err)
	}
	msg := m.nextMsg()
	req := runs.ClaimRequest{Source: m.ref.Source, Window: m.ref.Window, Trigger: "manual", MessageID: msg, Floor: m.floor()}
	if r.Status == runs.Succeeded {
		req.Force, req.ForceID = true, msg
	}
	claimed, err := m.store.Claim(m.ctx, req)
	if err != nil {
		m.fatalf("the input is stuck: claim after a lease = %v (run %s attempt %d)", err, r.Status, r.Attempt)
	}
	started, err := m.store.Start(m.ctx, claimed.Ref(), m.nextMsg())
	if err != nil {
		m.fatalf("start: %v", err)
	}
	a, ref := started.Attempt, started.Ref()
	m.batchesOf[a], m.cfgOf[a] = 2, m.cfg
	hop, stops, deployed := 0, 0, false
	for seq := 0; seq < 2; seq++ {
		if seq > 0 {
			// The quota is spent after a page; the page's batch reaches
			// the writer while the continuation waits — and, the first
			// time, a deploy changes the config: the fetch restarts.
			var restarted *runs.Run
			hop, stops, restarted = m.finalStop(ref, hop, stops, seq-1, !deployed)
			deployed = true
			if restarted != nil {
				m.claimed(*restarted, true)
				a, ref = restarted.Attempt, restarted.Ref()
				m.batchesOf[a], m.cfgOf[a] = 2, m.cfg
				hop, stops, seq = 0, 0, -1
				continue
			}
		}
		for range modelMaxStops {
			hop, stops, _ = m.finalStop(ref, hop, stops, -1, false)
		}
		if _, err := m.sink.WritePart(m.ctx, m.sink.PartKey(m.part, a, seq), batchData(m.t, a, seq, m.cfg), 2); err != nil {
			m.fatalf("write: %v", err)
		}
		if _, err := m.store.BatchWritten(m.ctx, ref, seq); err != nil {
			m.fatalf("batch written: %v", err)
		}
	}
	done, err := m.store.SetTotals(m.ctx, ref, 2, 4, 0)
	if err != nil || !done.Complete() {
		m.fatalf("totals: %+v %v", done, err)
	}
	final := commit.New(m.store, m.sink, commit.WithClock(m.clock.Now))
	if _, err := final.Commit(m.ctx, done, m.part); err != nil {
		m.fatalf("final commit: %v", err)
	}
	r, err = m.store.Get(m.ctx, m.ref.Key())
	if err != nil || r.Status != runs.Succeeded || r.Attempt != a {
		m.fatalf("final run = %+v, %v", r, err)
	}
	m.logf("final: attempt %d SUCCEEDED after %d hops", a, hop)
	for _, c := range m.conts {
		if got, err := m.store.Continue(m.ctx, c.run, c.msg, c.hop); !errors.Is(err, runs.ErrFenced) {
			m.fatalf("the continuation of hop %d of attempt %d, delivered after attempt %d SUCCEEDED: %v %v, want fenced", c.hop, c.run.Attempt, a, attemptOf(got), err)
		}
	}
	m.conts = nil
}

// finalStop is a stop of the final fetch of ref at hop: it must stay
// within the budget, hold the input over its wait, and go on from its
// checkpoint. late is the batch the stopped hop got, which the writer
// counts during the wait (-1: the hop got none; the stop has no
// progress); deploy changes the config during the wait. It returns the
// hop and the stops in a row the fetch goes on with — or the attempt it
// restarted as, when the config changed.
func (m *model) finalStop(ref contracts.Run, hop, stops, late int, deploy bool) (int, int, *runs.Run) {
	cause := m.quota()
	if late >= 0 {
		cause = fault.RetryAfter(errors.New("429"), 2*modelLease)
	}
	next, err := modelStops.After(stops, late >= 0, cause)
	if err != nil {
		m.fatalf("the final fetch fails after %d stops in a row without progress (SLUICE_MAX_STOPS %d): %v", stops, modelMaxStops, err)
	}
	cp := modelCheckpoint{Fingerprint: modelConfigs[m.cfg].Fingerprint(), Stops: next.Stops, NotBefore: m.clock.Now().Add(next.Wait).UnixMilli()}
	if r, err := m.store.Get(m.ctx, m.ref.Key()); err == nil {
		cp.Batches = len(r.Written)
	}
	state, _ := json.Marshal(cp)
	if err := m.store.CheckpointFor(m.ctx, ref, hop, string(state), next.Wait); err != nil {
		m.fatalf("the final fetch's checkpoint: %v", err)
	}
	if late >= 0 {
		if _, err := m.store.BatchWritten(m.ctx, ref, late); err != nil {
			m.fatalf("batch %d written during the wait: %v", late, err)
		}
	}
	m.clock.Add(next.Wait)
	msg := m.nextMsg()
	if _, err := m.store.Claim(m.ctx, runs.ClaimRequest{Source: m.ref.Source, Window: m.ref.Window, Trigger: "manual", MessageID: msg, Floor: m.floor()}); !errors.Is(err, runs.ErrClaimLost) {
		m.fatalf("a claim while the final fetch waits %v after a stop: %v, want it lost", next.Wait, err)
	}
	if deploy {
		m.changeConfig(-1)
	}
	msg = m.nextMsg()
	cur, err := m.store.Continue(m.ctx, ref, msg, hop+1)
	if err != nil || cur.Checkpoint != string(state) {
		m.fatalf("the final fetch's continuation of hop %d after %v: checkpoint %q, %v; want %s", hop+1, next.Wait, cur.Checkpoint, err, state)
	}
	if !handover.Continues(cp.Fingerprint, modelConfigs[m.cfg]) {
		again, err := m.store.Restart(m.ctx, cur.Ref(), msg, "the config changed")
		if err != nil {
			m.fatalf("the final fetch's restart under a changed config: %v", err)
		}
		m.restarts++
		return 0, 0, &again
	}
	return hop + 1, next.Stops, nil
}

func (m *model) read(uri string) []byte {
	key, ok := m.sink.KeyOf(uri)
	if !ok {
		m.fatalf("pointer names %s, outside the bucket", uri)
	}
	out, err := m.s3.GetObject(m.ctx, &s3.GetObjectInput{Bucket: aws.String(m.sink.Bucket()), Key: aws.String(key)})
	if err != nil {
		m.fatalf("the partition names %s, which cannot be read: %v", uri, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		m.fatalf("read %s: %v", uri, err)
	}
	return b
}

// batchData is batch seq of attempt a fetched under config cfg: two
// records naming all three (the config by its walk: modelWalk), so that a
// mix of attempts, batches or configs shows in the content.
func batchData(t *testing.T, a, seq, cfg int) []byte {
	t.Helper()
	cfg = modelWalk(cfg)
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	fmt.Fprintf(zw, "{\"attempt\":%d,\"seq\":%d,\"cfg\":%d,\"i\":0}\n{\"attempt\":%d,\"seq\":%d,\"cfg\":%d,\"i\":1}\n", a, seq, cfg, a, seq, cfg)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

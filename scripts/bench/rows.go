package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sluice-data/sluice/shared/awsconf"
)

// rssBound is P2's bound on each of fetcher and writer, and growthBound
// its bound on peak RSS at the large input over the small one.
const (
	rssBound    = 64 << 20
	growthBound = 1.2
)

// rows turns the measurements into the table.
func rows(sz sizes, memory map[string]int, small, big inputRun, gz, plain walk, lat latency, limit, burst int, claims, puts float64) []row {
	var out []row
	secs := big.Elapsed.Seconds()
	recs := float64(big.Records)
	mbps := func(d time.Duration) float64 { return float64(plain.Bytes) / 1e6 / d.Seconds() } // the same pages for all
	sluice := fmt.Sprintf("%.0f records/s, %.0f MB/s", recs/secs, mbps(big.Elapsed))
	out = append(out,
		row{ID: "P1", Figure: fmt.Sprintf("throughput, %s records (%d pages, %s of JSON), trigger → pointer published", count(int(big.Records)), (sz.big+bulkPageSize-1)/bulkPageSize, mib(plain.Bytes)),
			Value: sluice, Reference: fmt.Sprintf("`curl | gzip -1` of the same pages: %.0f records/s, %.0f MB/s", recs/gz.Elapsed.Seconds(), mbps(gz.Elapsed)),
			Ratio: ratio(gz.Elapsed.Seconds(), secs), Goal: "≥ 0.9×", Met: met(gz.Elapsed.Seconds()/secs >= 0.9)},
		row{ID: "P1", Figure: "throughput against curl alone", Value: sluice,
			Reference: fmt.Sprintf("`curl` of the same pages: %.0f records/s, %.0f MB/s", recs/plain.Elapsed.Seconds(), mbps(plain.Elapsed)),
			Ratio:     ratio(plain.Elapsed.Seconds(), secs)},
	)
	out = append(out, latencyRows(lat, limit, burst)...)
	for _, svc := range []string{"fetcher", "writer"} {
		at, base := big.Usage[svc].PeakRSS, small.Usage[svc].PeakRSS
		growth := float64(at) / float64(base)
		out = append(out, row{ID: "P2", Figure: svc + " peak RSS (fresh process per input)",
			Value: fmt.Sprintf("%s at %s records", mib(at), count(int(big.Records))), Reference: fmt.Sprintf("%s at %s records", mib(base), count(int(small.Records))),
			Ratio: fmt.Sprintf("%.2f×", growth), Goal: fmt.Sprintf("≤ 64 MiB each; ratio ≤ %.1f", growthBound),
			Met: met(at <= rssBound && base <= rssBound && growth <= growthBound)})
	}
	out = append(out, row{ID: "P3", Figure: fmt.Sprintf("claims of new inputs: %s through runs.Store.Claim (dedupe's claim), %d at a time", count(sz.claims), claimWorkers),
		Value: fmt.Sprintf("%.0f claims/s", claims), Reference: fmt.Sprintf("raw conditional PutItem of the same item under the claim's condition, same table and concurrency: %.0f/s", puts),
		Ratio: ratio(claims, puts), Goal: "≥ 0.9×", Met: met(claims/puts >= 0.9)})
	latencies := lat.pointers
	p50, p95 := percentile(latencies, 50), percentile(latencies, 95)
	out = append(out,
		row{ID: "P4", Figure: fmt.Sprintf("trigger → pointer visible, one-page input, p50 of %d (one at a time)", len(latencies)),
			Value: p50.Round(time.Millisecond).String(), Goal: "≤ 1 s", Met: met(p50 <= time.Second)},
		row{ID: "P4", Figure: "the same, p95", Value: p95.Round(time.Millisecond).String()},
	)

	scale := 1e6 / float64(big.Records)
	per := "per 1M records"
	if big.Records != 1_000_000 {
		per = fmt.Sprintf("per 1M records (scaled from %s)", count(int(big.Records)))
	}
	t := tallyOf(big.Requests, big.Billed)
	floor := 2 * ((big.FetcherSent + awsconf.SQSChunk - 1) / awsconf.SQSChunk)
	out = append(out,
		row{ID: "P5", Figure: "S3 PUT requests " + per, Value: fmt.Sprintf("%.0f (%.0f PutObject); GET class %.0f", float64(t.S3Put)*scale, float64(t.S3Objects)*scale, float64(t.S3Get)*scale),
			Goal: "≤ 64", Met: met(float64(t.S3Put)*scale <= 64)},
		row{ID: "P5", Figure: "DynamoDB requests " + per, Value: fmt.Sprintf("%.0f (%.0f writes, %.0f reads)", float64(t.DynamoWrites+t.DynamoReads)*scale, float64(t.DynamoWrites)*scale, float64(t.DynamoReads)*scale),
			Goal: "≤ 1,000", Met: met(float64(t.DynamoWrites+t.DynamoReads)*scale <= 1000)},
		row{ID: "P5", Figure: "SQS requests as billed " + per + " (empty receives apart)", Value: fmt.Sprintf("%.0f", float64(t.SQSBilled)*scale),
			Reference: fmt.Sprintf("floor, one send + one receive per 64 KiB of the %s the fetcher sent: %.0f", mib(big.FetcherSent), float64(floor)*scale),
			Ratio:     ratio(float64(t.SQSBilled), float64(floor)), Goal: "≤ 1.10×", Met: met(float64(t.SQSBilled) <= 1.1*float64(floor))},
	)
	python := glueMinimum(prices.GluePythonDPU)
	for _, in := range []struct {
		r    inputRun
		goal bool
	}{{small, true}, {big, false}} {
		c := costOf(tallyOf(in.r.Requests, in.r.Billed), in.r.lambda(memory))
		r := row{ID: "P5", Figure: fmt.Sprintf("modelled AWS cost of a %s-record input", count(int(in.r.Records))),
			Value:     fmt.Sprintf("%s (Lambda %s, SQS %s, S3 %s, DynamoDB %s)", dollars(c.Total()), dollars(c.Lambda), dollars(c.SQS), dollars(c.S3), dollars(c.DynamoDB)),
			Reference: fmt.Sprintf("Glue minimum run: Python shell %s, Spark 2 DPU %s", dollars(python), dollars(glueMinimum(prices.GlueSparkDPU))),
			Ratio:     ratio(c.Total(), python) + " of Python shell"}
		if in.goal {
			r.Goal, r.Met = "< Python shell", met(c.Total() < python)
		}
		out = append(out, r)
	}
	return out
}

// footnotes say how the figures are made.
func footnotes(memory map[string]int, big inputRun) string {
	var mem []string
	for _, fn := range slices.Sorted(maps.Keys(memory)) {
		mem = append(mem, fmt.Sprintf("%s %d MB", fn, memory[fn]))
	}
	return "\n" + strings.Join([]string{
		"- Every figure and its reference come from this run, on this machine: Sluice's services, the emulators, the demo API and curl share its cores.",
		"- P1, P1b: from the moment the input is sent to the inputs queue to the writer's `run SUCCEEDED` line, logged right after the pointer is published; P4 polls the pointer as a reader would (every 10 ms).",
		"- P2: each input gets freshly started services; peak RSS is the kernel's high-water mark of the exited process (getrusage).",
		"- P5: requests counted by the services themselves (`shared/awsconf`), retries included; SQS as billed counts one request per started 64 KiB of message payload (bodies and attributes) per call. S3 PUT counts PUT, COPY, POST and LIST.",
		"- P5's S3 PUT class of the large input, by API: " + s3PutByAPI(big.Requests) + ".",
		fmt.Sprintf("- SQS empty receives (long polls that timed out) are left out of the billed figure: %d during the large input, a cost of keeping the queues polled (on Lambda, the event source mappings' pollers), not of the records.", tallyOf(big.Requests, big.Billed).SQSEmpty),
		"- Cost model: us-east-1 list prices without free tiers (`scripts/bench/cost.go`, with their sources). Lambda arm64 at the Terraform memory defaults (" + strings.Join(mem, ", ") + ", read from `infra/modules/sluice/variables.tf`): the fetcher and the writer billed for the input's whole time (an upper bound), dedupe and the scheduler for their CPU time; one invocation per non-empty receive. DynamoDB: one request unit per request (items ≤ 1 KB). Left out: storage, empty receives, CloudWatch Logs.",
	}, "\n") + "\n"
}

// s3PutByAPI lists the S3 PUT-class requests counted, by operation and
// largest first ("PutObject 77, UploadPart 9").
func s3PutByAPI(requests map[string]int64) string {
	type op struct {
		name string
		n    int64
	}
	var ops []op
	for k, n := range requests {
		if svc, name, _ := strings.Cut(k, "."); svc == "S3" && s3PutClass[name] {
			ops = append(ops, op{name, n})
		}
	}
	slices.SortFunc(ops, func(a, b op) int {
		if a.n != b.n {
			return int(b.n - a.n)
		}
		return strings.Compare(a.name, b.name)
	})
	parts := make([]string, len(ops))
	for i, o := range ops {
		parts[i] = fmt.Sprintf("%s %d", o.name, o.n)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// latencyRows are P1b's rows.
func latencyRows(lat latency, limit, burst int) []row {
	slow, serial := lat.slow, lat.serial.Elapsed
	figure := fmt.Sprintf("latency-bound input: %d pages, 50 ms added per request, trigger → pointer published", lat.slowPages)
	if lat.concurrency != 0 {
		figure += fmt.Sprintf(" (pagination.concurrency %d)", lat.concurrency)
	}
	return []row{
		{ID: "P1b", Figure: figure,
			Value: slow.Round(time.Millisecond).String(), Reference: "serial `curl` walk of the same pages: " + serial.Round(time.Millisecond).String(),
			Ratio: ratio(serial.Seconds(), slow.Seconds()) + " faster", Goal: "≥ 4× faster", Met: met(serial.Seconds()/slow.Seconds() >= 4)},
		{ID: "P1b", Figure: "its peak requests in any 1 s", Value: fmt.Sprint(lat.peak),
			Reference: fmt.Sprintf("rate_limit %d/s, burst %d", limit, burst), Ratio: ratio(float64(lat.peak), float64(limit+burst)),
			Goal: "≤ rate + burst", Met: met(lat.peak <= limit+burst)},
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// inputRun is one input run through freshly started services, from the
// trigger to the pointer published, with what the services used.
type inputRun struct {
	Records  int64
	Elapsed  time.Duration
	Usage    map[string]localrun.Usage // by service
	Requests map[string]int64          // counted, "Service.Operation", every service
	Billed   map[string]int64          // SQS as billed, every service
	// FetcherSent is the SQS payload the fetcher sent: the encoded
	// batches (and its small Done and continuation messages).
	FetcherSent int64
	// Timeline is where its time went, from the services' logs, for P1's
	// footnote; TimelineErr says why there is none (a line missing),
	// which fails that footnote alone, never the bench run.
	Timeline    timeline
	TimelineErr error
}

// runInput starts the four services, triggers source/day, waits for its
// run to succeed and stops them, so that their peak RSS and request
// counts are this input's alone.
func runInput(ctx context.Context, d *deployment, name, source string, timeout time.Duration) (inputRun, error) {
	var out inputRun
	p, err := d.start(name)
	if err != nil {
		return out, err
	}
	procs := p.Procs()
	input := source + "/" + day
	at, err := d.trigger(ctx, source, day)
	if err == nil {
		var r runs.Run
		r, err = d.wait(ctx, timeout, input)
		out.Records = r.Records
	}
	if serr := d.stop(p); err == nil {
		err = serr
	}
	if err != nil {
		return out, err
	}
	done, err := succeededAt(p, input)
	if err != nil {
		return out, err
	}
	out.Elapsed = done.Sub(at)
	out.Timeline, out.TimelineErr = timelineOf(p.LogDir, input, at)
	out.Usage = map[string]localrun.Usage{}
	for _, proc := range procs {
		u, ok := proc.Usage()
		if !ok {
			return out, fmt.Errorf("%s: no resource usage after exit", proc.Name)
		}
		out.Usage[proc.Name] = u
	}
	if out.Requests, err = p.AWSCounts("requests"); err != nil {
		return out, err
	}
	if out.Billed, err = p.AWSCounts("sqs_billed"); err != nil {
		return out, err
	}
	sent, err := p.AWSCounts("sqs_payload_bytes", "fetcher")
	if err != nil {
		return out, err
	}
	out.FetcherSent = sent["SQS.SendMessage"] + sent["SQS.SendMessageBatch"]
	return out, nil
}

// lambda models what the functions would be billed for this run: the
// fetcher and the writer for the run's whole time (both work through a
// streaming run: an upper bound), the scheduler and dedupe for their CPU
// time; one invocation per receive that returned messages (each a Lambda
// batch).
func (r inputRun) lambda(memoryMB map[string]int) lambdaUse {
	var l lambdaUse
	for svc, u := range r.Usage {
		secs := u.CPU.Seconds()
		if svc == "fetcher" || svc == "writer" {
			secs = r.Elapsed.Seconds()
		}
		l.GBSeconds += float64(memoryMB[svc]) / 1024 * secs
	}
	l.Invocations = r.Requests["SQS.ReceiveMessage"] - r.Billed[awsconf.EmptyReceive]
	return l
}

// walk is a reference walk of pages with real curl: its time and the bytes
// of the page bodies.
type walk struct {
	Elapsed time.Duration
	Bytes   int64
}

// curlWalk fetches the pages of url (a curl glob such as page=[1-1000])
// one after another over one connection, its output through gzip -1 when
// gz is set, and counts the bytes (of curl's output, or of gzip's).
func curlWalk(ctx context.Context, url string, gz bool) (walk, error) {
	curl := exec.CommandContext(ctx, "curl", "-sS", "--fail", "-H", "Accept: application/json", url)
	last := curl
	var gzip *exec.Cmd
	if gz {
		gzip = exec.CommandContext(ctx, "gzip", "-1")
		pipe, err := curl.StdoutPipe()
		if err != nil {
			return walk{}, err
		}
		gzip.Stdin = pipe
		last = gzip
	}
	outPipe, err := last.StdoutPipe()
	if err != nil {
		return walk{}, err
	}
	start := time.Now()
	if err := curl.Start(); err != nil {
		return walk{}, err
	}
	if gzip != nil {
		if err := gzip.Start(); err != nil {
			return walk{}, err
		}
	}
	n, cerr := io.Copy(io.Discard, outPipe)
	errs := []error{cerr, curl.Wait()}
	if gzip != nil {
		errs = append(errs, gzip.Wait())
	}
	if err := errors.Join(errs...); err != nil {
		return walk{}, fmt.Errorf("curl %s (gzip %v): %w", url, gz, err)
	}
	return walk{Elapsed: time.Since(start), Bytes: n}, nil
}

// claimRates measures claims/s through the run store's Claim — the
// conditional write dedupe makes — against raw conditional PutItems of
// new items on the same table, n of each at the same concurrency. The
// reference writes what a claim of a new input writes — an item of the
// same attributes and sizes (its lease_open puts it in the open-runs
// index, as a claim's does), under the claim's own condition — so the
// ratio is what the store adds over one bare conditional write of the
// same item. Both first warm DynamoDB Local up (a JVM: its first requests
// are slower) untimed, then run in eight interleaved rounds, taking turns
// to go first, so that drift in the machine's load hits both alike.
func claimRates(ctx context.Context, d *deployment, n, workers int) (claims, puts float64, err error) {
	db := dynamodb.NewFromConfig(d.awsCfg)
	window := func(round, i int) string { return fmt.Sprintf("r%d-%06d", round, i) }
	kinds := [2]func(ctx context.Context, round, i int) error{
		func(ctx context.Context, round, i int) error {
			_, err := d.store.Claim(ctx, runs.ClaimRequest{Source: "claimbench", Window: window(round, i), Trigger: "manual", MessageID: strconv.Itoa(i)})
			return err
		},
		func(ctx context.Context, round, i int) error {
			_, err := db.PutItem(ctx, rawClaim(d.res.Table, window(round, i), strconv.Itoa(i)))
			return err
		},
	}
	const rounds = 8
	var times [2]time.Duration
	for round := range rounds + 1 { // round 0: the warm-up, n/10 of each
		size := n / rounds
		if round == 0 {
			size = max(n/10, 1)
		}
		for k := range 2 {
			k = (k + round) % 2 // take turns to go first
			t, err := parallel(ctx, size, workers, func(ctx context.Context, i int) error { return kinds[k](ctx, round, i) })
			if err != nil {
				return 0, 0, err
			}
			if round > 0 {
				times[k] += t
			}
		}
	}
	done := float64(n / rounds * rounds)
	return done / times[0].Seconds(), done / times[1].Seconds(), nil
}

// rawClaim is P3's reference: one conditional PutItem of the item a claim
// of input rawput/<window> writes, under the condition a claim checks.
func rawClaim(table, window, msg string) *dynamodb.PutItemInput {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	now := time.Now().UTC()
	return &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]types.AttributeValue{
			"pk": s("rawput/" + window), "sk": s("RUN"), "status": s(string(runs.Claimed)), "attempt": n(1),
			"run_id": s(now.Format("20060102T150405Z") + "-0123456789abcdef"), "claim_msg": s(msg),
			"lease_until": n(now.Add(15 * time.Minute).Unix()), "claimed_at": s(now.Format(time.RFC3339Nano)),
			"trigger": s("manual"), "source": s("rawput"), "window": s(window), "owner": s("bench-host:12345"),
			"records": n(0), "bytes": n(0), "objects": n(0), "rev": n(1), runs.OpenAttribute: s("OPEN"),
		},
		ConditionExpression:      aws.String("attribute_not_exists(pk) OR (#st IN (:claimed, :running, :committing) AND lease_until < :now) OR #st = :failed"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":claimed": s(string(runs.Claimed)), ":running": s(string(runs.Running)), ":committing": s(string(runs.Committing)),
			":failed": s(string(runs.Failed)), ":now": n(now.Unix()),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

// parallel runs f for 0…n-1 on workers goroutines and returns how long
// it took; the first error stops it.
func parallel(ctx context.Context, n, workers int, f func(context.Context, int) error) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := f(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return time.Since(start), context.Cause(ctx)
}

// pointerLatencies triggers n one-page inputs one after another and
// returns, for each, the time from its trigger until a reader sees its
// pointer (polled every 10 ms).
func pointerLatencies(ctx context.Context, d *deployment, n int, timeout time.Duration) ([]time.Duration, error) {
	first, _ := time.Parse(time.DateOnly, "2026-09-01")
	var out []time.Duration
	for i := range n {
		window := first.AddDate(0, 0, i).Format(time.DateOnly)
		key := d.sink.PointerKey(sink.Partition{Source: srcOne, Hive: "dt=" + window})
		at, err := d.trigger(ctx, srcOne, window)
		if err != nil {
			return nil, err
		}
		for {
			_, err := d.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(d.res.Bucket), Key: aws.String(key)})
			if err == nil {
				out = append(out, time.Since(at))
				break
			}
			if time.Since(at) > timeout {
				return nil, fmt.Errorf("%s/%s: no pointer %s %v after the trigger (last: %v)", srcOne, window, key, timeout, err)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return out, nil
}

// percentile is the nearest-rank p-th percentile of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

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
	"sync/atomic"
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
// new items on the same table, n of each at the same concurrency, in two
// interleaved rounds so that drift in the machine's load hits both.
func claimRates(ctx context.Context, d *deployment, n, workers int) (claims, puts float64, err error) {
	db := dynamodb.NewFromConfig(d.awsCfg)
	var claimTime, putTime time.Duration
	var seq atomic.Int64
	for round := range 2 {
		t, err := parallel(ctx, n/2, workers, func(ctx context.Context, i int) error {
			_, err := d.store.Claim(ctx, runs.ClaimRequest{Source: "claimbench", Window: fmt.Sprintf("r%d-%06d", round, i), Trigger: "manual", MessageID: strconv.Itoa(i)})
			return err
		})
		if err != nil {
			return 0, 0, err
		}
		claimTime += t
		t, err = parallel(ctx, n/2, workers, func(ctx context.Context, i int) error {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String(d.res.Table),
				Item: map[string]types.AttributeValue{
					"pk":     &types.AttributeValueMemberS{Value: fmt.Sprintf("rawput/%d", seq.Add(1))},
					"sk":     &types.AttributeValueMemberS{Value: "RUN"},
					"status": &types.AttributeValueMemberS{Value: "CLAIMED"},
				},
				ConditionExpression: aws.String("attribute_not_exists(pk)"),
			})
			return err
		})
		if err != nil {
			return 0, 0, err
		}
		putTime += t
	}
	half := float64(n / 2 * 2)
	return half / claimTime.Seconds(), half / putTime.Seconds(), nil
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
	s := slices.Sorted(slices.Values(ds))
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

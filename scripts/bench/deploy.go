package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/profiling"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// The bench's sources. bulk, mid and one are served by one demo API with
// 1,000-record pages; slow by another with 100-record pages and the
// per-request latency.
const (
	srcBulk = "bulk" // P1, P2, P5: the large input
	srcMid  = "mid"  // P2, P5: the input a tenth its size
	srcOne  = "one"  // P4: one page per window
	srcSlow = "slow" // P1b: latency-bound
)

const (
	bulkPageSize = 1000
	slowPageSize = 100
	onePageSize  = 100 // records of a one-page window
)

// day is the window of the bulk, mid and slow inputs.
const day = "2026-11-01"

// deployment is the bench's resources, APIs and binaries.
type deployment struct {
	root      string
	bin, logs string
	endpoints devstack.Endpoints
	res       devstack.Resources
	awsCfg    aws.Config
	store     *runs.Store
	sqs       *sqs.Client
	s3        *s3.Client
	sink      *sink.Sink
	pipeline  string // the pipeline file

	bulkAPI, slowAPI *demoapi.Server
	bulkURL, slowURL string
	slowHits         *hits
	rateLimit, burst int
	slowConcurrency  int // the slow source's pagination.concurrency; 0: the default
	servers          []*http.Server
	pprofDir         string // profile the services of the large input here ("": not)
}

// hits records when requests arrived.
type hits struct {
	mu sync.Mutex
	at []time.Time
}

func (h *hits) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.at = append(h.at, time.Now())
		h.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// peak returns the most requests that arrived within any window of d
// between from and to.
func (h *hits) peak(from, to time.Time, d time.Duration) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var in []time.Time
	for _, t := range h.at {
		if !t.Before(from) && !t.After(to) {
			in = append(in, t)
		}
	}
	best, lo := 0, 0
	for hi := range in {
		for in[hi].Sub(in[lo]) >= d {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// deploy provisions fresh resources, serves the demo APIs, writes the
// pipeline config and builds the binaries.
func deploy(ctx context.Context, sz sizes, slowConcurrency int) (_ *deployment, err error) {
	root, err := devstack.RepoRoot()
	if err != nil {
		return nil, err
	}
	d := &deployment{root: root, rateLimit: 100, burst: 5, slowConcurrency: slowConcurrency}
	if d.endpoints, err = devstack.Ensure(ctx); err != nil {
		return nil, err
	}
	if d.awsCfg, err = devstack.AWSConfig(ctx, d.endpoints); err != nil {
		return nil, err
	}
	prefix := "bench-" + time.Now().UTC().Format("20060102-150405")
	if d.res, err = devstack.Provision(ctx, d.awsCfg, devstack.Names{Prefix: prefix}, devstack.Options{VisibilityTimeout: 60 * time.Second, MaxReceiveCount: 3}); err != nil {
		return nil, err
	}
	if d.store, err = runs.New(dynamodb.NewFromConfig(d.awsCfg), runs.Config{Table: d.res.Table}); err != nil {
		return nil, err
	}
	d.sqs, d.s3 = sqs.NewFromConfig(d.awsCfg), s3.NewFromConfig(d.awsCfg)
	d.sink = sink.New(d.s3, d.res.Bucket, "")

	work := filepath.Join(root, ".local", "bench", prefix)
	d.logs = filepath.Join(work, "logs")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	if d.bin, err = os.MkdirTemp("", "sluice-bench-bin-"); err != nil { // removed by close; the logs stay
		return nil, err
	}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	d.bulkAPI = demoapi.New(demoapi.Options{PageSize: bulkPageSize, Sources: map[string]demoapi.SourceOptions{
		srcBulk: {RecordsPerDay: sz.big},
		srcMid:  {RecordsPerDay: sz.small},
		srcOne:  {RecordsPerDay: onePageSize},
	}})
	d.slowAPI = demoapi.New(demoapi.Options{PageSize: slowPageSize, Sources: map[string]demoapi.SourceOptions{
		srcSlow: {RecordsPerDay: sz.slowPages * slowPageSize, Delay: 50 * time.Millisecond},
	}})
	d.slowHits = &hits{}
	if d.bulkURL, err = d.serve(d.bulkAPI); err != nil {
		return nil, err
	}
	if d.slowURL, err = d.serve(d.slowHits.wrap(d.slowAPI)); err != nil {
		return nil, err
	}
	slow := strings.TrimPrefix(d.slowAPI.PipelineYAML(d.slowURL, nil), "version: 1\nsources:\n")
	slow += fmt.Sprintf("    rate_limit: {requests_per_second: %d, burst: %d}\n", d.rateLimit, d.burst)
	if slowConcurrency != 0 {
		slow = strings.Replace(slow, "    pagination:\n", fmt.Sprintf("    pagination:\n      concurrency: %d\n", slowConcurrency), 1)
	}
	d.pipeline = filepath.Join(work, "pipeline.yaml")
	if err := os.WriteFile(d.pipeline, []byte(d.bulkAPI.PipelineYAML(d.bulkURL, nil)+slow), 0o644); err != nil {
		return nil, err
	}
	if err := localrun.Build(ctx, root, d.bin); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *deployment) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	d.servers = append(d.servers, srv)
	return "http://" + ln.Addr().String(), nil
}

func (d *deployment) close() {
	for _, srv := range d.servers {
		srv.Close()
	}
	if d.bin != "" {
		_ = os.RemoveAll(d.bin)
	}
}

// start starts the four services, logging under logs/<name>.
func (d *deployment) start(name string) (*localrun.Pipeline, error) {
	p := &localrun.Pipeline{
		Bin: d.bin, LogDir: filepath.Join(d.logs, name), Endpoints: d.endpoints,
		Resources: d.res, PipelineFile: d.pipeline,
	}
	if d.pprofDir != "" && name == "big" {
		p.Env = append(p.Env, profiling.EnvDir+"="+d.pprofDir)
	}
	return p, p.StartAll()
}

// stop stops the services of p, then waits out the long polls they left
// at the queue emulator: fauxqs keeps a stopped poller's receive open
// for the rest of its wait (localrun's SLUICE_POLL_WAIT, 1s) and hands it
// the next message, which then stays hidden for SLUICE_VISIBILITY (30s)
// and would be counted against the next input's latency.
func (d *deployment) stop(p *localrun.Pipeline) error {
	err := p.StopAll()
	time.Sleep(2 * time.Second)
	return err
}

// trigger sends one input to the inputs queue, as `aws sqs send-message`
// would, and returns when it was sent.
func (d *deployment) trigger(ctx context.Context, source, window string) (time.Time, error) {
	body, err := json.Marshal(contracts.NewInput(source, window, "manual", false))
	if err != nil {
		return time.Time{}, err
	}
	at := time.Now()
	_, err = d.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(d.res.Inputs.URL), MessageBody: aws.String(string(body))})
	return at, err
}

// wait waits until the input's run SUCCEEDED and returns it.
func (d *deployment) wait(ctx context.Context, timeout time.Duration, input string) (runs.Run, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	got, err := localrun.WaitRuns(wctx, d.store, []string{input}, func(r runs.Run) bool { return r.Status == runs.Succeeded || r.Status == runs.Failed })
	if err != nil {
		return runs.Run{}, err
	}
	if got[0].Status != runs.Succeeded {
		return got[0], fmt.Errorf("%s ended %s: %s", input, got[0].Status, got[0].LastError)
	}
	return got[0], nil
}

// succeededAt returns when the writer logged the input's run SUCCEEDED,
// right after it published the pointer.
func succeededAt(p *localrun.Pipeline, input string) (time.Time, error) {
	l, err := findLine(filepath.Join(p.LogDir, "writer.log"), "run SUCCEEDED", input)
	return l.TS.Time, err
}

package source

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// TestRetryAfterWaitedOut checks with a real clock that a 429's
// Retry-After is waited out before the page is asked again.
func TestRetryAfterWaitedOut(t *testing.T) {
	api := demoapi.New(styleOpts(demoapi.SourceOptions{Style: demoapi.PageNumber}))
	var mu sync.Mutex
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()
	cfg, err := pipeline.Parse("demo.yaml", []byte(api.PipelineYAML(srv.URL, nil)))
	if err != nil {
		t.Fatal(err)
	}
	src, _ := cfg.Source("src")
	api.Inject("src", demoapi.Failure{Status: 429, RetryAfter: "1", Count: 1})

	pages, err := walk(context.Background(), New(nil), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	assertRecords(t, allRecords(pages), api.RecordsFor("src", day))
	if len(times) != 4 {
		t.Fatalf("%d requests, want 4: one 429, then 3 pages", len(times))
	}
	if gap := times[1].Sub(times[0]); gap < time.Second {
		t.Errorf("asked again %s after the 429, want at least the 1s of Retry-After", gap)
	}
}

// TestRetryAfter checks how waits the API asks for are spent: not counted
// against max_attempts, bounded by max_retry_after and max_wait.
func TestRetryAfter(t *testing.T) {
	date := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(http.TimeFormat) }
	tests := []struct {
		name         string
		fail         demoapi.Failure
		retry        pipeline.Retry
		wantErr      string // "" for success
		wantDelay    time.Duration
		wantRequests int
		wantWaits    int
	}{
		{name: "five 429s with Retry-After are not five failures", fail: demoapi.Failure{Status: 429, RetryAfter: "1", Count: 5},
			retry: pipeline.Retry{MaxAttempts: 2}, wantRequests: 5 + 3, wantWaits: 5},
		{name: "503 with Retry-After as an HTTP date", fail: demoapi.Failure{Status: 503, RetryAfter: date(3 * time.Second), Count: 2},
			retry: pipeline.Retry{MaxAttempts: 1}, wantRequests: 2 + 3, wantWaits: 2},
		{name: "429 without Retry-After counts", fail: demoapi.Failure{Status: 429, Count: 5},
			retry:   pipeline.Retry{MaxAttempts: 2},
			wantErr: "source src page 0: gave up after 2 attempts: status 429 Too Many Requests", wantRequests: 2, wantWaits: 1},
		{name: "Retry-After beyond max_retry_after goes back to the queue", fail: demoapi.Failure{Status: 429, RetryAfter: "120"},
			retry:   pipeline.Retry{MaxRetryAfter: time.Minute},
			wantErr: "source src page 0: the API asks to wait 2m0s, more than retry.max_retry_after (1m0s): status 429", wantDelay: 2 * time.Minute, wantRequests: 1},
		{name: "Retry-After waits beyond max_wait", fail: demoapi.Failure{Status: 429, RetryAfter: "1"},
			retry:   pipeline.Retry{MaxWait: 3 * time.Second},
			wantErr: "source src page 0: waited 3s for Retry-After already; 1s more would pass retry.max_wait (3s)", wantDelay: time.Second, wantRequests: 4, wantWaits: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDemo(t, styleOpts(demoapi.SourceOptions{Style: demoapi.PageNumber}))
			src := *d.src("src")
			src.Retry = tt.retry
			d.api.Inject("src", tt.fail)
			c, sl := recordingClient()
			pages, err := walk(context.Background(), c, &src, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				assertRecords(t, allRecords(pages), d.api.RecordsFor("src", day))
			} else {
				if err == nil || fault.ClassOf(err) != fault.Retry || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Fetch = %v (%s), want a retryable %q", err, fault.ClassOf(err), tt.wantErr)
				}
				if got, _ := fault.Delay(err); got != tt.wantDelay {
					t.Errorf("fault.Delay = %s, want %s", got, tt.wantDelay)
				}
			}
			if n := d.api.Requests("src"); n != tt.wantRequests {
				t.Errorf("%d requests, want %d", n, tt.wantRequests)
			}
			waits := sl.all()
			if len(waits) != tt.wantWaits {
				t.Errorf("waits %v, want %d", waits, tt.wantWaits)
			}
			if tt.fail.RetryAfter != "" {
				for _, w := range waits {
					if w < time.Second || w > 3*time.Second {
						t.Errorf("wait %s, want the Retry-After", w)
					}
				}
			}
		})
	}
}

// TestRetryFailures checks the failures of a moment: retried with backoff
// within max_attempts, then a retryable error that says what went wrong.
func TestRetryFailures(t *testing.T) {
	tests := []struct {
		name         string
		fail         demoapi.Failure
		wantErr      string // "" for success
		wantRequests int
	}{
		{"two 500s", demoapi.Failure{Status: 500, Count: 2}, "", 2 + 3},
		{"always 500", demoapi.Failure{Status: 500}, `source src page 0: gave up after 3 attempts: status 500 Internal Server Error: {"error":"injected failure","status":500}`, 3},
		{"502 then fine", demoapi.Failure{Status: 502, Count: 1}, "", 1 + 3},
		{"truncated twice", demoapi.Failure{Body: demoapi.Truncated, Count: 2}, "", 2 + 3},
		{"always truncated", demoapi.Failure{Body: demoapi.Truncated}, "source src page 0: gave up after 3 attempts: read body: unexpected EOF", 3},
		{"not JSON once", demoapi.Failure{Body: demoapi.NotJSON, Count: 1}, "", 1 + 3},
		{"never JSON", demoapi.Failure{Body: demoapi.NotJSON}, "source src page 0: gave up after 3 attempts: body is not valid JSON (65 bytes)", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDemo(t, styleOpts(demoapi.SourceOptions{Style: demoapi.Cursor}))
			src := *d.src("src")
			src.Retry.BaseDelay = 100 * time.Millisecond
			src.Retry.MaxDelay = 150 * time.Millisecond
			d.api.Inject("src", tt.fail)
			c, sl := recordingClient()
			pages, err := walk(context.Background(), c, &src, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				assertRecords(t, allRecords(pages), d.api.RecordsFor("src", day))
			} else if err == nil || fault.ClassOf(err) != fault.Retry || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Fetch = %v (%s), want a retryable %q", err, fault.ClassOf(err), tt.wantErr)
			}
			if n := d.api.Requests("src"); n != tt.wantRequests {
				t.Errorf("%d requests, want %d", n, tt.wantRequests)
			}
			// One backoff before each retry, within its cap: 100ms, then
			// 200ms capped at 150ms.
			failures := min(tt.fail.Count, 2)
			if tt.fail.Count == 0 {
				failures = 2
			}
			waits := sl.all()
			if len(waits) != failures {
				t.Fatalf("waits %v, want %d", waits, failures)
			}
			for i, w := range waits {
				if limit := []time.Duration{100 * time.Millisecond, 150 * time.Millisecond}[i]; w < 0 || w > limit {
					t.Errorf("wait %d = %s, want 0 to %s", i, w, limit)
				}
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	p := policy{base: 100 * time.Millisecond, max: time.Second}
	for _, tt := range []struct {
		n     int
		limit time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {4, 800 * time.Millisecond}, {5, time.Second}, {60, time.Second}} {
		var seen []time.Duration
		for range 50 {
			d := p.backoff(tt.n)
			if d < 0 || d > tt.limit {
				t.Errorf("backoff(%d) = %s, want 0 to %s", tt.n, d, tt.limit)
			}
			if !slices.Contains(seen, d) {
				seen = append(seen, d)
			}
		}
		if len(seen) < 10 {
			t.Errorf("backoff(%d): only %d distinct waits in 50; want jitter", tt.n, len(seen))
		}
	}
}

func TestPolicy(t *testing.T) {
	c := &Client{MaxAttempts: 7, Backoff: time.Millisecond}
	got := c.policy(&pipeline.Source{})
	want := policy{maxAttempts: 7, base: time.Millisecond, max: pipeline.DefaultMaxDelay, maxRetryAfter: pipeline.DefaultMaxRetryAfter, maxWait: pipeline.DefaultMaxWait}
	if got != want {
		t.Errorf("client policy = %+v, want %+v", got, want)
	}
	got = c.policy(&pipeline.Source{Retry: pipeline.Retry{MaxAttempts: 2, BaseDelay: time.Minute, MaxDelay: time.Second, MaxRetryAfter: 3 * time.Second, MaxWait: 4 * time.Second}})
	want = policy{maxAttempts: 2, base: time.Minute, max: time.Minute, maxRetryAfter: 3 * time.Second, maxWait: 4 * time.Second}
	if got != want {
		t.Errorf("source policy = %+v, want %+v", got, want)
	}
	if got := (&Client{}).policy(&pipeline.Source{}); got.maxAttempts != DefaultMaxAttempts || got.base != DefaultBackoff {
		t.Errorf("zero client policy = %+v", got)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"3600", time.Hour},
		{"99999999999999999", maxRetryAfterHeader},
		{"soon", 0},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(90 * time.Minute).Format(time.RFC850), 90 * time.Minute},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), maxRetryAfterHeader},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestFetchContext checks that the real waits end with the context.
func TestFetchContext(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled while waiting to retry", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"deadline before the retry", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 2*time.Second)
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := script(reply{status: 500})
			srv := httptest.NewServer(h)
			defer srv.Close()
			src := &pipeline.Source{Name: "t", Request: pipeline.Request{BaseURL: srv.URL, Path: "/"},
				Pagination: pipeline.Pagination{Type: pipeline.NoPagination}}
			c := New(nil)
			c.Sleep = func(ctx context.Context, _ time.Duration) error { return sleep(ctx, 10*time.Second) }
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			_, _, err := collect(ctx, c, src, window(t))
			if !errors.Is(err, tt.want) || fault.ClassOf(err) != fault.Retry {
				t.Errorf("Fetch = %v, want retryable %v", err, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s; the wait should end with the context", d)
			}
		})
	}
}

// TestRateLimit checks that the requests of every fetch of a source on one
// client share its token bucket, and that other sources are not held back.
func TestRateLimit(t *testing.T) {
	d := startDemo(t, demoapi.Options{Sources: map[string]demoapi.SourceOptions{
		"limited": {Style: demoapi.PageNumber}, "free": {Style: demoapi.PageNumber},
	}})
	limited := *d.src("limited")
	limited.RateLimit = pipeline.RateLimit{RequestsPerSecond: 1, Burst: 1}
	c, sl := recordingClient()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = walk(context.Background(), c, &limited, nil)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	// Nine requests at 1/s, one at once: the bucket spaces them a second
	// apart, so the last waits about 8s (less the time the test took; the
	// recording sleeper does not really wait).
	waits := sl.all()
	if len(waits) != 8 || slices.Max(waits) < 5*time.Second {
		t.Errorf("waits %v, want 8 growing to about 8s", waits)
	}
	before := len(waits)
	if _, err := walk(context.Background(), c, d.src("free"), nil); err != nil {
		t.Fatal(err)
	}
	if n := len(sl.all()) - before; n != 0 {
		t.Errorf("the unlimited source waited %d times", n)
	}
}

// TestRateLimitRealClock checks the default sleep spaces requests out.
func TestRateLimitRealClock(t *testing.T) {
	d := startDemo(t, styleOpts(demoapi.SourceOptions{Style: demoapi.Offset}))
	src := *d.src("src")
	src.RateLimit = pipeline.RateLimit{RequestsPerSecond: 20, Burst: 1}
	start := time.Now()
	if _, err := walk(context.Background(), New(nil), &src, nil); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
		t.Errorf("3 requests at 20/s took %s, want at least 100ms", elapsed)
	}
}

func TestSleep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := sleep(ctx, time.Minute); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "would pass the deadline") {
		t.Errorf("sleep past the deadline = %v", err)
	}
	if err := sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("sleep = %v", err)
	}
}

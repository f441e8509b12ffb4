package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/devstack"
)

// testSizes is -quick made smaller again: under -race the in-process
// demo API serves pages several times slower, and the test must stay
// within make test's budget.
var testSizes = sizes{big: 20_000, small: 2_000, slowPages: 10, claims: 100, inputs: 5}

// The harness, run small, produces a complete table: every row, each with
// a positive figure (and a positive reference where there is a ratio).
// The goals are not checked: they are reported, not asserted.
func TestQuickRunProducesTheTable(t *testing.T) {
	rep, err := run(t.Context(), testSizes, "a test run")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"P1", "P1", "P1b", "P1b", "P2", "P2", "P3", "P4", "P4", "P5", "P5", "P5", "P5", "P5"}
	var ids []string
	for _, r := range rep.rows {
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Fatalf("rows %v, want %v", ids, want)
	}
	for _, r := range rep.rows {
		if v := firstNumber(r.Value); v <= 0 {
			t.Errorf("%s %q: figure %q, want a positive number", r.ID, r.Figure, r.Value)
		}
		if r.Ratio != "" && firstNumber(r.Reference) <= 0 {
			t.Errorf("%s %q: reference %q, want a positive number", r.ID, r.Figure, r.Reference)
		}
		if !strings.Contains(rep.text, "| "+r.ID+" | "+r.Figure+" |") {
			t.Errorf("the report lacks row %s %q:\n%s", r.ID, r.Figure, rep.text)
		}
	}
	for _, s := range []string{"Machine: ", "cores", "Note: a test run", "P1's large input, from its send: claimed at +", "CPU of each service over its life: dedupe "} {
		if !strings.Contains(rep.text, s) {
			t.Errorf("the report lacks %q:\n%s", s, rep.text)
		}
	}
}

var number = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)

func firstNumber(s string) float64 {
	v, err := strconv.ParseFloat(number.FindString(strings.ReplaceAll(s, ",", "")), 64)
	if err != nil {
		return -1
	}
	return v
}

func TestLambdaMemoryFromTerraform(t *testing.T) {
	root, err := devstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	mem, err := lambdaMemory(filepath.Join(root, "infra", "modules", "sluice", "variables.tf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range []string{"scheduler", "dedupe", "fetcher", "writer"} {
		if mem[fn] < 128 || mem[fn] > 10240 {
			t.Errorf("%s: memory %d MB, want a Lambda size (128…10240): %v", fn, mem[fn], mem)
		}
	}
	if _, err := lambdaMemory(filepath.Join(t.TempDir(), "missing.tf")); err == nil {
		t.Error("a missing file gave no error")
	}
}

func TestTally(t *testing.T) {
	got := tallyOf(map[string]int64{
		"S3.PutObject": 10, "S3.ListObjectsV2": 1, "S3.ListMultipartUploads": 1, "S3.HeadObject": 3, "S3.GetObject": 1, "S3.DeleteObject": 4,
		"DynamoDB.UpdateItem": 5, "DynamoDB.PutItem": 1, "DynamoDB.TransactWriteItems": 2, "DynamoDB.GetItem": 7,
		"SQS.ReceiveMessage": 99, // billed figures come from the billed counts
	}, map[string]int64{"SQS.SendMessage": 20, "SQS.ReceiveMessage": 21, "SQS.ReceiveMessage.empty": 6})
	want := tally{S3Put: 12, S3Get: 4, S3Objects: 10, DynamoWrites: 8, DynamoReads: 7, DynamoWRU: 10, DynamoRRU: 7, SQSBilled: 41, SQSEmpty: 6}
	if got != want {
		t.Fatalf("tally = %+v, want %+v", got, want)
	}
	c := costOf(want, lambdaUse{GBSeconds: 2, Invocations: 5})
	wantCost := 2*prices.LambdaGBSecond + 5*prices.LambdaRequest + 41*prices.SQSRequest + 12*prices.S3Put + 4*prices.S3Get + 10*prices.DynamoWRU + 7*prices.DynamoRRU
	if d := c.Total() - wantCost; d > 1e-15 || d < -1e-15 {
		t.Fatalf("cost %v = %g, want %g", c, c.Total(), wantCost)
	}
}

func TestS3PutByAPI(t *testing.T) {
	for _, tc := range []struct {
		name     string
		requests map[string]int64
		want     string
	}{
		{"none", map[string]int64{"S3.GetObject": 3}, "none"},
		{"put class only, largest first", map[string]int64{
			"S3.PutObject": 77, "S3.ListObjectsV2": 3, "S3.UploadPart": 9, "S3.CreateMultipartUpload": 3,
			"S3.HeadObject": 5, "S3.DeleteObjects": 2, "DynamoDB.PutItem": 100,
		}, "PutObject 77, UploadPart 9, CreateMultipartUpload 3, ListObjectsV2 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s3PutByAPI(tc.requests); got != tc.want {
				t.Fatalf("s3PutByAPI = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPeakAndPercentile(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	h := &hits{}
	for _, ms := range []int{0, 100, 900, 1000, 1050, 1099, 3000} {
		h.at = append(h.at, t0.Add(time.Duration(ms)*time.Millisecond))
	}
	tests := []struct {
		name     string
		from, to time.Time
		want     int
	}{
		{"all", t0, t0.Add(time.Hour), 5},                      // 100…1099
		{"from 1s", t0.Add(time.Second), t0.Add(time.Hour), 3}, // 1000, 1050, 1099
		{"none", t0.Add(time.Hour), t0.Add(2 * time.Hour), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.peak(tt.from, tt.to, time.Second); got != tt.want {
				t.Errorf("peak = %d, want %d", got, tt.want)
			}
		})
	}
	var ds []time.Duration
	for i := 20; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p50, p95 := percentile(ds, 50), percentile(ds, 95); p50 != 10*time.Millisecond || p95 != 19*time.Millisecond {
		t.Errorf("p50, p95 = %v, %v; want 10ms, 19ms", p50, p95)
	}
}

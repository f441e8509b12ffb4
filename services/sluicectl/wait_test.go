package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
)

// A run as a step of the test's stand-in for the pipeline writes it.
type step struct {
	after time.Duration // since the command started
	runs  []runs.Run
}

func succeeded(w string, attempt int, records int64) runs.Run {
	return runs.Run{Source: "orders", Window: w, Status: runs.Succeeded, Attempt: attempt, Records: records, ClaimedAt: "2026-12-01T10:00:00Z", FinishedAt: "2026-12-01T10:00:02Z"}
}

func failed(w string, attempt int) runs.Run {
	return runs.Run{Source: "orders", Window: w, Status: runs.Failed, Attempt: attempt, ErrorClass: "http-status", LastError: "500"}
}

func running(w string, attempt int) runs.Run {
	return runs.Run{Source: "orders", Window: w, Status: runs.Running, Attempt: attempt, LeaseUntil: time.Now().Add(time.Hour).Unix()}
}

// backfill --wait and schedule --wait follow the runs of the windows they
// asked for as they move (written here, as dedupe, the fetcher and the
// writer would), print their runs, and fail with ErrWindowsFailed (exit 1)
// when one FAILED.
func TestWait(t *testing.T) {
	days := []string{"2026-11-01", "2026-11-02", "2026-11-03"}
	backfill := []string{"backfill", "--source", "orders", "--from", "2026-11-01", "--to", "2026-11-04", "--wait", "--poll", "100ms", "--wait-timeout", "20s"}
	tests := []struct {
		name         string
		args         []string
		before       []runs.Run // in the table before the command
		steps        []step
		wantErr      error
		wantOut      []string
		wantExit     int
		minFinish    time.Duration // the command must not end before
		wantProgress string
	}{
		{
			name: "all succeed", args: backfill,
			steps: []step{
				{300 * time.Millisecond, []runs.Run{running(days[0], 1), running(days[1], 1), running(days[2], 1)}},
				{700 * time.Millisecond, []runs.Run{succeeded(days[0], 1, 100), succeeded(days[1], 1, 200)}},
				{1100 * time.Millisecond, []runs.Run{succeeded(days[2], 1, 300)}},
			},
			wantOut:   []string{"orders/2026-11-03  SUCCEEDED  1", "all 3 windows SUCCEEDED"},
			minFinish: 1100 * time.Millisecond,
		},
		{
			name: "one fails", args: backfill,
			steps: []step{
				{300 * time.Millisecond, []runs.Run{succeeded(days[0], 1, 100), failed(days[1], 1), succeeded(days[2], 1, 5)}},
			},
			wantErr: ErrWindowsFailed, wantExit: 1,
			wantOut:   []string{"orders/2026-11-02  FAILED     1"},
			minFinish: 300 * time.Millisecond,
		},
		{
			// A window FAILED before is run again by the trigger: its old
			// run is not the end waited for; SUCCEEDED ones are not rerun.
			name: "a window that FAILED before is waited for anew", args: backfill,
			before: []runs.Run{failed(days[0], 1), succeeded(days[1], 1, 7), succeeded(days[2], 2, 9)},
			steps: []step{
				{600 * time.Millisecond, []runs.Run{running(days[0], 2)}},
				{900 * time.Millisecond, []runs.Run{succeeded(days[0], 2, 50)}},
			},
			wantOut:   []string{"orders/2026-11-01  SUCCEEDED  2", "all 3 windows SUCCEEDED"},
			minFinish: 900 * time.Millisecond,
		},
		{
			name: "--force waits for a new attempt of a SUCCEEDED window", args: append(append([]string{}, backfill...), "--force"),
			before: []runs.Run{succeeded(days[0], 1, 7), succeeded(days[1], 1, 7), succeeded(days[2], 1, 7)},
			steps: []step{
				{500 * time.Millisecond, []runs.Run{succeeded(days[0], 2, 8), succeeded(days[1], 2, 8), failed(days[2], 2)}},
			},
			wantErr: ErrWindowsFailed, wantExit: 1,
			wantOut:   []string{"orders/2026-11-03  FAILED     2"},
			minFinish: 500 * time.Millisecond,
		},
		{
			// A run live when the trigger is sent may end FAILED before
			// dedupe handles the trigger, which then claims a new attempt:
			// that attempt is the end waited for, not the FAILED one.
			name: "a live run that FAILED and is run again by the trigger", args: backfill,
			before: []runs.Run{running(days[0], 1), succeeded(days[1], 1, 7), succeeded(days[2], 1, 9)},
			steps: []step{
				{300 * time.Millisecond, []runs.Run{failed(days[0], 1)}},
				{400 * time.Millisecond, []runs.Run{running(days[0], 2)}},
				{800 * time.Millisecond, []runs.Run{succeeded(days[0], 2, 50)}},
			},
			wantOut:   []string{"orders/2026-11-01  SUCCEEDED  2", "all 3 windows SUCCEEDED"},
			minFinish: 800 * time.Millisecond,
		},
		{
			// ... and when no new attempt follows (dedupe dropped the
			// trigger while the run was live), its FAILED end is the end.
			name: "a live run that FAILED and is not run again", args: backfill,
			before: []runs.Run{running(days[0], 1), succeeded(days[1], 1, 7), succeeded(days[2], 1, 9)},
			steps: []step{
				{300 * time.Millisecond, []runs.Run{failed(days[0], 1)}},
			},
			wantErr: ErrWindowsFailed, wantExit: 1,
			wantOut:   []string{"orders/2026-11-01  FAILED     1"},
			minFinish: 300*time.Millisecond + 500*time.Millisecond, // + failedSettle, as the test sets it
		},
		{
			name: "schedule --wait", args: []string{"schedule", "--sources", "orders", "--from", "2026-11-01", "--to", "2026-11-03", "--wait", "--poll", "100ms", "--wait-timeout", "20s"},
			steps: []step{
				{300 * time.Millisecond, []runs.Run{succeeded(days[0], 1, 1), succeeded(days[1], 1, 1)}},
			},
			wantOut:   []string{"trigger sent to the scheduler", "all 2 windows SUCCEEDED"},
			minFinish: 300 * time.Millisecond,
		},
		{
			name: "gives up at --wait-timeout", args: []string{"backfill", "--source", "orders", "--from", "2026-11-01", "--to", "2026-11-03", "--wait", "--poll", "100ms", "--wait-timeout", "2s"},
			// 2s: room, on a loaded machine, for the trigger's send and the
			// first polls before it, so the runs so far are seen.
			steps:   []step{{200 * time.Millisecond, []runs.Run{running(days[0], 1)}}},
			wantErr: context.DeadlineExceeded, wantExit: 2, minFinish: 2 * time.Second,
			wantOut:      []string{"orders/2026-11-01  RUNNING  1"}, // the runs so far
			wantProgress: "still no run for 1 of 2 windows (first: orders/2026-11-02)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := setup(t)
			runstest.Put(t, st.DynamoDB, st.Resources.Table, tt.before...)
			var progress bytes.Buffer
			progressOut = &progress
			settle := failedSettle
			failedSettle = 500 * time.Millisecond
			hint := noRunHint
			noRunHint = 300 * time.Millisecond
			t.Cleanup(func() { progressOut, failedSettle, noRunHint = os.Stderr, settle, hint })
			start := time.Now()
			stepsDone := make(chan struct{})
			go func() {
				defer close(stepsDone)
				for _, s := range tt.steps {
					time.Sleep(time.Until(start.Add(s.after)))
					runstest.Put(t, st.DynamoDB, st.Resources.Table, s.runs...)
				}
			}()
			var out bytes.Buffer
			err := run(context.Background(), tt.args, &out)
			took := time.Since(start)
			<-stepsDone
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v\n%s", err, tt.wantErr, out.String())
			}
			if got := exitCode(err); got != tt.wantExit {
				t.Errorf("exit code %d, want %d", got, tt.wantExit)
			}
			if took < tt.minFinish {
				t.Errorf("ended after %v, before the last run it waits for was written (%v)", took, tt.minFinish)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if !strings.Contains(progress.String(), tt.wantProgress) {
				t.Errorf("progress lacks %q:\n%s", tt.wantProgress, progress.String())
			}
			// The progress, in a pipe: plain lines, the last one complete.
			lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
			last := lines[len(lines)-1]
			if tt.wantErr != context.DeadlineExceeded {
				if !strings.Contains(last, " windows  ") || strings.Contains(progress.String(), "\r") {
					t.Errorf("progress %q, want plain lines ending with every window done", progress.String())
				}
				if n := strings.Count(out.String(), "orders/"); !strings.HasPrefix(last, fmt.Sprintf("%d/%d windows", n, n)) {
					t.Errorf("last progress line %q, want %d/%d windows", last, n, n)
				}
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{fmt.Errorf("%w: 1 of 3", ErrWindowsFailed), 1},
		{errors.New("SLUICE_RUNS_TABLE is not set"), 2},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// --poll and --wait-timeout are checked before anything is sent: a zero
// or negative poll would spin, a negative timeout would mean "forever",
// and either without --wait would be silently ignored.
func TestWaitFlagsValidated(t *testing.T) {
	setup(t)
	backfill := []string{"backfill", "--source", "orders", "--from", "2026-11-01", "--to", "2026-11-02"}
	tests := []struct {
		name  string
		flags []string
		want  string
	}{
		{"zero poll", []string{"--wait", "--poll", "0"}, "--poll"},
		{"negative poll", []string{"--wait", "--poll", "-1s"}, "--poll"},
		{"negative timeout", []string{"--wait", "--wait-timeout", "-5s"}, "--wait-timeout"},
		{"poll without --wait", []string{"--poll", "1s"}, "--wait"},
		{"timeout without --wait", []string{"--wait-timeout", "1m"}, "--wait"},
	}
	for _, tt := range tests {
		for _, cmd := range [][]string{backfill, {"schedule", "--sources", "orders", "--from", "2026-11-01", "--to", "2026-11-02"}} {
			t.Run(cmd[0]+" "+tt.name, func(t *testing.T) {
				var out bytes.Buffer
				err := run(context.Background(), append(append([]string{}, cmd...), tt.flags...), &out)
				if err == nil || !strings.Contains(err.Error(), tt.want) || exitCode(err) != 2 {
					t.Fatalf("err = %v (exit %d), want one naming %s, exit 2", err, exitCode(err), tt.want)
				}
				if strings.Contains(out.String(), "sent") {
					t.Errorf("a trigger was sent: %s", out.String())
				}
			})
		}
	}
}

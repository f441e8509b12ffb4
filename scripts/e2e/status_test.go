package e2e

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/scripts/demoapi"
)

// sluicectl backfill --wait follows the windows through the real pipeline
// to their end: exit 0 with their runs when every one SUCCEEDED, exit 1
// naming them when they FAILED; sluicectl status then shows them.
func TestBackfillWaitAndStatusThroughThePipeline(t *testing.T) {
	t.Parallel()
	e := start(t, setup{api: demoapi.Options{RecordsPerDay: 150}})
	ctx := context.Background()
	timeout := e.timing.within(30 * e.timing.visibility).String()

	out, err := e.pipe.Ctl(ctx, "backfill", "--source", "orders", "--from", "2026-11-01", "--to", "2026-11-04",
		"--wait", "--poll", "200ms", "--wait-timeout", timeout)
	if err != nil {
		t.Fatalf("%v\n%s", err, e.where())
	}
	for _, want := range []string{"3/3 windows  450 records", "orders/2026-11-03  SUCCEEDED", "all 3 windows SUCCEEDED"} {
		if !strings.Contains(out, want) {
			t.Errorf("backfill --wait output lacks %q:\n%s", want, out)
		}
	}

	// A source whose API refuses every request: its windows FAIL.
	e.api.SetFailure("customers", http.StatusNotFound)
	out, err = e.pipe.Ctl(ctx, "backfill", "--source", "customers", "--from", "2026-11-01", "--to", "2026-11-03",
		"--wait", "--poll", "200ms", "--wait-timeout", timeout)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("backfill --wait of failing windows: %v, want exit status 1\n%s", err, out)
	}
	if !strings.Contains(out, "windows FAILED: 2 of 2: customers/2026-11-01, customers/2026-11-02") {
		t.Errorf("backfill --wait does not name the FAILED windows:\n%s", out)
	}

	out, err = e.pipe.Ctl(ctx, "status", "--now", "2026-11-04T12:00:00Z", "--last", "4")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`(?m)^orders +day +2026-11-01 +2026-11-04 +SSS\. `, `(?m)^customers +day +2026-11-01 +2026-11-04 +FF-\. `, `customers/2026-11-01  attempt 1  `} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("status does not match %q:\n%s", want, out)
		}
	}
}

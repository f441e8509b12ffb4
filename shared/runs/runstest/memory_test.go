package runstest_test

import (
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
)

// The contract suite, against the in-memory store.
func TestStore(t *testing.T) {
	runstest.TestStore(t, func(_ *testing.T, cfg runs.Config, now func() time.Time) runstest.Contract {
		return runstest.New(cfg, now)
	})
}

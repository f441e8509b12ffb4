package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/service"
)

// A sweep interval that cannot be is refused, not taken as "never".
func TestConfigRefusesANegativeSweepInterval(t *testing.T) {
	for _, tt := range []struct {
		name  string
		every time.Duration
		bad   bool
	}{
		{"never", 0, false},
		{"every minute", time.Minute, false},
		{"negative", -time.Minute, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := config{Config: service.DefaultConfig(), SweepEvery: tt.every, MaxTakeUps: 3}
			err := c.Validate()
			if got := err != nil && strings.Contains(err.Error(), "SLUICE_SWEEP_EVERY"); got != tt.bad {
				t.Fatalf("Validate = %v; want an error naming SLUICE_SWEEP_EVERY: %v", err, tt.bad)
			}
		})
	}
}

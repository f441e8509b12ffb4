package backoff

import (
	"testing"
	"time"
)

func TestExponential(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name      string
		base, max time.Duration
		n         int
		want      time.Duration
	}{
		{"first failure", 2 * s, time.Minute, 1, 2 * s},
		{"n below one counts as one", 2 * s, time.Minute, 0, 2 * s},
		{"doubles", 2 * s, time.Minute, 3, 8 * s},
		{"capped", 2 * s, time.Minute, 6, time.Minute},
		{"huge n does not overflow", 2 * s, time.Minute, 1 << 30, time.Minute},
		{"no cap: base", 2 * s, 0, 5, 2 * s},
		{"cap below base", 10 * s, 3 * s, 1, 3 * s},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Exponential(tt.base, tt.max, tt.n); got != tt.want {
				t.Fatalf("Exponential(%v, %v, %d) = %v, want %v", tt.base, tt.max, tt.n, got, tt.want)
			}
		})
	}
}

func TestJitterBounds(t *testing.T) {
	tests := []struct {
		name     string
		jitter   func(time.Duration) time.Duration
		d        time.Duration
		min, max time.Duration
	}{
		{"full jitter", Full, 10 * time.Second, 0, 10 * time.Second},
		{"full jitter of nothing", Full, 0, 0, 0},
		{"spread", Spread, 10 * time.Second, 10 * time.Second, 12 * time.Second},
		{"spread of nothing", Spread, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 200 {
				if got := tt.jitter(tt.d); got < tt.min || got > tt.max {
					t.Fatalf("jitter(%v) = %v, want in [%v, %v]", tt.d, got, tt.min, tt.max)
				}
			}
		})
	}
}

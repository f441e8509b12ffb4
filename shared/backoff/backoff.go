// Package backoff computes the waits between retries that Sluice uses
// everywhere something is tried again: a message received again (the
// consumer), a receive that failed (the poller), an HTTP request to a
// source (the source client). They differ in their bounds and jitter, not
// in the exponential they share, so that is the one thing defined here.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Exponential is the wait after the n-th failure: base·2^(n-1), capped at
// max (when max > 0; with max <= 0 it is base). n < 1 counts as 1. It does
// not overflow however large n is.
func Exponential(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if max > 0 && d > max {
		d = max
	}
	return d
}

// Full is "full jitter": a random wait in [0, d], so that clients failing
// together do not retry together.
func Full(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

// Spread adds up to a fifth of d at random, for waits that must not get
// shorter than d but should not all end at once.
func Spread(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d + rand.N(d/5+1)
}

// Package fault classifies errors once, where they happen, as permanent or
// retryable, so that the edge (the queue consumer) can decide what to do with
// a message without guessing: a retryable error leaves the message for
// redelivery, a permanent one parks it in the dead-letter queue at once.
//
// An error that carries no class is treated as retryable: an unknown failure
// is more likely a fault of the moment (network, throttling) than of the
// message, and the queue's maxReceiveCount bounds the retries anyway.
package fault

import (
	"errors"
	"fmt"
	"time"
)

// Class is the closed set of error kinds Sluice acts on.
type Class int

const (
	// Unclassified errors are retried.
	Unclassified Class = iota
	// Retry marks an error that may go away if the same work is tried again.
	Retry
	// Stop marks an error that no retry of the same message can fix: a
	// malformed message, an unknown source, a 4xx from the API.
	Stop
)

// String returns the class name used in logs and DLQ attributes.
func (c Class) String() string {
	switch c {
	case Retry:
		return "retryable"
	case Stop:
		return "permanent"
	default:
		return "unclassified"
	}
}

type classified struct {
	class Class
	err   error
}

func (e *classified) Error() string { return e.err.Error() }
func (e *classified) Unwrap() error { return e.err }

// Permanent marks err as permanent. A nil err stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &classified{class: Stop, err: err}
}

// Permanentf is fmt.Errorf followed by Permanent.
func Permanentf(format string, args ...any) error {
	return Permanent(fmt.Errorf(format, args...))
}

// Retryable marks err as retryable. A nil err stays nil.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &classified{class: Retry, err: err}
}

// Retryablef is fmt.Errorf followed by Retryable.
func Retryablef(format string, args ...any) error {
	return Retryable(fmt.Errorf(format, args...))
}

// ClassOf returns the class of the outermost classified error in err's chain.
func ClassOf(err error) Class {
	var c *classified
	if errors.As(err, &c) {
		return c.class
	}
	return Unclassified
}

// IsPermanent reports whether err was classified as permanent.
func IsPermanent(err error) bool { return ClassOf(err) == Stop }

type delayed struct {
	after time.Duration
	err   error
}

func (e *delayed) Error() string { return e.err.Error() }
func (e *delayed) Unwrap() error { return e.err }

// RetryAfter marks err as retryable no sooner than after: the work is
// blocked until a known time (another worker's lease, a rate limit), so
// retrying earlier would only spend a delivery. A nil err stays nil.
func RetryAfter(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &delayed{after: after, err: Retryable(err)}
}

// Delay returns the wait RetryAfter attached to err, if any.
func Delay(err error) (time.Duration, bool) {
	var d *delayed
	if errors.As(err, &d) {
		return d.after, true
	}
	return 0, false
}

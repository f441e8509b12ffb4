package fault

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a panic recovered where no caller's recover reaches it
// (a goroutine of its own) and turned into an error: the panic's value,
// and the stack of the goroutine that panicked, for the edge that logs
// the error to log beside it. Its text is the value only; the stack stays
// out of error messages (and of the runs' last_error).
type PanicError struct {
	Value any
	Stack []byte // runtime/debug.Stack() in the deferred function that recovered
}

func (e *PanicError) Error() string { return fmt.Sprint(e.Value) }

// Recovered is the permanent error of r, a panic just recovered, with the
// stack of the goroutine that panicked: call it in the deferred function
// that recovered, so that the stack is that goroutine's. The message is
// what (formatted with args), then "panicked: " and the value.
func Recovered(r any, what string, args ...any) error {
	return Permanent(fmt.Errorf("%s panicked: %w", fmt.Sprintf(what, args...), &PanicError{Value: r, Stack: debug.Stack()}))
}

package fault

import "fmt"

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

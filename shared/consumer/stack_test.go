package consumer

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluice-data/sluice/shared/fault"
)

// A handler's error that carries a panic recovered on a goroutine of its
// own (fault.PanicError: a page read ahead) has the panic's stack on the
// message's outcome line, beside the error, whose text stays the value's;
// another error's line has no stack.
func TestOutcomeLineCarriesARecoveredPanicsStack(t *testing.T) {
	const stack = "goroutine 7 [running]:\nsource.(*readAhead).launch.func1()"
	panicked := fmt.Errorf("source orders: reading a page ahead panicked: %w", &fault.PanicError{Value: "boom", Stack: []byte(stack)})
	tests := []struct {
		name      string
		err       error
		msg       string
		wantStack string
	}{
		{"parked", fault.Permanent(panicked), "message failed permanently; parked in the DLQ", stack},
		{"retried", fault.Retryable(panicked), "message failed; left for redelivery", stack},
		{"no panic", fault.Permanent(errors.New("HTTP 404")), "message failed permanently; parked in the DLQ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			h := HandlerFunc(func(context.Context, Message) error { return tt.err })
			Process(context.Background(), zap.New(core), h, &fakeSettler{}, Message{ID: "m", Body: []byte("{}")})
			lines := logs.FilterMessage(tt.msg).All()
			if len(lines) != 1 {
				t.Fatalf("%d lines %q, want 1; logged: %v", len(lines), tt.msg, logs.All())
			}
			fields := lines[0].ContextMap()
			got, ok := fields["stack"]
			switch {
			case tt.wantStack == "" && ok:
				t.Errorf("stack = %q on the line of an error without a panic", got)
			case tt.wantStack != "" && got != tt.wantStack:
				t.Errorf("stack = %#v, want %q", got, tt.wantStack)
			}
			if fields["error"] != tt.err.Error() {
				t.Errorf("error = %q, want %q", fields["error"], tt.err.Error())
			}
		})
	}
}

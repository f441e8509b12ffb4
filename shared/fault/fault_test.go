package fault

import (
	"errors"
	"fmt"
	"testing"
)

func TestClassOf(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"plain error is unclassified", base, Unclassified},
		{"nil is unclassified", nil, Unclassified},
		{"permanent", Permanent(base), Stop},
		{"retryable", Retryable(base), Retry},
		{"wrapped permanent keeps its class", fmt.Errorf("claim x: %w", Permanent(base)), Stop},
		{"outermost class wins", Retryable(fmt.Errorf("ctx: %w", Permanent(base))), Retry},
		{"formatted", Permanentf("bad %s", "input"), Stop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClassOf(tt.err); got != tt.want {
				t.Fatalf("ClassOf(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestClassifiedKeepsCause(t *testing.T) {
	base := errors.New("boom")
	err := fmt.Errorf("op: %w", Permanent(base))
	if !errors.Is(err, base) {
		t.Fatal("errors.Is lost the cause")
	}
	if err.Error() != "op: boom" {
		t.Fatalf("message = %q", err.Error())
	}
	if Permanent(nil) != nil || Retryable(nil) != nil {
		t.Fatal("nil must stay nil")
	}
}

package runs

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sluice-data/sluice/shared/fault"
)

func TestGiveUp(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		err       error
		receive   int
		wantClass string
		wantOK    bool
	}{
		{"success", nil, 5, "", false},
		{"fenced is not a failure of the run", fmt.Errorf("x: %w", ErrFenced), 5, "", false},
		{"permanent on the first delivery", fault.Permanent(boom), 1, ClassPermanent, true},
		{"retryable with deliveries left", boom, 4, "", false},
		{"retryable on the last delivery", fault.Retryable(boom), 5, ClassRetriesExhausted, true},
		{"retryable past the last delivery", boom, 6, ClassRetriesExhausted, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			class, ok := GiveUp(tt.err, tt.receive, 5)
			if class != tt.wantClass || ok != tt.wantOK {
				t.Fatalf("GiveUp = %q, %v; want %q, %v", class, ok, tt.wantClass, tt.wantOK)
			}
		})
	}
}

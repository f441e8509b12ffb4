package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/fault"
)

// panicsOnSince is an authorizer with a bug: it panics on the requests of
// the slice that starts at since (unix seconds).
type panicsOnSince string

func (p panicsOnSince) Authorize(_ context.Context, req *http.Request) error {
	if req.URL.Query().Get("since") == string(p) {
		panic("authorizer bug on since " + string(p))
	}
	return nil
}

func (panicsOnSince) Refresh(context.Context, *http.Request) (bool, error) { return false, nil }

// A panic in a slice's walk (on the slice's own goroutine, which no recover
// of the caller reaches) or in the callback a slice hands its pages to is
// the walk's permanent error: a *fault.PanicError with the panic's value
// and the stack of the goroutine that panicked (for the edge to log), its
// text saying where it happened — the process does not crash.
func TestFetchSlicesPanicIsAPermanentError(t *testing.T) {
	third := fmt.Sprint(window(t).Start.Add(12 * time.Hour).Unix())
	tests := []struct {
		name      string
		style     demoapi.Style
		auth      bool // the authorizer panics on slice 2's requests
		wantText  string
		wantValue string
		wantFrame string
	}{
		{"authorizer, serial walk", demoapi.Cursor, true,
			"slice 2 of 4 (2026-11-01T12:00:00Z/2026-11-01T18:00:00Z): source src: the walk of slice 2 panicked: authorizer bug on since " + third,
			"authorizer bug on since " + third, "panicsOnSince.Authorize"},
		{"the page callback", demoapi.Cursor, false,
			"source src: handling page 1 of slice 2 panicked: callback bug",
			"callback bug", "TestFetchSlicesPanicIsAPermanentError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, src := slicedDemo(t, demoapi.SourceOptions{Style: tt.style}, 4)
			c := testClient()
			if tt.auth {
				c.Auth = map[string]Authorizer{src.Name: panicsOnSince(third)}
			}
			err := newSlicedWalk(4, nil).run(context.Background(), c, src, nil)
			if !tt.auth {
				err = c.FetchSlices(context.Background(), src, window(t), nil, func(_ context.Context, p Page) error {
					if p.Slice == 2 && p.Number == 1 {
						panic("callback bug")
					}
					return nil
				})
			}
			if !fault.IsPermanent(err) || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("walk = %v, want a permanent error with %q", err, tt.wantText)
			}
			var p *fault.PanicError
			if !errors.As(err, &p) || p.Value != tt.wantValue {
				t.Fatalf("walk = %v, want a *fault.PanicError with value %q", err, tt.wantValue)
			}
			if stack := string(p.Stack); !strings.Contains(stack, tt.wantFrame) || strings.Contains(err.Error(), "goroutine") {
				t.Errorf("the stack should name %s and stay out of the error's text:\nstack:\n%s\nerror: %v", tt.wantFrame, stack, err)
			}
		})
	}
}

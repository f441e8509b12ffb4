package source

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/fault"
)

// panicsOnPage is an authorizer with a bug: it panics on one page's
// request.
type panicsOnPage string

func (p panicsOnPage) Authorize(_ context.Context, req *http.Request) error {
	if req.URL.Query().Get("page") == string(p) {
		panic("authorizer bug on page " + string(p))
	}
	return nil
}

func (panicsOnPage) Refresh(context.Context, *http.Request) (bool, error) { return false, nil }

// A panic while a page is read ahead, on a goroutine of its own that no
// recover of the walk's caller reaches, is that page's error: the walk
// hands over the pages before it, as for any error on a page, and returns
// a permanent error carrying the panic's value and the stack of the
// goroutine that panicked (for the edge to log) — the process does not
// crash.
func TestConcurrentWalkReadAheadPanicIsAPermanentError(t *testing.T) {
	api := &pagedAPI{total: 200, size: 10, delay: time.Millisecond}
	srv := httptest.NewServer(api)
	defer srv.Close()
	src := pagedSource(t, srv.URL, pagedStyles[0].pagination, 10, 4)
	c := testClient()
	c.Auth = map[string]Authorizer{src.Name: panicsOnPage("5")} // page index 4: read ahead

	pages, err := walk(context.Background(), c, src, nil)
	if got := numbers(pages); !reflect.DeepEqual(got, []int{0, 1, 2, 3}) {
		t.Errorf("pages handed over %v, want 0..3, those before the page that panicked", got)
	}
	if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "reading a page ahead panicked: authorizer bug on page 5") {
		t.Fatalf("walk = %v, want a permanent error naming the panic", err)
	}
	var p *fault.PanicError
	if !errors.As(err, &p) || p.Value != "authorizer bug on page 5" {
		t.Fatalf("walk = %v, want a *fault.PanicError with the panic's value", err)
	}
	if stack := string(p.Stack); !strings.Contains(stack, "panicsOnPage.Authorize") || strings.Contains(err.Error(), "goroutine") {
		t.Errorf("the stack should name the panicking frame and stay out of the error's text:\nstack:\n%s\nerror: %v", stack, err)
	}
}

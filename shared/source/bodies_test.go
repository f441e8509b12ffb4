package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/sluice-data/sluice/scripts/demoapi"
)

// scribbleBodies makes every body buffer read garbage once it is back in
// the pool, for the rest of the test.
func scribbleBodies(t *testing.T) {
	t.Helper()
	scribble = func(b []byte) {
		for i := range b {
			b[i] = '#'
		}
	}
	t.Cleanup(func() { scribble = nil })
}

// TestBodiesScribbledAfterUse checks that no buffer goes back, to be
// reused, while what a walk handed over still points into it: with every
// buffer overwritten as it goes back, the records of every page — kept
// unreleased until the walk is over — are still the API's, and so is the
// Next of every page, kept after its page was released (its records
// copied out first, as the fetcher packs them) and resumed from once later
// pages were read into the buffer: for every pagination style, a
// read-ahead walk and a sliced one.
func TestBodiesScribbledAfterUse(t *testing.T) {
	scribbleBodies(t)
	for _, tt := range styleCases {
		t.Run(tt.name, func(t *testing.T) {
			d := startDemo(t, tt.opts)
			src := d.src("src")
			full, err := walk(context.Background(), testClient(), src, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := d.api.RecordsFor("src", day)
			assertRecords(t, allRecords(full), want)
			var (
				copied [][][]byte
				nexts  []*State
			)
			err = testClient().FetchFrom(context.Background(), src, window(t), nil, func(_ context.Context, p Page) error {
				var recs [][]byte
				for _, r := range p.Records {
					recs = append(recs, bytes.Clone(r))
				}
				copied, nexts = append(copied, recs), append(nexts, p.Next)
				p.Release()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var all [][]byte
			for _, recs := range copied {
				all = append(all, recs...)
			}
			assertRecords(t, all, want)
			for k, next := range nexts {
				if next == nil {
					continue
				}
				rest, err := walk(context.Background(), testClient(), src, next)
				if err != nil {
					t.Fatalf("resume after page %d, released, from %+v: %v", k, *next, err)
				}
				assertRecords(t, allRecords(rest), allRecords(full[k+1:]))
			}
			assertRecords(t, allRecords(full), want)
		})
	}
	t.Run("read ahead", func(t *testing.T) {
		d := startDemo(t, demoapi.Options{RecordsPerDay: 2000, PageSize: 50, Sources: map[string]demoapi.SourceOptions{"src": {Style: demoapi.PageNumber}}})
		src := d.src("src")
		src.Pagination.Concurrency = 4
		pages, err := walk(context.Background(), testClient(), src, nil)
		if err != nil {
			t.Fatal(err)
		}
		assertRecords(t, allRecords(pages), d.api.RecordsFor("src", day))
	})
	t.Run("slices", func(t *testing.T) {
		d := startDemo(t, demoapi.Options{RecordsPerDay: 2000, PageSize: 50, Sources: map[string]demoapi.SourceOptions{"src": {Style: demoapi.Cursor, Slices: 4}}})
		var (
			mu  sync.Mutex
			got [][]byte
		)
		err := testClient().FetchSlices(context.Background(), d.src("src"), window(t), nil, func(_ context.Context, p Page) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, p.Records...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := d.api.RecordsFor("src", day)
		slices.SortFunc(got, bytes.Compare)
		slices.SortFunc(want, bytes.Compare)
		assertRecords(t, got, want)
	})
}

// TestBodiesReleasedByAnotherGoroutine walks with a consumer shaped like
// the fetcher's: each page goes to another goroutine, which copies its
// records out and then releases it, while the walk (reading ahead) reads
// the next pages into the buffers released. Every record copied is the
// API's; under -race, a buffer reused while its records were still read
// is a reported race too.
func TestBodiesReleasedByAnotherGoroutine(t *testing.T) {
	scribbleBodies(t)
	for _, conc := range []int{1, 4} {
		t.Run(fmt.Sprintf("concurrency %d", conc), func(t *testing.T) {
			d := startDemo(t, demoapi.Options{RecordsPerDay: 3000, PageSize: 50, Sources: map[string]demoapi.SourceOptions{"src": {Style: demoapi.PageNumber}}})
			src := d.src("src")
			src.Pagination.Concurrency = conc
			pages := make(chan Page, 2)
			var got [][]byte
			done := make(chan struct{})
			go func() {
				defer close(done)
				for p := range pages {
					for _, r := range p.Records {
						got = append(got, bytes.Clone(r))
					}
					p.Release()
				}
			}()
			err := testClient().Fetch(context.Background(), src, window(t), func(_ context.Context, p Page) error {
				pages <- p
				return nil
			})
			close(pages)
			<-done
			if err != nil {
				t.Fatal(err)
			}
			assertRecords(t, got, d.api.RecordsFor("src", day))
		})
	}
}

// TestReleaseScribbles checks what the tests above rely on: the records
// of a page read after its Release read the scribble, not the API's
// bytes; and a page released twice gives its buffer back once.
func TestReleaseScribbles(t *testing.T) {
	scribbleBodies(t)
	d := startDemo(t, styleOpts(demoapi.SourceOptions{Style: demoapi.PageNumber}))
	var pages []Page
	err := testClient().Fetch(context.Background(), d.src("src"), window(t), func(_ context.Context, p Page) error {
		pages = append(pages, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for len(freeBodies) > 0 {
		<-freeBodies
	}
	p := pages[0]
	rec := p.Records[0]
	if !bytes.Equal(rec, d.api.RecordsFor("src", day)[0]) {
		t.Fatalf("record 0 before Release: %s", rec)
	}
	p.Release()
	cp := p
	cp.Release()
	if want := bytes.Repeat([]byte("#"), len(rec)); !bytes.Equal(rec, want) {
		t.Errorf("record 0 after Release: %s, want the scribble", rec)
	}
	if n := len(freeBodies); n != 1 {
		t.Errorf("%d buffers given back by two Releases of one page, want 1", n)
	}
	Page{}.Release() // a Page without a body: nothing to give back
}

// TestReadBody checks that a body is read whole into the buffer it is
// given, growing it only when the body does not fit.
func TestReadBody(t *testing.T) {
	body := strings.Repeat("x", 3*minBody+7)
	tests := []struct {
		name     string
		r        func() io.Reader
		capacity int
		want     string
		wantErr  error
		sameBuf  bool // read into the buffer given, not a grown copy
	}{
		{"room for the body and EOF", func() io.Reader { return strings.NewReader(body) }, len(body) + 1, body, nil, true},
		{"one byte at a time", func() io.Reader { return iotest.OneByteReader(strings.NewReader(body)) }, len(body) + 1, body, nil, true},
		{"data and EOF together", func() io.Reader { return iotest.DataErrReader(strings.NewReader(body)) }, len(body), body, nil, true},
		{"size unknown", func() io.Reader { return strings.NewReader(body) }, 0, body, nil, false},
		{"too small a buffer", func() io.Reader { return strings.NewReader(body) }, 10, body, nil, false},
		{"empty", func() io.Reader { return strings.NewReader("") }, 1, "", nil, true},
		{"broken", func() io.Reader { return iotest.TimeoutReader(strings.NewReader(body)) }, 2, body[:2], iotest.ErrTimeout, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := make([]byte, 0, tt.capacity)
			b := &buf
			err := readBody(tt.r(), b)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.HasPrefix(string(*b), tt.want) || len(*b) != len(tt.want) && tt.wantErr == nil {
				t.Fatalf("read %d bytes, want %d", len(*b), len(tt.want))
			}
			if same := cap(buf) > 0 && len(*b) > 0 && &(*b)[0] == &buf[:1][0]; tt.sameBuf && len(tt.want) > 0 && !same {
				t.Errorf("the body went to a new buffer of %d, not the %d given", cap(*b), tt.capacity)
			}
		})
	}
}

// TestBodyPool checks what the free list gives and keeps: a buffer at
// least as large as asked for, empty; a huge one is not kept, nor more
// than keptBodies.
func TestBodyPool(t *testing.T) {
	drain := func() {
		for len(freeBodies) > 0 {
			<-freeBodies
		}
	}
	tests := []struct {
		name      string
		put, want int
		reused    bool
	}{
		{"same size", 1000, 1000, true},
		{"smaller", 1000, 10, true},
		{"larger than kept", 1000, 2000, false},
		{"huge not kept", maxKeptBody + 1, maxKeptBody, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drain()
			buf := make([]byte, 7, tt.put)
			putBody(&buf)
			got := getBody(tt.want)
			if cap(*got) < tt.want || len(*got) != 0 {
				t.Fatalf("got len %d cap %d, want len 0 cap >= %d", len(*got), cap(*got), tt.want)
			}
			if reused := &(*got)[:1][0] == &buf[:1][0]; reused != tt.reused {
				t.Errorf("reused the buffer put: %v, want %v", reused, tt.reused)
			}
		})
	}
	t.Run("a page a little larger fits the buffer of the one before", func(t *testing.T) {
		drain()
		first := getBody(350_001)
		putBody(first)
		if got := getBody(350_001 + 200); got != first {
			t.Errorf("a new buffer for a body 200 bytes larger than the last (cap %d, the last's %d)", cap(*got), cap(*first))
		}
	})
	t.Run("at most keptBodies", func(t *testing.T) {
		drain()
		for range keptBodies + 3 {
			b := make([]byte, 0, 10)
			putBody(&b)
		}
		if n := len(freeBodies); n != keptBodies {
			t.Errorf("%d buffers kept, want %d", n, keptBodies)
		}
		drain()
	})
}

package demoapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// The time slices of a day, each walked with since and until through a
// cursor (the cursor names the slice: it is refused in another), serve
// every record of the day exactly once, each in the slice of its
// created_at.
func TestTimeFilteredSlicesServeTheDayOnce(t *testing.T) {
	s := New(Options{RecordsPerDay: 500, PageSize: 40, Sources: map[string]SourceOptions{"customers": {Style: Cursor}}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	midnight := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	seen := map[string]int{}
	var firstCursor string
	for i := range 6 {
		from, to := midnight.Add(time.Duration(i)*4*time.Hour), midnight.Add(time.Duration(i+1)*4*time.Hour)
		q := url.Values{"since": {fmt.Sprint(from.Unix())}, "until": {fmt.Sprint(to.Unix())}}
		var got [][]byte
		for cursor := ""; ; {
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			status, body := get(t, srv, "/v1/customers/events?"+q.Encode())
			if status != http.StatusOK {
				t.Fatalf("slice %d: %d %s", i, status, body)
			}
			var page struct {
				Items      []json.RawMessage `json:"items"`
				NextCursor string            `json:"next_cursor"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Items {
				got = append(got, r)
				var rec struct {
					ID        string    `json:"id"`
					CreatedAt time.Time `json:"created_at"`
				}
				if err := json.Unmarshal(r, &rec); err != nil {
					t.Fatal(err)
				}
				if rec.CreatedAt.Before(from) || !rec.CreatedAt.Before(to) {
					t.Fatalf("slice %d [%v, %v) served %s created at %v", i, from, to, rec.ID, rec.CreatedAt)
				}
				seen[rec.ID]++
			}
			if page.NextCursor == "" {
				break
			}
			if firstCursor == "" {
				firstCursor = page.NextCursor
			}
			cursor = page.NextCursor
		}
		want := s.RecordsBetween("customers", from, to)
		if len(got) != len(want) || (len(got) > 0 && !bytes.Equal(got[0], want[0])) {
			t.Fatalf("slice %d: %d records, RecordsBetween says %d", i, len(got), len(want))
		}
	}
	if len(seen) != 500 {
		t.Fatalf("%d distinct records over the slices, want the day's 500", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s served %d times", id, n)
		}
	}
	// A cursor of the first slice is refused in the last.
	last := url.Values{"since": {fmt.Sprint(midnight.Add(20 * time.Hour).Unix())}, "until": {fmt.Sprint(midnight.Add(24 * time.Hour).Unix())}, "cursor": {firstCursor}}
	if status, _ := get(t, srv, "/v1/customers/events?"+last.Encode()); status != http.StatusBadRequest {
		t.Fatalf("another slice's cursor: status %d, want 400", status)
	}
}

func TestTimeFilterIsChecked(t *testing.T) {
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	midnight := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Unix()
	tests := []struct {
		name         string
		since, until int64
		want         int
	}{
		{"a slice", midnight + 3600, midnight + 7200, http.StatusOK},
		{"the whole day", midnight, midnight + 86400, http.StatusOK},
		{"empty", midnight + 3600, midnight + 3600, http.StatusBadRequest},
		{"past the day", midnight + 3600, midnight + 86401, http.StatusBadRequest},
	}
	for _, tt := range tests {
		q := url.Values{"since": {fmt.Sprint(tt.since)}, "until": {fmt.Sprint(tt.until)}}
		if status, body := get(t, srv, "/v1/orders?"+q.Encode()); status != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, status, body, tt.want)
		}
	}
}

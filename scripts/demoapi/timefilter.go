package demoapi

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// A data request may filter the day by time, as time-filtered APIs do:
// since=<unix seconds>&until=<unix seconds>, both within one day (until at
// most the next midnight), serves only the day's records whose created_at
// lies in [since, until), in the day's order, paged as the style pages the
// whole day. Every record's created_at is within its day, so the slices of
// a day, walked one by one, serve every record of it exactly once.

// span is a request's time filter, in seconds after the day's midnight;
// nil: the whole day.
type span struct {
	from, to int64
	scope    string // names the day and the span in cursors and links
}

// timeFilter reads since and until when until is given; the day, and nil,
// when it is not (since alone is then the day's midnight, see dayParam).
func timeFilter(w http.ResponseWriter, q url.Values) (string, *span, bool) {
	until := q.Get("until")
	if until == "" {
		day, ok := dayParam(w, q)
		return day, nil, ok
	}
	since, err1 := strconv.ParseInt(q.Get("since"), 10, 64)
	to, err2 := strconv.ParseInt(until, 10, 64)
	if err1 != nil || err2 != nil || to <= since {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid since %q / until %q (want unix seconds, since before until)", q.Get("since"), until))
		return "", nil, false
	}
	start := time.Unix(since, 0).UTC().Truncate(24 * time.Hour)
	if to > start.Unix()+86400 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("since %d and until %d are not within one day", since, to))
		return "", nil, false
	}
	day := start.Format(time.DateOnly)
	sp := &span{from: since - start.Unix(), to: to - start.Unix()}
	sp.scope = fmt.Sprintf("%s@%d-%d", day, sp.from, sp.to)
	return day, sp, true
}

// created returns when record i of source's day was created, in seconds
// after the day's midnight: its created_at.
func created(source, day string, i int) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%s/%d", source, day, i)
	return int64(h.Sum64() % 86400)
}

// indexes returns, in order, the indexes of the records of the day's n
// that sp keeps; nil when sp is nil (all of them).
func (sp *span) indexes(source, day string, n int) []int {
	if sp == nil {
		return nil
	}
	ids := []int{}
	for i := range n {
		if c := created(source, day, i); c >= sp.from && c < sp.to {
			ids = append(ids, i)
		}
	}
	return ids
}

// RecordsBetween returns the records of source whose created_at lies in
// [from, to), a range within one day, in the order a request filtered by
// since=from&until=to serves them.
func (s *Server) RecordsBetween(source string, from, to time.Time) [][]byte {
	so, ok := s.sources[source]
	if !ok {
		return nil
	}
	day := from.UTC().Format(time.DateOnly)
	midnight := from.UTC().Truncate(24 * time.Hour).Unix()
	sp := &span{from: from.Unix() - midnight, to: to.Unix() - midnight}
	var out [][]byte
	for _, i := range sp.indexes(source, day, so.RecordsPerDay) {
		out = append(out, record(source, day, i))
	}
	return out
}

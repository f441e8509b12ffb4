package demoapi

import "time"

// Quota allows Requests data requests per Period; beyond, the source
// answers 429 with a Retry-After (whole seconds, rounded up) until the
// period resets. Periods start at the first request.
type Quota struct {
	Requests int
	Period   time.Duration
}

// quotaUse is a source's use of its quota in the current period.
type quotaUse struct {
	since time.Time
	used  int
}

// overQuota counts a request of source against q at now and returns how
// long until the period resets if it is over; 0 if within. s.mu is held.
func (s *Server) overQuota(source string, q *Quota, now time.Time) time.Duration {
	if q == nil || q.Requests <= 0 || q.Period <= 0 {
		return 0
	}
	u := s.quotas[source]
	if u == nil || now.Sub(u.since) >= q.Period {
		u = &quotaUse{since: now}
		s.quotas[source] = u
		s.count(source, func(c *Served) { c.QuotaPeriods++ })
	}
	if u.used >= q.Requests {
		return u.since.Add(q.Period).Sub(now)
	}
	u.used++
	return 0
}

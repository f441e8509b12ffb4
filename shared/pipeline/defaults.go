package pipeline

import (
	"fmt"
	"strings"
)

// applyDefaults fills in the fields the config left out. Presence, not the
// zero value, decides: start_page: 0 is a valid choice.
func (d *decoder) applyDefaults(c *Config) {
	for i := range c.Sources {
		s := &c.Sources[i]
		p := fmt.Sprintf("sources[%d]", i)
		if !d.has(p + ".partition.lookback") {
			s.Partition.Lookback = 1
		}
		if s.Partition.Slices == 1 {
			s.Partition.Slices = 0 // the window whole, as when left out: the same fingerprint
		}
		r := &s.Request
		if !d.has(p + ".request.timeout") {
			r.Timeout = DefaultTimeout
		}
		if d.has(p + ".request.method") {
			r.Method = strings.ToUpper(r.Method)
		} else {
			r.Method = DefaultMethod
		}
		g := &s.Pagination
		// A value the request places itself with a placeholder is not also
		// sent as a query parameter, unless the config asks for both.
		switch g.Type {
		case PageNumber:
			if !d.has(p+".pagination.page_param") && !r.Uses("page") {
				g.PageParam = DefaultPageParam
			}
			if !d.has(p + ".pagination.start_page") {
				g.StartPage = DefaultStartPage
			}
		case Offset:
			if !d.has(p+".pagination.offset_param") && !r.Uses("offset") {
				g.OffsetParam = DefaultOffsetParam
			}
			if !d.has(p+".pagination.size_param") && !r.Uses("limit") {
				g.SizeParam = DefaultLimitParam
			}
		}
		if (g.Type == PageNumber || g.Type == Offset) && !d.has(p+".pagination.concurrency") {
			// Without a total the pages are not known in advance: serial.
			g.Concurrency = 1
			if g.TotalPagesPath != "" || g.TotalPath != "" {
				g.Concurrency = DefaultConcurrency
			}
		}
		if !d.has(p + ".pagination.max_pages") {
			g.MaxPages = DefaultMaxPages
		}
		if s.Auth.Type == APIKey && !d.has(p+".auth.in") {
			s.Auth.In = DefaultAPIKeyIn
		}
		if d.has(p+".rate_limit") && !d.has(p+".rate_limit.burst") {
			s.RateLimit.Burst = DefaultBurst
		}
		d.applyOutputDefaults(p+".output", &s.Output)
		t := &s.Retry
		for _, f := range []struct {
			field string
			set   func()
		}{
			{"max_attempts", func() { t.MaxAttempts = DefaultMaxAttempts }},
			{"base_delay", func() { t.BaseDelay = DefaultBaseDelay }},
			{"max_delay", func() { t.MaxDelay = max(DefaultMaxDelay, t.BaseDelay) }},
			{"max_retry_after", func() { t.MaxRetryAfter = DefaultMaxRetryAfter }},
			{"max_wait", func() { t.MaxWait = max(DefaultMaxWait, t.MaxRetryAfter) }},
		} {
			if !d.has(p + ".retry." + f.field) {
				f.set()
			}
		}
	}
}

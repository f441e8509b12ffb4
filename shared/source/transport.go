package source

import (
	"net/http"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// NewTransport returns the HTTP transport of a process that runs up to
// workers fetches at once over cfg's sources, with an idle pool of
// IdleConnsPerHost(workers, cfg) connections per host.
func NewTransport(workers int, cfg *pipeline.Config) *http.Transport {
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: IdleConnsPerHost(workers, cfg),
		ForceAttemptHTTP2:   true,
	}
}

// IdleConnsPerHost is workers × the highest pagination.concurrency of
// cfg's sources: a concurrent walk has up to concurrency requests in
// flight, and a pool that cannot keep a connection when its request ends
// closes it, so that the next page dials again (a TCP and, over HTTPS, a
// TLS handshake) — about every page of a walk whose pool was smaller than
// its requests in flight.
func IdleConnsPerHost(workers int, cfg *pipeline.Config) int {
	most := 1
	for _, src := range cfg.Sources {
		most = max(most, src.Pagination.Concurrency)
	}
	return max(workers, 1) * most
}

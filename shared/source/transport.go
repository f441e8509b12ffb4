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

// IdleConnsPerHost is workers × the most requests one fetch of cfg's
// sources has in flight: its pagination.concurrency, times its
// partition.slices for a sliced source (FetchSlices walks the slices at
// once, each reading ahead). A pool that cannot keep a connection when
// its request ends closes it, so that the next page dials again (a TCP
// and, over HTTPS, a TLS handshake) — about every page of a walk whose
// pool was smaller than its requests in flight.
func IdleConnsPerHost(workers int, cfg *pipeline.Config) int {
	most := 1
	for _, src := range cfg.Sources {
		most = max(most, max(src.Pagination.Concurrency, 1)*max(src.Partition.Slices, 1))
	}
	return max(workers, 1) * most
}

package source

import (
	"context"
	"net/http"
)

// Authorizer adds a source's credentials to its requests. Package auth
// builds one per source from the pipeline config.
type Authorizer interface {
	// Authorize adds the credentials to req (a header, a query parameter).
	Authorize(ctx context.Context, req *http.Request) error
	// Refresh is called when the API answered 401 to rejected, a request
	// as Authorize prepared it. It returns true when newer credentials than
	// the rejected ones are at hand — obtained now (an OAuth2 token), or
	// already by a concurrent Refresh — so that the request is worth one
	// more try; false when nothing can change (a static key), and the 401
	// is final.
	Refresh(ctx context.Context, rejected *http.Request) (bool, error)
}

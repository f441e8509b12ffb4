package demoapi_test

import (
	"log"
	"net/http"
	"time"

	"github.com/sluice-data/sluice/shared/demoapi"
)

// The demo API on its usual local address, as scripts/demoapi runs it.
func Example_serve() {
	srv := &http.Server{
		Addr:              "127.0.0.1:48003",
		Handler:           demoapi.New(demoapi.Options{}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	log.Fatal(srv.ListenAndServe())
}

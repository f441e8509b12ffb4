package demoapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/sluice-data/sluice/scripts/demoapi"
)

// The demo API served on a local address, as scripts/demo serves it: the
// last page of a day of orders, in the page_number style.
func Example() {
	srv := httptest.NewServer(demoapi.New(demoapi.Options{RecordsPerDay: 5, PageSize: 2}))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/v1/orders?day=2026-11-01&page=3&per_page=2")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status)
	fmt.Println(string(body))
	// Output:
	// 200 OK
	// {"data":[{"id":"orders-2026-11-01-00004","source":"orders","day":"2026-11-01","seq":4,"amount":867.87,"ledger_ref":9007199256514567,"big":98765613389907886787,"precise":6666613389907886787.004,"customer":{"id":7365,"name":"Zoë Ørsted","city":"São Paulo"},"tags":["new","gift","new"],"note":"配送済み — 🚚 on time","created_at":"2026-11-01T22:46:27Z"}],"page":3,"per_page":2,"total_pages":3}
}

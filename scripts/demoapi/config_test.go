package demoapi

import (
	"testing"
)

// TestPipelineYAMLUnchanged pins the config of the default sources, which
// the demo and the services' tests use.
func TestPipelineYAMLUnchanged(t *testing.T) {
	const want = `version: 1
sources:
  - name: customers
    request:
      base_url: "http://h"
      path: /v1/customers/events
      query: {day: "{date}"}
      headers: {Accept: application/json}
      timeout: 10s
    pagination:
      type: cursor
      cursor_param: cursor
      cursor_path: next_cursor
      size_param: limit
      page_size: 100
    records:
      path: items
    partition:
      every: day
  - name: events
    request:
      base_url: "http://h"
      path: /v1/events
      query: {day: "{date}"}
      headers: {Accept: application/json}
      timeout: 10s
    pagination:
      type: page_number
      page_param: page
      start_page: 1
      size_param: per_page
      page_size: 100
    records:
      path: data
    partition:
      every: day
`
	if got := PipelineYAML("http://h", []string{"customers", "events"}); got != want {
		t.Errorf("PipelineYAML =\n%s\nwant\n%s", got, want)
	}
}

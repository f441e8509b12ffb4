package demoapi

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// PipelineYAML returns a valid pipeline config (see package pipeline) for the
// named sources of the default demo server, served at baseURL; all of them,
// in name order, when sources is empty.
func PipelineYAML(baseURL string, sources []string) string {
	return New(Options{}).PipelineYAML(baseURL, sources)
}

// PipelineYAML returns a valid pipeline config for the named sources of s,
// served at baseURL; all of them, in name order, when sources is empty. A
// name s does not serve is configured page_number style, so that its
// requests get the 404 of an unknown source.
func (s *Server) PipelineYAML(baseURL string, sources []string) string {
	if len(sources) == 0 {
		sources = slices.Sorted(maps.Keys(s.sources))
	}
	var b strings.Builder
	b.WriteString("version: 1\nsources:\n")
	for _, name := range sources {
		so, ok := s.sources[name]
		if !ok {
			so = SourceOptions{Style: PageNumber}
		}
		fmt.Fprintf(&b, "  - name: %s\n", name)
		fmt.Fprintf(&b, "    request:\n      base_url: %q\n", baseURL)
		switch so.Style {
		case Cursor:
			fmt.Fprintf(&b, "      path: /v1/%s/events\n", name)
		default:
			fmt.Fprintf(&b, "      path: /v1/%s\n", name)
		}
		b.WriteString("      query: {day: \"{date}\"}\n")
		b.WriteString("      headers: {Accept: application/json}\n")
		b.WriteString("      timeout: 10s\n")
		b.WriteString("    pagination:\n")
		switch so.Style {
		case Cursor:
			b.WriteString("      type: cursor\n      cursor_param: cursor\n      cursor_path: next_cursor\n")
			fmt.Fprintf(&b, "      size_param: limit\n      page_size: %d\n", s.pageSize)
			b.WriteString("    records:\n      path: items\n")
		default:
			b.WriteString("      type: page_number\n      page_param: page\n      start_page: 1\n")
			fmt.Fprintf(&b, "      size_param: per_page\n      page_size: %d\n", s.pageSize)
			if !so.OmitTotal {
				b.WriteString("      total_pages_path: total_pages\n")
			}
			b.WriteString("    records:\n      path: data\n")
		}
		b.WriteString("    partition:\n      every: day\n")
	}
	return b.String()
}

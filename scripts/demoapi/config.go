package demoapi

import (
	"fmt"
	"maps"
	"net/http"
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
//
// Each source is configured as its options ask: its pagination style, GET
// with the day in the query (since and until for a source with Slices) or
// POST with {"since": {start:unix}} and the
// paging values in a JSON body, and an auth section whose secrets are env:
// references to the variables of Env.
func (s *Server) PipelineYAML(baseURL string, sources []string) string {
	if len(sources) == 0 {
		sources = slices.Sorted(maps.Keys(s.sources))
	}
	var b strings.Builder
	b.WriteString("version: 1\nsources:\n")
	for _, name := range sources {
		so, ok := s.sources[name]
		if !ok {
			so = SourceOptions{Style: PageNumber, Method: http.MethodGet}
		}
		s.sourceYAML(&b, baseURL, name, so)
	}
	return b.String()
}

// sourceYAML writes the config of one source.
func (s *Server) sourceYAML(b *strings.Builder, baseURL, name string, so SourceOptions) {
	post := so.Method == http.MethodPost
	fmt.Fprintf(b, "  - name: %s\n", name)
	fmt.Fprintf(b, "    request:\n")
	if post {
		b.WriteString("      method: POST\n")
	}
	fmt.Fprintf(b, "      base_url: %q\n", baseURL)
	if so.Style == Cursor {
		fmt.Fprintf(b, "      path: /v1/%s/events\n", name)
	} else {
		fmt.Fprintf(b, "      path: /v1/%s\n", name)
	}
	switch {
	case post && so.Slices > 1:
		fmt.Fprintf(b, "      body: '%s'\n", strings.Replace(postBody(so.Style), `"since": {start:unix}`, `"since": {start:unix}, "until": {end:unix}`, 1))
	case post:
		fmt.Fprintf(b, "      body: '%s'\n", postBody(so.Style))
	case so.Slices > 1:
		b.WriteString("      query: {since: \"{start:unix}\", until: \"{end:unix}\"}\n")
	default:
		b.WriteString("      query: {day: \"{date}\"}\n")
	}
	b.WriteString("      headers: {Accept: application/json}\n")
	b.WriteString("      timeout: 10s\n")
	b.WriteString("    pagination:\n")
	size := s.pageSize
	switch so.Style {
	case Cursor:
		b.WriteString("      type: cursor\n")
		if !post {
			b.WriteString("      cursor_param: cursor\n")
		}
		b.WriteString("      cursor_path: next_cursor\n")
		sizeYAML(b, post, "limit", size)
		b.WriteString("    records:\n      path: items\n")
	case Offset:
		b.WriteString("      type: offset\n")
		if !post {
			b.WriteString("      offset_param: offset\n")
		}
		sizeYAML(b, post, "limit", size)
		if !so.OmitTotal {
			b.WriteString("      total_path: total\n")
		}
		b.WriteString("    records:\n      path: results\n")
	case NextURL:
		b.WriteString("      type: next_url\n      next_url_path: links.next\n")
		sizeYAML(b, post, "limit", size)
		b.WriteString("    records:\n      path: data\n")
	case LinkHeader:
		b.WriteString("      type: link_header\n")
		sizeYAML(b, post, "per_page", size)
		b.WriteString("    records:\n      path: \"@this\"\n")
	case NoPagination:
		b.WriteString("      type: none\n")
	default:
		b.WriteString("      type: page_number\n")
		if !post {
			b.WriteString("      page_param: page\n")
		}
		b.WriteString("      start_page: 1\n")
		sizeYAML(b, post, "per_page", size)
		if !so.OmitTotal {
			b.WriteString("      total_pages_path: total_pages\n")
		}
		b.WriteString("    records:\n      path: data\n")
	}
	b.WriteString("    partition:\n      every: day\n")
	if so.Slices > 1 {
		fmt.Fprintf(b, "      slices: %d\n", so.Slices)
	}
	authYAML(b, baseURL, so.Auth)
}

// sizeYAML writes the page size: a query parameter for GET, {limit} in the
// body for POST.
func sizeYAML(b *strings.Builder, post bool, param string, size int) {
	if !post {
		fmt.Fprintf(b, "      size_param: %s\n", param)
	}
	fmt.Fprintf(b, "      page_size: %d\n", size)
}

// postBody is the JSON body template of a POST source.
func postBody(style Style) string {
	switch style {
	case PageNumber:
		return `{"since": {start:unix}, "page": {page}, "per_page": {limit}}`
	case Offset:
		return `{"since": {start:unix}, "offset": {offset}, "limit": {limit}}`
	case Cursor:
		return `{"since": {start:unix}, "cursor": {cursor}, "limit": {limit}}`
	case NextURL:
		return `{"since": {start:unix}, "limit": {limit}}`
	case LinkHeader:
		return `{"since": {start:unix}, "per_page": {limit}}`
	default:
		return `{"since": {start:unix}}`
	}
}

func authYAML(b *strings.Builder, baseURL string, kind AuthKind) {
	switch kind {
	case AuthAPIKeyHeader:
		fmt.Fprintf(b, "    auth: {type: api_key, in: header, name: %s, key: \"env:%s\"}\n", APIKeyHeader, EnvAPIKey)
	case AuthAPIKeyQuery:
		fmt.Fprintf(b, "    auth: {type: api_key, in: query, name: %s, key: \"env:%s\"}\n", APIKeyParam, EnvAPIKey)
	case AuthBearer:
		fmt.Fprintf(b, "    auth: {type: bearer, token: \"env:%s\"}\n", EnvBearerToken)
	case AuthBasic:
		fmt.Fprintf(b, "    auth: {type: basic, username: \"env:%s\", password: \"env:%s\"}\n", EnvUsername, EnvPassword)
	case AuthOAuth2:
		b.WriteString("    auth:\n      type: oauth2_client_credentials\n")
		fmt.Fprintf(b, "      token_url: %q\n", strings.TrimSuffix(baseURL, "/")+"/oauth/token")
		fmt.Fprintf(b, "      client_id: \"env:%s\"\n      client_secret: \"env:%s\"\n", EnvClientID, EnvClientSecret)
		b.WriteString("      scopes: [read]\n")
	}
}

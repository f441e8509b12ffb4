package demoapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/shared/pipeline"
)

func TestPipelineYAML(t *testing.T) {
	tests := []struct {
		name    string
		sources []string
		want    map[string]pipeline.Pagination
	}{
		{"all demo sources", nil, map[string]pipeline.Pagination{
			"orders": {Type: pipeline.PageNumber, PageParam: "page", StartPage: 1, SizeParam: "per_page", PageSize: 100,
				TotalPagesPath: "total_pages", MaxPages: pipeline.DefaultMaxPages},
			"customers": {Type: pipeline.Cursor, CursorParam: "cursor", CursorPath: "next_cursor", SizeParam: "limit", PageSize: 100,
				MaxPages: pipeline.DefaultMaxPages},
			"events": {Type: pipeline.PageNumber, PageParam: "page", StartPage: 1, SizeParam: "per_page", PageSize: 100,
				MaxPages: pipeline.DefaultMaxPages},
		}},
		{"a subset and an unknown source", []string{"customers", "ghost"}, map[string]pipeline.Pagination{
			"customers": {Type: pipeline.Cursor, CursorParam: "cursor", CursorPath: "next_cursor", SizeParam: "limit", PageSize: 100,
				MaxPages: pipeline.DefaultMaxPages},
			"ghost": {Type: pipeline.PageNumber, PageParam: "page", StartPage: 1, SizeParam: "per_page", PageSize: 100,
				TotalPagesPath: "total_pages", MaxPages: pipeline.DefaultMaxPages},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := PipelineYAML("http://127.0.0.1:48003", tt.sources)
			c, err := pipeline.Parse("demo.yaml", []byte(y))
			if err != nil {
				t.Fatalf("%v\n%s", err, y)
			}
			if len(c.Sources) != len(tt.want) {
				t.Fatalf("%d sources, want %d", len(c.Sources), len(tt.want))
			}
			for name, want := range tt.want {
				s, ok := c.Source(name)
				if !ok {
					t.Fatalf("no source %q", name)
				}
				if s.Pagination != want {
					t.Errorf("%s pagination = %+v, want %+v", name, s.Pagination, want)
				}
				if s.Request.BaseURL != "http://127.0.0.1:48003" || s.Request.Query["day"] != "{date}" || s.Partition.Every != pipeline.Day {
					t.Errorf("%s = %+v", name, s)
				}
			}
		})
	}
}

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

// TestPipelineYAMLEveryKind parses the config of a source of every style,
// method and auth kind.
func TestPipelineYAMLEveryKind(t *testing.T) {
	styles := []Style{PageNumber, Offset, Cursor, NextURL, LinkHeader, NoPagination}
	auths := map[AuthKind]pipeline.AuthType{
		AuthNone: pipeline.NoAuth, AuthAPIKeyHeader: pipeline.APIKey, AuthAPIKeyQuery: pipeline.APIKey,
		AuthBearer: pipeline.Bearer, AuthBasic: pipeline.Basic, AuthOAuth2: pipeline.OAuth2ClientCredentials,
	}
	sources := map[string]SourceOptions{}
	for _, st := range styles {
		for _, m := range []string{"GET", "POST"} {
			for kind := range auths {
				name := strings.ToLower(fmt.Sprintf("%s_%s_%s", st, m, kind))
				sources[name] = SourceOptions{Style: st, Method: m, Auth: kind, OmitTotal: m == "POST"}
			}
		}
	}
	s := New(Options{Sources: sources})
	y := s.PipelineYAML("http://127.0.0.1:48003/", nil)
	c, err := pipeline.Parse("demo.yaml", []byte(y))
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	for name, so := range sources {
		src, ok := c.Source(name)
		if !ok {
			t.Fatalf("no source %s", name)
		}
		if string(src.Pagination.Type) != string(so.Style) || src.Request.Method != so.Method || src.Auth.Type != auths[so.Auth] {
			t.Errorf("%s: %s %s %s", name, src.Pagination.Type, src.Request.Method, src.Auth.Type)
		}
		if so.Auth == AuthOAuth2 && src.Auth.TokenURL != "http://127.0.0.1:48003/oauth/token" {
			t.Errorf("%s: token_url %s", name, src.Auth.TokenURL)
		}
		for _, sec := range []pipeline.Secret{src.Auth.Key, src.Auth.Token, src.Auth.Username, src.Auth.Password, src.Auth.ClientID, src.Auth.ClientSecret} {
			if sec == "" {
				continue
			}
			if _, envName, _, err := sec.Parse(); err != nil || Env()[envName] == "" {
				t.Errorf("%s: secret %s names no demo credential (%v)", name, sec, err)
			}
		}
	}
}

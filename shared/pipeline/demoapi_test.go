package pipeline_test

// The demo API's configs, as pipeline.Parse reads them. (They are tested
// here, not beside the demo API, so that its module does not require this
// one: this module's tests require it.)

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/pipeline"
)

func TestDemoPipelineYAML(t *testing.T) {
	tests := []struct {
		name    string
		sources []string
		want    map[string]pipeline.Pagination
	}{
		{"all demo sources", nil, map[string]pipeline.Pagination{
			"orders": {Type: pipeline.PageNumber, PageParam: "page", StartPage: 1, SizeParam: "per_page", PageSize: 100,
				TotalPagesPath: "total_pages", MaxPages: pipeline.DefaultMaxPages, Concurrency: pipeline.DefaultConcurrency},
			"customers": {Type: pipeline.Cursor, CursorParam: "cursor", CursorPath: "next_cursor", SizeParam: "limit", PageSize: 100,
				MaxPages: pipeline.DefaultMaxPages},
			"events": {Type: pipeline.PageNumber, PageParam: "page", StartPage: 1, SizeParam: "per_page", PageSize: 100,
				MaxPages: pipeline.DefaultMaxPages, Concurrency: 1},
		}},
		{"a subset and an unknown source", []string{"customers", "ghost"}, map[string]pipeline.Pagination{
			"customers": {Type: pipeline.Cursor, CursorParam: "cursor", CursorPath: "next_cursor", SizeParam: "limit", PageSize: 100,
				MaxPages: pipeline.DefaultMaxPages},
			"ghost": {Type: pipeline.PageNumber, PageParam: "page", StartPage: 1, SizeParam: "per_page", PageSize: 100,
				TotalPagesPath: "total_pages", MaxPages: pipeline.DefaultMaxPages, Concurrency: pipeline.DefaultConcurrency},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := demoapi.PipelineYAML("http://127.0.0.1:48003", tt.sources)
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

// TestDemoPipelineYAMLEveryKind parses the config of a source of every style,
// method and auth kind.
func TestDemoPipelineYAMLEveryKind(t *testing.T) {
	styles := []demoapi.Style{demoapi.PageNumber, demoapi.Offset, demoapi.Cursor, demoapi.NextURL, demoapi.LinkHeader, demoapi.NoPagination}
	auths := map[demoapi.AuthKind]pipeline.AuthType{
		demoapi.AuthNone: pipeline.NoAuth, demoapi.AuthAPIKeyHeader: pipeline.APIKey, demoapi.AuthAPIKeyQuery: pipeline.APIKey,
		demoapi.AuthBearer: pipeline.Bearer, demoapi.AuthBasic: pipeline.Basic, demoapi.AuthOAuth2: pipeline.OAuth2ClientCredentials,
	}
	sources := map[string]demoapi.SourceOptions{}
	for _, st := range styles {
		for _, m := range []string{"GET", "POST"} {
			for kind := range auths {
				name := strings.ToLower(fmt.Sprintf("%s_%s_%s", st, m, kind))
				sources[name] = demoapi.SourceOptions{Style: st, Method: m, Auth: kind, OmitTotal: m == "POST"}
			}
		}
	}
	s := demoapi.New(demoapi.Options{Sources: sources})
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
		if so.Auth == demoapi.AuthOAuth2 && src.Auth.TokenURL != "http://127.0.0.1:48003/oauth/token" {
			t.Errorf("%s: token_url %s", name, src.Auth.TokenURL)
		}
		for _, sec := range []pipeline.Secret{src.Auth.Key, src.Auth.Token, src.Auth.Username, src.Auth.Password, src.Auth.ClientID, src.Auth.ClientSecret} {
			if sec == "" {
				continue
			}
			if _, envName, _, err := sec.Parse(); err != nil || demoapi.Env()[envName] == "" {
				t.Errorf("%s: secret %s names no demo credential (%v)", name, sec, err)
			}
		}
	}
}

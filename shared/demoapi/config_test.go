package demoapi

import (
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

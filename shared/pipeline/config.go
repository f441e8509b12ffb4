package pipeline

import (
	"time"
)

// Version is the only config format version this package understands.
const Version = 1

// Defaults applied by Parse to fields the config leaves out.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultPageParam = "page"
	DefaultStartPage = 1
	DefaultMaxPages  = 100000
)

// Config is a parsed and validated pipeline config.
type Config struct {
	Version int      `yaml:"version"`
	Sources []Source `yaml:"sources"`
}

// Source returns the source with the given name.
func (c *Config) Source(name string) (*Source, bool) {
	for i := range c.Sources {
		if c.Sources[i].Name == name {
			return &c.Sources[i], true
		}
	}
	return nil, false
}

// Source is one HTTP API pulled into the pipeline.
type Source struct {
	// Name identifies the source in queues, run records and S3 keys:
	// 1–64 characters of a-z, 0-9, _ and -, unique in the config.
	Name       string     `yaml:"name"`
	Request    Request    `yaml:"request"`
	Pagination Pagination `yaml:"pagination"`
	Records    Records    `yaml:"records"`
	Partition  Partition  `yaml:"partition"`
}

// Request describes the HTTP GET sent for each page. Path and query values
// may use the placeholders {date}, {start} and {end}, replaced per window
// (see Window.Expand); header values are sent as written.
type Request struct {
	BaseURL string            `yaml:"base_url"` // absolute http or https URL, no query
	Path    string            `yaml:"path"`     // starts with "/", appended to BaseURL's path
	Query   map[string]string `yaml:"query"`
	Headers map[string]string `yaml:"headers"`
	Timeout time.Duration     `yaml:"timeout"` // per request, body included; default 30s
}

// PaginationType says how the pages of an API are walked.
type PaginationType string

// The pagination types.
const (
	// PageNumber sends an increasing page number; it stops when the page
	// number passes the total read from TotalPagesPath or, without one, at
	// the first page with no records.
	PageNumber PaginationType = "page_number"
	// Cursor sends back the cursor found at CursorPath in the previous page;
	// it stops when the body carries no cursor (missing, null or "").
	Cursor PaginationType = "cursor"
	// NoPagination sends one request per window.
	NoPagination PaginationType = "none"
)

// Pagination configures how pages are requested and when to stop.
type Pagination struct {
	Type PaginationType `yaml:"type"`

	// page_number
	PageParam      string `yaml:"page_param"`       // default "page"
	StartPage      int    `yaml:"start_page"`       // default 1
	TotalPagesPath string `yaml:"total_pages_path"` // gjson path; optional

	// page_number and cursor: the page size to ask for, sent only when both
	// are set.
	SizeParam string `yaml:"size_param"`
	PageSize  int    `yaml:"page_size"`

	// cursor
	CursorParam string `yaml:"cursor_param"` // query parameter carrying the cursor
	CursorPath  string `yaml:"cursor_path"`  // gjson path of the next cursor

	// MaxPages bounds the pages fetched for one window; a source that needs
	// more is failing permanently (most likely a cursor that never ends).
	// Default 100000.
	MaxPages int `yaml:"max_pages"`
}

// Records says where the records are in a page body.
type Records struct {
	// Path is the gjson path of the array of records; "" or "@this" means
	// the body itself is the array.
	Path string `yaml:"path"`
}

package pipeline

import (
	"time"
)

// Version is the only config format version this package understands.
const Version = 1

// Defaults applied by Parse to fields the config leaves out.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultMethod      = "GET"
	DefaultPageParam   = "page"
	DefaultStartPage   = 1
	DefaultOffsetParam = "offset"
	DefaultLimitParam  = "limit"
	DefaultMaxPages    = 100000
	DefaultConcurrency = 4
	MaxConcurrency     = 32
	DefaultAPIKeyIn    = "header"
	DefaultBurst       = 1

	DefaultMaxAttempts   = 3
	DefaultBaseDelay     = 1 * time.Second
	DefaultMaxDelay      = 30 * time.Second
	DefaultMaxRetryAfter = 60 * time.Second
	DefaultMaxWait       = 5 * time.Minute
)

// Config is a parsed and validated pipeline config.
type Config struct {
	Version int      `yaml:"version"`
	Sources []Source `yaml:"sources"`
	// File is the name the config was parsed from (Parse's name), for
	// errors found after parsing, such as a secret that cannot be read.
	File string `yaml:"-"`
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
	Auth       Auth       `yaml:"auth"`       // optional; the zero value sends no credentials
	RateLimit  RateLimit  `yaml:"rate_limit"` // optional; the zero value does not limit
	Retry      Retry      `yaml:"retry"`      // optional; Parse fills in the defaults
	Output     Output     `yaml:"output"`     // optional; Parse fills in the defaults
}

// Request describes the HTTP request sent for each page. Path, query values,
// header values and the body are templates: they may use the placeholders
// of the window ({start}, {end}, {date}, each with an optional format such
// as {start:unix}) and of the page ({page}, {offset}, {limit}, {cursor}),
// replaced per request (see Vars).
type Request struct {
	Method  string            `yaml:"method"`   // GET (default) or POST
	BaseURL string            `yaml:"base_url"` // absolute http or https URL, no query; every URL requested has its scheme and host
	Path    string            `yaml:"path"`     // starts with "/", appended to BaseURL's path
	Query   map[string]string `yaml:"query"`
	Headers map[string]string `yaml:"headers"`
	// Body is the JSON body of a POST, a template whose placeholders are
	// replaced as JSON values (see Vars.ExpandJSON). POST only; optional.
	Body    string        `yaml:"body"`
	Timeout time.Duration `yaml:"timeout"` // per request, body included; default 30s
}

// PaginationType says how the pages of an API are walked.
type PaginationType string

// The pagination types.
const (
	// PageNumber sends an increasing page number. It stops at the first
	// page with no records, or once the total read from TotalPagesPath or
	// TotalPath is reached.
	PageNumber PaginationType = "page_number"
	// Offset sends the number of records read so far and the page size. It
	// stops at the first page with no records, or once the total read from
	// TotalPath is reached.
	Offset PaginationType = "offset"
	// Cursor sends back the cursor found at CursorPath in the previous page;
	// it stops when the body carries no cursor (missing, null or "").
	Cursor PaginationType = "cursor"
	// NextURL requests the URL found at NextURLPath in the previous page;
	// it stops when the body carries none (missing, null or "").
	NextURL PaginationType = "next_url"
	// LinkHeader requests the URL of the previous response's
	// Link: <…>; rel="next" header (RFC 8288); it stops when there is none.
	LinkHeader PaginationType = "link_header"
	// NoPagination sends one request per window.
	NoPagination PaginationType = "none"
)

// PaginationTypes lists the pagination types, in the order documented.
var PaginationTypes = []PaginationType{PageNumber, Offset, Cursor, NextURL, LinkHeader, NoPagination}

// Pagination configures how pages are requested and when to stop.
//
// The pager's values are sent as query parameters (page_param,
// offset_param, size_param, cursor_param) unless the request places them
// itself with the placeholders {page}, {offset}, {limit} and {cursor}; a
// parameter then defaults to not being sent.
type Pagination struct {
	Type PaginationType `yaml:"type"`

	// page_number
	PageParam      string `yaml:"page_param"`       // default "page"
	StartPage      int    `yaml:"start_page"`       // default 1
	TotalPagesPath string `yaml:"total_pages_path"` // gjson path of the number of pages; optional

	// offset: the offset starts at 0 and grows by the records of each page.
	OffsetParam string `yaml:"offset_param"` // default "offset"

	// page_number and offset: gjson path of the total number of records;
	// optional.
	TotalPath string `yaml:"total_path"`

	// The page size to ask for, sent as SizeParam ({limit} in templates).
	// offset: PageSize is required and SizeParam defaults to "limit";
	// other types: optional, sent only when both are set.
	SizeParam string `yaml:"size_param"`
	PageSize  int    `yaml:"page_size"`

	// cursor
	CursorParam string `yaml:"cursor_param"` // query parameter carrying the cursor
	CursorPath  string `yaml:"cursor_path"`  // gjson path of the next cursor

	// next_url: gjson path of the URL of the next page, absolute or
	// relative to the URL of the page.
	NextURLPath string `yaml:"next_url_path"`

	// MaxPages bounds the pages fetched for one window; a source that needs
	// more is failing permanently (most likely a cursor that never ends).
	// Default 100000.
	MaxPages int `yaml:"max_pages"`

	// Concurrency is how many pages of one window may be requested at
	// once (page_number and offset with total_pages_path or total_path:
	// pages whose requests are known in advance). The first page tells how
	// many there are; the pages after it are fetched up to Concurrency at a
	// time and handed over strictly in order, so that the walk returns the
	// very pages and States of the serial walk. 1 walks serially; rate_limit
	// always wins. Default 4 (DefaultConcurrency) with a total, 1 without;
	// at most 32. 0, in a source built in code, walks serially.
	//
	// omitempty: Fingerprint zeroes it, and so leaves it out of the hashed
	// JSON, which then equals that of before the field existed.
	Concurrency int `yaml:"concurrency" json:",omitempty"`
}

// Records says where the records are in a page body.
type Records struct {
	// Path is the gjson path of the array of records; "" or "@this" means
	// the body itself is the array.
	Path string `yaml:"path"`
}

// RateLimit bounds the requests sent to a source, across every fetch
// sharing one source.Client (one process). The zero value does not limit.
type RateLimit struct {
	RequestsPerSecond float64 `yaml:"requests_per_second"` // > 0; 0.5 is one request every 2s
	Burst             int     `yaml:"burst"`               // requests that may go at once; default 1
}

// Retry says how a page that failed for a moment is tried again, before the
// fetch gives up with a retryable error (and the queue redelivers it).
type Retry struct {
	// MaxAttempts is the number of failed attempts (5xx, 408, timeouts,
	// broken connections, truncated or invalid bodies, 429 without
	// Retry-After) allowed per page. Default 3.
	MaxAttempts int `yaml:"max_attempts"`
	// BaseDelay and MaxDelay shape the exponential backoff with full
	// jitter between attempts: a random wait up to
	// min(MaxDelay, BaseDelay×2^(n-1)). Defaults 1s and 30s.
	BaseDelay time.Duration `yaml:"base_delay"`
	MaxDelay  time.Duration `yaml:"max_delay"`
	// MaxRetryAfter is the longest Retry-After (on 429 or 503) waited out
	// in process; a longer one ends the fetch with a retryable error that
	// asks the queue to wait that long. Default 60s.
	MaxRetryAfter time.Duration `yaml:"max_retry_after"`
	// MaxWait caps the sum of Retry-After waits for one page, which are not
	// counted as failed attempts. Default 5m.
	MaxWait time.Duration `yaml:"max_wait"`
}

// AuthType says how a source's requests are authenticated.
type AuthType string

// The auth types.
const (
	NoAuth                  AuthType = ""
	APIKey                  AuthType = "api_key"
	Bearer                  AuthType = "bearer"
	Basic                   AuthType = "basic"
	OAuth2ClientCredentials AuthType = "oauth2_client_credentials"
)

// Auth configures a source's credentials. Every credential is a Secret: a
// reference to where the value is kept, never the value itself, so that a
// config file can be committed and a queue message can never carry one.
type Auth struct {
	Type AuthType `yaml:"type"`

	// api_key: the key is sent in the header or query parameter Name.
	In   string `yaml:"in"` // "header" (default) or "query"
	Name string `yaml:"name"`
	Key  Secret `yaml:"key"`

	// bearer: "Authorization: Bearer <token>".
	Token Secret `yaml:"token"`

	// basic: HTTP basic auth.
	Username Secret `yaml:"username"`
	Password Secret `yaml:"password"`

	// oauth2_client_credentials: a token is fetched from TokenURL with the
	// client id and secret, cached until it expires, and refreshed.
	TokenURL     string   `yaml:"token_url"`
	ClientID     Secret   `yaml:"client_id"`
	ClientSecret Secret   `yaml:"client_secret"`
	Scopes       []string `yaml:"scopes"`
}

// Secret is a reference to a secret value:
//
//	env:NAME                          environment variable NAME
//	secretsmanager:NAME-OR-ARN[#KEY]  AWS Secrets Manager secret; #KEY picks a key of a JSON secret
//	ssm:/PARAMETER/NAME               AWS SSM Parameter Store parameter (decrypted)
type Secret string

package source

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// State is where the walk of a window's pages stands: what the next
// request sends, and what the stop conditions have counted so far. It is
// plain data that survives a JSON round trip, so that a fetch cut short
// (a Lambda about to time out) can checkpoint the Next of its last page and
// a later invocation go on with Client.FetchFrom.
//
// A State holds no credentials: an api key sent as a query parameter is
// stripped from next URLs, and the Authorizer adds it again to every
// request. A next URL is still the API's, and is checked against
// request.base_url again when a walk resumes from it.
type State struct {
	// Pages is the number of pages fetched so far: the Page.Number of the
	// next page. max_pages counts it.
	Pages int `json:"pages"`
	// Records is the number of records fetched so far (for total_path).
	Records int `json:"records"`
	// Page is the page number to send next (page_number).
	Page int `json:"page,omitempty"`
	// Offset is the offset to send next (offset).
	Offset int `json:"offset,omitempty"`
	// Cursor is the cursor to send next (cursor); "" on the first page.
	Cursor string `json:"cursor,omitempty"`
	// NextURL is the URL to request next (next_url, link_header); "" on
	// the first page, which is built from the request config.
	NextURL string `json:"next_url,omitempty"`
}

// start returns the state of a walk's first page.
func (p *pager) start() State {
	st := State{}
	if p.pg.Type == pipeline.PageNumber {
		st.Page = p.pg.StartPage
	}
	return st
}

// check returns why st cannot resume a walk of the pager's source.
func (p *pager) check(st State) error {
	if st.Pages < 0 || st.Records < 0 || st.Offset < 0 {
		return errors.New("negative counts in state")
	}
	var stray []string
	if st.Page != 0 && p.pg.Type != pipeline.PageNumber {
		stray = append(stray, "page")
	}
	if st.Offset != 0 && p.pg.Type != pipeline.Offset {
		stray = append(stray, "offset")
	}
	if st.Cursor != "" && p.pg.Type != pipeline.Cursor {
		stray = append(stray, "cursor")
	}
	if st.NextURL != "" && p.pg.Type != pipeline.NextURL && p.pg.Type != pipeline.LinkHeader {
		stray = append(stray, "next_url")
	}
	if len(stray) > 0 {
		return fmt.Errorf("state has %v, which pagination type %s does not use (was the config changed?)", stray, p.pg.Type)
	}
	if st.NextURL != "" {
		u, err := url.Parse(st.NextURL)
		if err != nil {
			return errors.New("state has an invalid next_url")
		}
		if !sameOrigin(u, p.origin) {
			return fmt.Errorf("state's next_url is on %s, not the host of request.base_url", origin(u))
		}
	}
	if st.Pages == 0 {
		return nil
	}
	switch p.pg.Type {
	case pipeline.Cursor:
		if st.Cursor == "" {
			return errors.New("state past the first page has no cursor")
		}
	case pipeline.NextURL, pipeline.LinkHeader:
		if st.NextURL == "" {
			return errors.New("state past the first page has no next_url")
		}
	case pipeline.NoPagination:
		return errors.New("pagination type none has a single page; nothing to resume")
	}
	return nil
}

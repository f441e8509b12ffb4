package source

import (
	"net/http"
	"testing"
)

func TestNextLink(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   string // "" for none
	}{
		{"GitHub style", []string{`<https://api.github.com/repos?page=2>; rel="next", <https://api.github.com/repos?page=5>; rel="last"`},
			"https://api.github.com/repos?page=2"},
		{"next not first", []string{`<https://x/?page=1>; rel="prev", <https://x/?page=3>; rel="next"`}, "https://x/?page=3"},
		{"several header lines", []string{`<https://x/?page=1>; rel="first"`, `<https://x/?page=2>; rel="next"`}, "https://x/?page=2"},
		{"unquoted rel", []string{`</items?page=2>; rel=next`}, "/items?page=2"},
		{"rel is a list, any case", []string{`<https://x/2>; rel="last NEXT"`}, "https://x/2"},
		{"comma and semicolon inside the URL", []string{`<https://x/a,b;c?q=1,2>; rel="next"`}, "https://x/a,b;c?q=1,2"},
		{"comma and escapes inside a quoted parameter", []string{`<https://x/1>; rel="prev"; title="a, \"b\"; c", <https://x/2>; rel="next"`}, "https://x/2"},
		{"rel-like parameter value is not rel", []string{`<https://x/1>; title="rel=next"`, `<https://x/2>; rel="next"`}, "https://x/2"},
		{"first rel wins", []string{`<https://x/1>; rel="prev"; rel="next", <https://x/2>; rel="next"`}, "https://x/2"},
		{"space around", []string{`  < https://x/2 > ;rel = "next" ; type="application/json"  `}, "https://x/2"},
		{"anchor and other params", []string{`<https://x/2>; anchor="#a"; rel="next"; hreflang=en`}, "https://x/2"},
		{"broken link-value skipped", []string{`https://x/1; rel="next", <https://x/2>; rel="next"`}, "https://x/2"},
		{"unterminated quote", []string{`<https://x/2>; rel="next`}, ""},
		{"no next", []string{`<https://x/1>; rel="prev", <https://x/9>; rel="last"`}, ""},
		{"nextish is not next", []string{`<https://x/1>; rel="next-page"`}, ""},
		{"no header", nil, ""},
		{"empty", []string{""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.values {
				h.Add("Link", v)
			}
			got, ok := nextLink(h)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("nextLink = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

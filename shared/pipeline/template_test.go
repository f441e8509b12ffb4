package pipeline

import (
	"encoding/json"
	"testing"
	"time"
)

func TestVarsExpand(t *testing.T) {
	w := Window{Start: time.Date(2026, 11, 1, 13, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 1, 14, 0, 0, 0, time.UTC)}
	v := Vars{Window: w, Page: 3, Offset: 200, Limit: 100, Cursor: "c/1 2"}
	tests := []struct{ in, want string }{
		{"no placeholders", "no placeholders"},
		{"{date}", "2026-11-01"},
		{"{start}/{end}", "2026-11-01T13:00:00Z/2026-11-01T14:00:00Z"},
		{"{start:unix}-{end:unix}", "1793538000-1793541600"},
		{"{start:unix_ms}", "1793538000000"},
		{"{end:rfc3339} {end:date}", "2026-11-01T14:00:00Z 2026-11-01"},
		{"{start:20060102T1504}", "20261101T1300"},
		{"{date:02/01/2006}", "01/11/2026"},
		{"{end:2006-01-02T15:04:05.000Z07:00}", "2026-11-01T14:00:00.000Z"},
		{"p{page}o{offset}l{limit}c{cursor}", "p3o200l100cc/1 2"},
		{"{unknown} {page:x} {}", "{unknown} {page:x} {}"},
	}
	for _, tt := range tests {
		if got := v.Expand(tt.in); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := w.Expand("{date}/{start:unix}/{page}/{cursor}"); got != "2026-11-01/1793538000/{page}/{cursor}" {
		t.Errorf("Window.Expand kept page placeholders wrong: %q", got)
	}
}

func TestVarsExpandJSON(t *testing.T) {
	w := Window{Start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}
	tests := []struct {
		name string
		v    Vars
		in   string
		want string
	}{
		{"numbers bare, strings quoted", Vars{Window: w, Page: 2, Limit: 50},
			`{"since": {start:unix}, "day": {date}, "page": {page}, "n": {limit}}`,
			`{"since": 1793491200, "day": "2026-11-01", "page": 2, "n": 50}`},
		{"inside strings, escaped", Vars{Window: w, Cursor: "a\"b\\c\nd\u0001é"},
			`{"q": "cursor={cursor} day={date}"}`,
			`{"q": "cursor=a\"b\\c\nd\u0001é day=2026-11-01"}`},
		{"outside strings, quoted", Vars{Cursor: "x\"<y>"}, `{"c": {cursor}}`, `{"c": "x\"<y>"}`},
		{"empty cursor is null outside a string", Vars{}, `{"c": {cursor}, "s": "{cursor}"}`, `{"c": null, "s": ""}`},
		{"JSON braces untouched", Vars{Page: 1}, `{"a": {"b": [{}, {"c": {page}}]}, "s": "{ not a placeholder }"}`,
			`{"a": {"b": [{}, {"c": 1}]}, "s": "{ not a placeholder }"}`},
		{"escaped quote keeps the string open", Vars{Page: 1}, `{"s": "x\"{page}"}`, `{"s": "x\"1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.v.ExpandJSON(tt.in)
			if got != tt.want {
				t.Errorf("ExpandJSON(%s) =\n %s\nwant\n %s", tt.in, got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("not JSON: %s", got)
			}
		})
	}
}

func TestCheckPlaceholder(t *testing.T) {
	page := []string{"cursor", "limit"}
	tests := []struct {
		ph, want string
	}{
		{"{start}", ""},
		{"{end:unix_ms}", ""},
		{"{date:2006}", ""},
		{"{cursor}", ""},
		{"{limit}", ""},
		{"{start:}", `unknown format "" in "{start:}"`},
		{"{start:yyyy-mm-dd}", `unknown format "yyyy-mm-dd" in "{start:yyyy-mm-dd}" (want unix, unix_ms, rfc3339, date or a Go time layout such as 2006-01-02)`},
		{"{page}", `placeholder "{page}" is not available here (want {start}, {end} or {date}, each with an optional format such as {start:unix}, or {cursor}, {limit})`},
		{"{cursor:raw}", `placeholder "{cursor:raw}" takes no format (write {cursor})`},
		{"{Date}", `unknown placeholder "{Date}"`},
	}
	for _, tt := range tests {
		got := checkPlaceholder(tt.ph, page)
		if tt.want == "" && got != "" || len(got) < len(tt.want) || got[:len(tt.want)] != tt.want {
			t.Errorf("checkPlaceholder(%s) = %q, want %q", tt.ph, got, tt.want)
		}
	}
}

func TestCheckJSONPath(t *testing.T) {
	valid := []string{
		"data", "data.items", "meta.next_cursor", "a\\.b", "items.0", "items.#", "data.#.id",
		`data.#(type=="event")#`, `friends.#(last=="Murphy").first`, `#(nets.#(=="fb"))#.first`,
		"@this", "@reverse", "data|@reverse", `@join:{"preserve":true}`, "{a,b.c}", "[a,b]",
		`data.#(name%"D*")`, "a|b", "children.@reverse.0",
	}
	for _, p := range valid {
		if err := checkJSONPath(p); err != nil {
			t.Errorf("checkJSONPath(%q) = %v, want nil", p, err)
		}
	}
	invalid := map[string]string{
		"":               "empty path",
		".data":          "empty component at position 1",
		"data.":          "empty component at position 5",
		"a..b":           "empty component at position 3",
		"a||b":           "empty component at position 3",
		"a\\":            `dangling "\" at the end`,
		"data.#(id>1":    "unbalanced '('",
		"data.#(id>1))":  "unbalanced ')' at position 13",
		"[a,b":           "unbalanced '['",
		"{a,b]":          "unbalanced ']' at position 5",
		`#(a=="x)`:       "unterminated string",
		"@revers":        `unknown modifier "@revers"`,
		"data|@nope:arg": `unknown modifier "@nope"`,
	}
	for p, want := range invalid {
		if err := checkJSONPath(p); err == nil || err.Error() != want {
			t.Errorf("checkJSONPath(%q) = %v, want %q", p, err, want)
		}
	}
}

func TestSecretParse(t *testing.T) {
	tests := []struct {
		s                 Secret
		scheme, name, key string
		err               string
	}{
		{s: "env:API_KEY", scheme: "env", name: "API_KEY"},
		{s: "env:_x1", scheme: "env", name: "_x1"},
		{s: "secretsmanager:prod/api", scheme: "secretsmanager", name: "prod/api"},
		{s: "secretsmanager:prod/api#token", scheme: "secretsmanager", name: "prod/api", key: "token"},
		{s: "secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/api-AbCdEf#k", scheme: "secretsmanager",
			name: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/api-AbCdEf", key: "k"},
		{s: "ssm:/sluice/prod/token", scheme: "ssm", name: "/sluice/prod/token"},
		{s: "", err: "empty secret reference"},
		{s: "hunter2", err: "must be a secret reference (env:, secretsmanager:, ssm:), not a value"},
		{s: "Bearer: abc", err: "must be a secret reference"},
		{s: "vault:secret/x", err: "must be a secret reference"},
		{s: "env:", err: "env: wants an environment variable name"},
		{s: "env:1X", err: "env: wants an environment variable name"},
		{s: "env:A-B", err: "env: wants an environment variable name"},
		{s: "secretsmanager:", err: "secretsmanager: wants a secret name"},
		{s: "secretsmanager:a b", err: "secretsmanager: wants a secret name"},
		{s: "secretsmanager:x#", err: `secretsmanager: empty key after "#"`},
		{s: "ssm:name", err: `ssm: wants a parameter name starting with "/"`},
		{s: "ssm:/a b", err: `ssm: wants a parameter name starting with "/"`},
	}
	for _, tt := range tests {
		scheme, name, key, err := tt.s.Parse()
		switch {
		case tt.err != "":
			if err == nil || len(err.Error()) < len(tt.err) || err.Error()[:len(tt.err)] != tt.err {
				t.Errorf("Parse(%q) = %v, want %q", tt.s, err, tt.err)
			}
		case err != nil || scheme != tt.scheme || name != tt.name || key != tt.key:
			t.Errorf("Parse(%q) = %q, %q, %q, %v; want %q, %q, %q", tt.s, scheme, name, key, err, tt.scheme, tt.name, tt.key)
		}
	}
}

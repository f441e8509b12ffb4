package pipeline

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Every field of a source changes its fingerprint, except those its doc
// names as changing only how fast or when a walk goes.
func TestFingerprintCoversWhatAWalkReturns(t *testing.T) {
	c, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := c.Sources[0]
	base.Auth = Auth{Type: OAuth2ClientCredentials, TokenURL: "https://auth.example.com/token",
		ClientID: "env:ID", ClientSecret: "env:SECRET", Scopes: []string{"read"}}
	excluded := map[string]bool{
		"Name": true, "Request.Timeout": true, "Pagination.MaxPages": true, "Pagination.Concurrency": true,
		"Partition.Lag": true, "Partition.Lookback": true, "Partition.Start": true,
		"RateLimit.RequestsPerSecond": true, "RateLimit.Burst": true,
		"Retry.MaxAttempts": true, "Retry.BaseDelay": true, "Retry.MaxDelay": true,
		"Retry.MaxRetryAfter": true, "Retry.MaxWait": true,
		"Output.Format": true, "Output.FileSize": true, "Output.Compression": true, "Output.Columns": true,
		"Output.RecordColumn": true,
	}
	want := base.Fingerprint()
	if len(want) != 64 || strings.Trim(want, "0123456789abcdef") != "" {
		t.Fatalf("fingerprint %q, want 64 hex digits", want)
	}
	seen := 0
	for path, change := range leaves(reflect.TypeOf(base), "") {
		seen++
		s := base // changeLeaf replaces maps and slices, never writes into them
		change(reflect.ValueOf(&s).Elem())
		got := s.Fingerprint()
		switch {
		case excluded[path] && got != want:
			t.Errorf("changing %s changed the fingerprint; it changes only how fast or when a walk goes", path)
		case !excluded[path] && got == want:
			t.Errorf("changing %s kept the fingerprint; a continuation would mix two configs", path)
		}
		if base.Fingerprint() != want {
			t.Fatalf("changing %s of a copy changed the original", path)
		}
	}
	if seen < 30 {
		t.Fatalf("only %d fields changed; the walk over Source is broken", seen)
	}
}

// The fingerprint is of the config as parsed: defaults written out or
// left out, and the order of map keys, do not change it.
func TestFingerprintIsOfTheParsedConfig(t *testing.T) {
	const head = "version: 1\nsources:\n  - name: orders\n    request:\n      base_url: https://api.example.com\n      path: /v1/orders\n"
	const tail = "    pagination: {type: page_number, page_size: 100, size_param: per_page}\n    records: {path: data}\n    partition: {every: day}\n"
	parse := func(y string) string {
		t.Helper()
		c, err := Parse("pipeline.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return c.Sources[0].Fingerprint()
	}
	implicit := parse(head + "      query: {day: \"{date}\", shop: \"7\"}\n" + tail)
	explicit := parse(head + "      method: GET\n      query: {shop: \"7\", day: \"{date}\"}\n" + tail)
	if implicit != explicit {
		t.Fatalf("the same config written two ways: %s and %s", implicit, explicit)
	}
	if bigger := parse(head + "      query: {day: \"{date}\", shop: \"7\"}\n" + strings.Replace(tail, "page_size: 100", "page_size: 200", 1)); bigger == implicit {
		t.Fatal("page_size 100 and 200 have one fingerprint")
	}
}

// leaves returns, by field path, a change of each leaf field of a value
// of type t (a struct).
func leaves(t reflect.Type, prefix string) map[string]func(reflect.Value) {
	out := map[string]func(reflect.Value){}
	for i := range t.NumField() {
		f := t.Field(i)
		path := prefix + f.Name
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]() {
			for p, change := range leaves(f.Type, path+".") {
				out[p] = func(v reflect.Value) { change(v.Field(i)) }
			}
			continue
		}
		out[path] = func(v reflect.Value) { changeLeaf(v.Field(i)) }
	}
	return out
}

func changeLeaf(v reflect.Value) {
	if t, ok := v.Interface().(time.Time); ok {
		v.Set(reflect.ValueOf(t.Add(24 * time.Hour)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Float64:
		v.SetFloat(v.Float() + 1)
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for _, k := range v.MapKeys() {
			m.SetMapIndex(k, v.MapIndex(k))
		}
		m.SetMapIndex(reflect.ValueOf("x-added"), reflect.ValueOf("x"))
		v.Set(m)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), v.Len(), v.Len()+1)
		reflect.Copy(s, v)
		v.Set(reflect.Append(s, reflect.Zero(v.Type().Elem())))
	default:
		panic("changeLeaf: no change for a " + v.Kind().String())
	}
}

// Fingerprints are pinned to their values from before
// pagination.concurrency existed (commit 2cd6f8c^): a field left out of
// the fingerprint must not show up in its hashed JSON, even as its zero
// value, or every source's fingerprint changes at the deploy that adds it
// and every fetch mid-hand-over or mid-stop restarts.
func TestFingerprintIsPinned(t *testing.T) {
	const sources = `version: 1
sources:
  - name: orders
    request:
      base_url: https://api.example.com
      path: /v1/orders
      query: {day: "{date}"}
      headers: {Accept: application/json}
    pagination: {type: page_number, size_param: per_page, page_size: 100, total_pages_path: total_pages%s}
    records: {path: data}
    partition: {every: day}
  - name: ledger
    request:
      base_url: https://api.example.com
      path: /v1/ledger
    pagination: {type: offset, page_size: 200, total_path: meta.total}
    records: {path: items}
    partition: {every: hour}
  - name: events
    request:
      base_url: https://api.example.com
      path: /v1/events
      query: {from: "{start}", to: "{end}"}
    pagination: {type: cursor, cursor_param: cursor, cursor_path: meta.next}
    records: {path: items}
    partition: {every: hour}
`
	want := map[string]string{
		"orders": "9a30ff027fb60bddfad1a1e72306026ec524568fae5cb02b5a8488d6a0d489b4",
		"ledger": "4be512efd967305a9f212d5bc15df660e33f99803fb11c538f93c073eec21bf1",
		"events": "4778aedeeb81b9f0655a537b504e5226ef5581bfaa276b1d85631929006accdb",
	}
	for _, tc := range []struct{ name, concurrency string }{
		{"default concurrency", ""},
		{"concurrency written out", ", concurrency: 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("pipeline.yaml", []byte(fmt.Sprintf(sources, tc.concurrency)))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range c.Sources {
				if got := s.Fingerprint(); got != want[s.Name] {
					t.Errorf("%s: fingerprint %s, want %s (its value before pagination.concurrency)", s.Name, got, want[s.Name])
				}
			}
		})
	}
}

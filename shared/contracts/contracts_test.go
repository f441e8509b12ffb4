package contracts

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluice-data/sluice/shared/fault"
)

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeGolden(t *testing.T) {
	in, err := DecodeInput(golden(t, "input.json"))
	if err != nil || in.Key() != "orders/2026-11-01" || in.Trigger != TriggerManual {
		t.Fatalf("input = %+v, %v", in, err)
	}
	f, err := DecodeFetch(golden(t, "fetch.json"))
	if err != nil || f.Attempt != 2 || f.RunID != "r-1" || f.Key() != "orders/2026-11-01" {
		t.Fatalf("fetch = %+v, %v", f, err)
	}
	tr, err := DecodeTrigger(golden(t, "trigger.json"))
	if err != nil || len(tr.Sources) != 2 || tr.To.Sub(tr.From).Hours() != 72 {
		t.Fatalf("trigger = %+v, %v", tr, err)
	}
}

func TestDecodeInputRejects(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"not json", `{"v":1,`, "not valid JSON"},
		{"no version", `{"kind":"input","source":"a","window":"2026-11-01","trigger":"manual"}`, `no version field`},
		{"unknown version", `{"v":2,"kind":"input","source":"a","window":"2026-11-01","trigger":"manual"}`, "unsupported message version 2"},
		{"version as string", `{"v":"1","kind":"input"}`, "unsupported message version"},
		{"wrong kind", `{"v":1,"kind":"fetch","source":"a","window":"2026-11-01","trigger":"manual"}`, `message kind is "fetch"`},
		{"missing source", `{"v":1,"kind":"input","window":"2026-11-01","trigger":"manual"}`, `missing field "source"`},
		{"bad window", `{"v":1,"kind":"input","source":"a","window":"yesterday","trigger":"manual"}`, "window: \"yesterday\""},
		{"bad trigger", `{"v":1,"kind":"input","source":"a","window":"2026-11-01","trigger":"cron"}`, "trigger: \"cron\""},
		{"injected url", `{"v":1,"kind":"input","source":"a","window":"2026-11-01","trigger":"manual","url":"http://evil"}`, `unknown field "url"`},
		{"key in another case", `{"v":1,"kind":"input","SOURCE":"a","window":"2026-11-01","trigger":"manual"}`, `unknown field "SOURCE"`},
		{"duplicate key", `{"v":1,"kind":"input","source":"a","source":"b","window":"2026-11-01","trigger":"manual"}`, `duplicate field "source"`},
		{"huge value is cut in the error", `{"v":1,"kind":"input","source":"` + strings.Repeat("x", 100000) + `","window":"2026-11-01","trigger":"manual"}`, "…(100000 bytes)"},
		{"injected header", `{"v":1,"kind":"input","source":"a","window":"2026-11-01","trigger":"manual","headers":{"X":"y"}}`, `unknown field "headers"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeInput([]byte(tt.body))
			if err == nil {
				t.Fatal("want error")
			}
			if !fault.IsPermanent(err) {
				t.Fatalf("error is not permanent: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestDecodeDoneNeedsEveryCount(t *testing.T) {
	base := `"v":1,"kind":"done","source":"a","window":"2026-11-01","run_id":"r","attempt":1`
	for _, missing := range []string{"batches", "records", "bytes"} {
		body := "{" + base
		for _, k := range []string{"batches", "records", "bytes"} {
			if k != missing {
				body += `,"` + k + `":3`
			}
		}
		body += "}"
		_, err := DecodeDone([]byte(body))
		if !fault.IsPermanent(err) || !strings.Contains(err.Error(), `missing field "`+missing+`"`) {
			t.Errorf("done without %s: %v", missing, err)
		}
	}
	if _, err := DecodeDone([]byte("{" + base + `,"batches":0,"records":0,"bytes":0}`)); err != nil {
		t.Fatalf("an explicit zero total is valid: %v", err)
	}
}

func TestDecodeTriggerRejects(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"from without to", `{"v":1,"kind":"trigger","from":"2026-11-01T00:00:00Z","trigger":"manual"}`, "from and to go together"},
		{"from after to", `{"v":1,"kind":"trigger","from":"2026-11-02T00:00:00Z","to":"2026-11-01T00:00:00Z","trigger":"manual"}`, "is not before"},
		{"bad source", `{"v":1,"kind":"trigger","sources":["Orders!"],"trigger":"manual"}`, "invalid source name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeTrigger([]byte(tt.body))
			if err == nil || !fault.IsPermanent(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want permanent %q", err, tt.want)
			}
		})
	}
}

func TestPackerRoundTrip(t *testing.T) {
	run := Run{Source: "orders", Window: "2026-11-01", RunID: "r\"1", Attempt: 3}
	// Varied records, including bytes SQS refuses in a message body
	// (U+FFFE, raw supplementary characters), which base64 carries safely.
	recs := [][]byte{
		[]byte(`{"id":1,"big":12345678901234567890.123}`),
		[]byte(`{"id":2,"s":"é\u00e9 \ufffe 🚀"}`),
		[]byte(`[1,2,3]`),
		[]byte(`"plain"`),
		[]byte("{\"x\":\"\uffff\"}"),
	}
	limit := 256 << 10
	p := NewPacker(run, limit)
	var bodies [][]byte
	flush := func() {
		body, err := p.Flush()
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	const n = 20000
	all := make([][]byte, n)
	for i := range all {
		all[i] = fmt.Appendf(nil, `{"i":%d,"h":"%x","r":%s}`, i, sha256.Sum256([]byte{byte(i), byte(i >> 8)}), recs[i%len(recs)])
	}
	for i := 0; i < n; i++ {
		rec := all[i]
		if !p.Fits(rec) {
			flush()
		}
		if err := p.Add(rec); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	if body, err := p.Flush(); body != nil || err != nil {
		t.Fatal("empty flush must return nil")
	}
	if len(bodies) < 2 || p.Batches() != len(bodies) {
		t.Fatalf("want several batches, got %d (Batches()=%d)", len(bodies), p.Batches())
	}
	total := 0
	for i, body := range bodies {
		if len(body) > limit {
			t.Fatalf("batch %d is %d bytes, limit %d", i, len(body), limit)
		}
		if !utf8.Valid(body) || strings.ContainsAny(string(body), "\ufffe\uffff🚀") {
			t.Fatalf("batch %d body carries characters SQS refuses", i)
		}
		b, err := DecodeBatch(body)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if b.Seq != i || b.Run != run {
			t.Fatalf("batch %d header = %+v", i, b.Run)
		}
		if err := b.Verify(); err != nil {
			t.Fatal(err)
		}
		lines, err := b.Lines()
		if err != nil {
			t.Fatal(err)
		}
		for j, r := range lines {
			if want := all[total+j]; string(r) != string(want) {
				t.Fatalf("record changed: %s != %s", r, want)
			}
		}
		total += len(lines)
	}
	if total != n {
		t.Fatalf("packed %d records, want %d", total, n)
	}
}

func TestPackerBadlyCompressibleRecordsStayUnderLimit(t *testing.T) {
	limit := 128 << 10
	p := NewPacker(Run{Source: "a", Window: "2026-11-01", RunID: "r", Attempt: 1}, limit)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		rec := make([]byte, 3000+rnd.IntN(20000))
		for j := range rec {
			rec[j] = 'a' + byte(rnd.IntN(26)) // ~4.7 bits of entropy a byte
		}
		rec[0], rec[len(rec)-1] = '"', '"'
		if !p.Fits(rec) {
			body, err := p.Flush()
			if err != nil {
				t.Fatal(err)
			}
			if len(body) > limit {
				t.Fatalf("body of %d bytes over the %d limit", len(body), limit)
			}
		}
		if err := p.Add(rec); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPackerRejectsOversizeRecord(t *testing.T) {
	p := NewPacker(Run{Source: "a", Window: "2026-11-01", RunID: "r", Attempt: 1}, 1<<20)
	if p.Fits(make([]byte, p.MaxRecord()+1)) {
		t.Fatal("a record over MaxRecord must not fit")
	}
	if !p.Fits(make([]byte, p.MaxRecord())) {
		t.Fatal("a record of MaxRecord bytes must fit an empty batch")
	}
	if p.MaxRecord() < 600<<10 {
		t.Fatalf("MaxRecord %d: a 1 MiB message should carry records of 600 KiB", p.MaxRecord())
	}
}

func TestVerifyRefusesCorruptBatches(t *testing.T) {
	p := NewPacker(Run{Source: "a", Window: "2026-11-01", RunID: "r", Attempt: 1}, 1<<20)
	for _, r := range []string{`{"a":1}`, `{"a":2}`} {
		if err := p.Add([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	body, _ := p.Flush()
	good, err := DecodeBatch(body)
	if err != nil || good.Verify() != nil {
		t.Fatalf("good batch: %v / %v", err, good.Verify())
	}
	tests := []struct {
		name   string
		mutate func(b *Batch)
	}{
		{"count off", func(b *Batch) { b.Count = 3 }},
		{"raw bytes off", func(b *Batch) { b.RawBytes++ }},
		{"truncated payload", func(b *Batch) { b.Data = b.Data[:len(b.Data)-9] }},
		{"not gzip", func(b *Batch) { b.Data = []byte("plain text") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := good
			b.Data = bytes.Clone(good.Data)
			tt.mutate(&b)
			if err := b.Verify(); !errors.Is(err, ErrCorruptBatch) {
				t.Fatalf("Verify = %v, want ErrCorruptBatch", err)
			}
		})
	}
}

func TestDecodeBatchRejects(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"unknown encoding", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r","attempt":1,"seq":0,"count":1,"raw_bytes":4,"encoding":"zstd","data":"AAAA"}`, `encoding: "zstd"`},
		{"data not base64", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r","attempt":1,"seq":0,"count":1,"raw_bytes":4,"encoding":"gzip-jsonl","data":"!!"}`, "illegal base64"},
		{"no attempt", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r","seq":0,"count":1,"raw_bytes":4,"encoding":"gzip-jsonl","data":"AAAA"}`, `missing field "attempt"`},
		{"no run id", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","attempt":1,"seq":0,"count":1,"raw_bytes":4,"encoding":"gzip-jsonl","data":"AAAA"}`, `missing field "run_id"`},
		{"zero count", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r","attempt":1,"seq":0,"count":0,"raw_bytes":4,"encoding":"gzip-jsonl","data":"AAAA"}`, "count 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeBatch([]byte(tt.body))
			if err == nil || !fault.IsPermanent(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want permanent %q", err, tt.want)
			}
		})
	}
}

func FuzzDecodeInput(f *testing.F) {
	f.Add([]byte(`{"v":1,"kind":"input","source":"orders","window":"2026-11-01","trigger":"manual"}`))
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := DecodeInput(body)
		if err != nil && !fault.IsPermanent(err) {
			t.Fatalf("decode error not permanent: %v", err)
		}
		if err == nil && (in.Source == "" || in.Window == "") {
			t.Fatalf("accepted an input without source or window: %q", body)
		}
	})
}

func TestFetchHop(t *testing.T) {
	run := Run{Source: "orders", Window: "2026-11-01", RunID: "r-1", Attempt: 3}
	tests := []struct {
		name    string
		body    string
		wantHop int
		wantErr string
	}{
		{"first invocation has no hop", `{"v":1,"kind":"fetch","source":"orders","window":"2026-11-01","run_id":"r-1","attempt":3,"trigger":"manual"}`, 0, ""},
		{"continuation", `{"v":1,"kind":"fetch","source":"orders","window":"2026-11-01","run_id":"r-1","attempt":3,"trigger":"manual","hop":2}`, 2, ""},
		{"negative hop", `{"v":1,"kind":"fetch","source":"orders","window":"2026-11-01","run_id":"r-1","attempt":3,"trigger":"manual","hop":-1}`, 0, "hop"},
		{"page state is never taken from a message", `{"v":1,"kind":"fetch","source":"orders","window":"2026-11-01","run_id":"r-1","attempt":3,"trigger":"manual","hop":1,"next_url":"http://evil.test/"}`, 0, "next_url"},
	}
	for _, tt := range tests {
		f, err := DecodeFetch([]byte(tt.body))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !fault.IsPermanent(err) {
				t.Errorf("%s: err = %v, want a permanent error about %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || f.Hop != tt.wantHop || f.Run != run {
			t.Errorf("%s: %+v, %v", tt.name, f, err)
		}
	}
	b, err := json.Marshal(NewContinuation(run, "manual", 4))
	if err != nil {
		t.Fatal(err)
	}
	if f, err := DecodeFetch(b); err != nil || f.Hop != 4 {
		t.Fatalf("round trip = %+v, %v", f, err)
	}
}

// The key table checkKeys uses is read from the struct tags; this is what
// it must read: the message formats as they are on the wire.
func TestFields(t *testing.T) {
	want := map[string][2][]string{
		KindTrigger: {{"v", "kind", "trigger"}, {"sources", "from", "to", "at", "force"}},
		KindInput:   {{"v", "kind", "source", "window", "trigger"}, {"force", "force_id"}},
		KindFetch:   {{"v", "kind", "source", "window", "run_id", "attempt", "trigger"}, {"hop"}},
		KindBatch:   {{"v", "kind", "source", "window", "run_id", "attempt", "seq", "count", "raw_bytes", "encoding", "data"}, nil},
		KindDone:    {{"v", "kind", "source", "window", "run_id", "attempt", "batches", "records", "bytes"}, nil},
	}
	if !reflect.DeepEqual(fields, want) {
		t.Fatalf("fields = %v\nwant     %v", fields, want)
	}
}

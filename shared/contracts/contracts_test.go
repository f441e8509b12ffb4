package contracts

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

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

func TestDecodeBatchRejects(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"unknown encoding", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r","attempt":1,"seq":0,"count":1,"raw_bytes":4,"encoding":"zstd","data":"AAAA"}`, `encoding: "zstd"`},
		{"data not base64", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r","attempt":1,"seq":0,"count":1,"raw_bytes":4,"encoding":"gzip-jsonl","data":"!!"}`, "illegal base64"},
		{"no attempt", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r","seq":0,"count":1,"raw_bytes":4,"encoding":"gzip-jsonl","data":"AAAA"}`, `missing field "attempt"`},
		{"no run id", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","attempt":1,"seq":0,"count":1,"raw_bytes":4,"encoding":"gzip-jsonl","data":"AAAA"}`, `missing field "run_id"`},
		{"zero count", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r","attempt":1,"seq":0,"count":0,"raw_bytes":4,"encoding":"gzip-jsonl","data":"AAAA"}`, "count 0"},
		{"crc32c null", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r","attempt":1,"seq":0,"count":1,"raw_bytes":4,"crc32c":null,"encoding":"gzip-jsonl","data":"AAAA"}`, "crc32c: null"},
		{"crc32c negative", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r","attempt":1,"seq":0,"count":1,"raw_bytes":4,"crc32c":-1,"encoding":"gzip-jsonl","data":"AAAA"}`, "uint32"},
		{"crc32c above 32 bits", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r","attempt":1,"seq":0,"count":1,"raw_bytes":4,"crc32c":4294967296,"encoding":"gzip-jsonl","data":"AAAA"}`, "uint32"},
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
		KindInput:   {{"v", "kind", "source", "window", "trigger"}, {"force", "force_id", "takeup"}},
		KindFetch:   {{"v", "kind", "source", "window", "run_id", "attempt", "trigger"}, {"hop"}},
		KindBatch:   {{"v", "kind", "source", "window", "run_id", "attempt", "seq", "count", "raw_bytes", "encoding", "data"}, {"crc32c"}},
		KindDone:    {{"v", "kind", "source", "window", "run_id", "attempt", "batches", "records", "bytes"}, nil},
	}
	if !reflect.DeepEqual(fields, want) {
		t.Fatalf("fields = %v\nwant     %v", fields, want)
	}
}

// testdata/batch.json is a batch body as the fetcher's packer (package
// pack) writes it: the Batch struct alone must decode it and encode it
// again to the same bytes, since that struct is the one definition of the
// format.
func TestBatchGolden(t *testing.T) {
	want := golden(t, "batch.json")
	b, err := DecodeBatch(want)
	if err != nil {
		t.Fatal(err)
	}
	run := Run{Source: "orders", Window: "2026-11-01T13", RunID: "r\"<&>\u2028é", Attempt: 3}
	if b.Run != run || b.Seq != 7 || b.Count != 4 || b.RawBytes != 92 || b.Encoding != EncodingGzipJSONL || len(b.Data) == 0 {
		t.Fatalf("decoded header = %+v", b)
	}
	again, err := json.Marshal(NewBatch(b.Run, b.Seq, b.Count, b.RawBytes, b.Data))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, want) {
		t.Fatalf("re-encoded batch differs from testdata/batch.json:\n got %s\nwant %s", again, want)
	}
}

// testdata/batch-crc32c-field.json is the same batch with the crc32c body
// field that fetchers sent for a while: it still decodes, the field read
// (and checked) but otherwise unused, since the checksum moved into the
// payload (package pack).
func TestBatchGoldenCRC32CField(t *testing.T) {
	b, err := DecodeBatch(golden(t, "batch-crc32c-field.json"))
	if err != nil {
		t.Fatal(err)
	}
	without, err := DecodeBatch(golden(t, "batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	if b.CRC32C == nil || without.CRC32C != nil {
		t.Fatalf("crc32c decoded as %v (with the field) and %v (without)", b.CRC32C, without.CRC32C)
	}
	b.CRC32C = nil
	if !reflect.DeepEqual(b, without) {
		t.Fatalf("decoded %+v, want %+v", b, without)
	}
}

func TestRunOf(t *testing.T) {
	run := Run{Source: "orders", Window: "2026-11-01", RunID: "r-1", Attempt: 2}
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"a batch with a field this version does not know", `{"v":1,"kind":"batch","newer":1,"source":"orders","window":"2026-11-01","run_id":"r-1","attempt":2,"seq":"x"}`, true},
		{"no run id", `{"v":1,"kind":"batch","source":"orders","window":"2026-11-01","attempt":2}`, false},
		{"attempt 0", `{"source":"orders","window":"2026-11-01","run_id":"r-1","attempt":0}`, false},
		{"a window that is no window", `{"source":"orders","window":"yesterday","run_id":"r-1","attempt":2}`, false},
		{"not JSON", `{"source":"orders",`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := RunOf([]byte(tt.body))
			if ok != tt.ok || ok && got != run {
				t.Fatalf("RunOf = %+v, %v; want %+v, %v", got, ok, run, tt.ok)
			}
		})
	}
}

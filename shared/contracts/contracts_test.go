package contracts

import (
	"encoding/json"
	"os"
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
		{"missing source", `{"v":1,"kind":"input","window":"2026-11-01","trigger":"manual"}`, "source: \"\" is not a source name"},
		{"bad window", `{"v":1,"kind":"input","source":"a","window":"yesterday","trigger":"manual"}`, "window: \"yesterday\""},
		{"bad trigger", `{"v":1,"kind":"input","source":"a","window":"2026-11-01","trigger":"cron"}`, "trigger: \"cron\""},
		{"injected url", `{"v":1,"kind":"input","source":"a","window":"2026-11-01","trigger":"manual","url":"http://evil"}`, `unknown field "url"`},
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
	recs := [][]byte{
		[]byte(`{"id":1,"big":12345678901234567890.123}`),
		[]byte(`{"id":2,"s":"é\u00e9"}`),
		[]byte(`[1,2,3]`),
		[]byte(`"plain"`),
	}
	const limit = 600
	p := NewPacker(run, limit)
	var bodies [][]byte
	for i := 0; i < 40; i++ {
		rec := recs[i%len(recs)]
		if !p.Fits(rec) {
			bodies = append(bodies, p.Flush())
		}
		p.Add(rec)
	}
	bodies = append(bodies, p.Flush())
	if p.Flush() != nil {
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
		b, err := DecodeBatch(body)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if b.Seq != i || b.Run != run {
			t.Fatalf("batch %d header = %+v", i, b)
		}
		var raws []json.RawMessage
		if err := json.Unmarshal(b.Records, &raws); err != nil {
			t.Fatal(err)
		}
		if len(raws) != b.Count {
			t.Fatalf("count %d, records %d", b.Count, len(raws))
		}
		for j, r := range raws {
			if want := recs[(total+j)%len(recs)]; string(r) != string(want) {
				t.Fatalf("record changed: %s != %s", r, want)
			}
		}
		total += len(raws)
	}
	if total != 40 {
		t.Fatalf("packed %d records, want 40", total)
	}
}

func TestPackerRejectsOversizeRecord(t *testing.T) {
	p := NewPacker(Run{Source: "a", Window: "2026-11-01", RunID: "r", Attempt: 1}, 1024)
	if p.Fits(make([]byte, 1024)) {
		t.Fatal("a record larger than a message must not fit")
	}
	if !p.Fits(make([]byte, p.MaxRecord())) {
		t.Fatal("a record of MaxRecord bytes must fit an empty batch")
	}
}

func TestDecodeBatchRejects(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"records not array", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r","attempt":1,"seq":0,"count":1,"records":{}}`, "not a JSON array"},
		{"no attempt", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r","seq":0,"count":1,"records":[1]}`, "attempt: 0"},
		{"no run id", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","attempt":1,"seq":0,"count":1,"records":[1]}`, "run_id: missing"},
		{"zero count", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r","attempt":1,"seq":0,"count":0,"records":[1]}`, "count: 0"},
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

package contracts

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/shared/fault"
)

// general decodes body the way DecodeBatch did before the scan.
func general(body []byte) (Batch, error) {
	var b Batch
	err := decode(body, KindBatch, &b)
	return b, err
}

const okBatch = `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r","attempt":1,"seq":0,"count":1,"raw_bytes":4,"encoding":"gzip-jsonl","data":"AAAA"}`

// TestScanBatch: the scan takes the fetcher's shape and leaves every other
// body to the general way; what it takes, it reads as the general way does.
func TestScanBatch(t *testing.T) {
	tests := []struct {
		name string
		body string
		scan bool // taken by the scan
	}{
		{"as the fetcher sends it", okBatch, true},
		{"spaces between tokens", " {\n \"v\" : 1 ,\"kind\":\"batch\",\"source\":\"a\",\"window\":\"2026-11-01\",\"run_id\":\"r\",\"attempt\":1,\"seq\":0,\"count\":1,\"raw_bytes\":4,\"encoding\":\"gzip-jsonl\",\"data\":\"AAAA\"\t}\r\n", true},
		{"with its data's CRC-32C", strings.Replace(okBatch, `"encoding"`, `"crc32c":4294967295,"encoding"`, 1), true},
		{"CRC-32C 0", strings.Replace(okBatch, `"encoding"`, `"crc32c":0,"encoding"`, 1), true},
		{"CRC-32C null", strings.Replace(okBatch, `"encoding"`, `"crc32c":null,"encoding"`, 1), false},
		{"CRC-32C above 32 bits", strings.Replace(okBatch, `"encoding"`, `"crc32c":4294967296,"encoding"`, 1), false},
		{"CRC-32C negative", strings.Replace(okBatch, `"encoding"`, `"crc32c":-1,"encoding"`, 1), false},
		{"CRC-32C a string", strings.Replace(okBatch, `"encoding"`, `"crc32c":"1","encoding"`, 1), false},
		{"CRC-32C twice", strings.Replace(okBatch, `"encoding"`, `"crc32c":1,"crc32c":1,"encoding"`, 1), false},
		{"keys in another order", `{"data":"AAAA","kind":"batch","v":1,"source":"a","window":"2026-11-01","run_id":"r","attempt":1,"seq":0,"count":1,"raw_bytes":4,"encoding":"gzip-jsonl"}`, true},
		{"escapes in a small string", `{"v":1,"kind":"batch","source":"a","window":"2026-11-01","run_id":"r\"\u003c\\","attempt":1,"seq":0,"count":1,"raw_bytes":4,"encoding":"gzip-jsonl","data":"AAAA"}`, true},
		{"escaped slash in data", strings.Replace(okBatch, `"AAAA"`, `"AA\/A"`, 1), false},
		{"newline escape in data", strings.Replace(okBatch, `"AAAA"`, `"AA\nAA"`, 1), false},
		{"raw newline in data", strings.Replace(okBatch, `"AAAA"`, "\"AA\nAA\"", 1), false},
		{"data null", strings.Replace(okBatch, `"AAAA"`, `null`, 1), false},
		{"version 1.0", strings.Replace(okBatch, `"v":1`, `"v":1.0`, 1), false},
		{"version as string", strings.Replace(okBatch, `"v":1`, `"v":"1"`, 1), false},
		{"kind done", strings.Replace(okBatch, `"batch"`, `"done"`, 1), false},
		{"escaped key", strings.Replace(okBatch, `"seq"`, `"s\u0065q"`, 1), false},
		{"key twice", strings.Replace(okBatch, `"seq":0`, `"seq":0,"seq":1`, 1), false},
		{"unknown key", strings.Replace(okBatch, `"seq":0`, `"seq":0,"url":"x"`, 1), false},
		{"missing key", strings.Replace(okBatch, `"seq":0,`, ``, 1), false},
		{"missing comma", strings.Replace(okBatch, `"seq":0,`, `"seq":0 `, 1), false},
		{"trailing comma", strings.Replace(okBatch, `"AAAA"}`, `"AAAA",}`, 1), false},
		{"trailing bytes", okBatch + "x", false},
		{"two objects", okBatch + okBatch, false},
		{"cut short", okBatch[:len(okBatch)-1], false},
		{"seq a fraction", strings.Replace(okBatch, `"seq":0`, `"seq":0.5`, 1), false},
		{"seq an exponent", strings.Replace(okBatch, `"seq":0`, `"seq":1e2`, 1), false},
		{"seq a string", strings.Replace(okBatch, `"seq":0`, `"seq":"0"`, 1), false},
		{"attempt too big", strings.Replace(okBatch, `"attempt":1`, `"attempt":99999999999999999999`, 1), false},
		{"count true", strings.Replace(okBatch, `"count":1`, `"count":true`, 1), false},
		{"source an object", strings.Replace(okBatch, `"source":"a"`, `"source":{"a":1}`, 1), false},
		{"data not base64", strings.Replace(okBatch, `"AAAA"`, `"!!"`, 1), false},
		{"data without padding", strings.Replace(okBatch, `"AAAA"`, `"AAA"`, 1), false},
		{"empty", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := scanBatch([]byte(tt.body))
			if ok != tt.scan {
				t.Fatalf("scan took it: %v, want %v", ok, tt.scan)
			}
			want, err := general([]byte(tt.body))
			if ok && (err != nil || !reflect.DeepEqual(got, want)) {
				t.Fatalf("scan read %+v; the general way %+v, %v", got, want, err)
			}
		})
	}
}

// TestScanBatchKeys: the scan knows the Batch's keys, and which are
// required.
func TestScanBatchKeys(t *testing.T) {
	f := fields[KindBatch]
	if !slices.Equal(f[0], batchKeys[:requiredBatchKeys]) || !slices.Equal(f[1], batchKeys[requiredBatchKeys:]) {
		t.Fatalf("Batch keys %v (optional %v), the scan's %v", f[0], f[1], batchKeys)
	}
}

// FuzzScanBatch: whatever the scan takes, the general way takes and reads
// the same.
func FuzzScanBatch(f *testing.F) {
	f.Add([]byte(okBatch))
	b, _ := json.Marshal(NewBatch(Run{Source: "orders", Window: "2026-11-01T13", RunID: "r\"<&>", Attempt: 3}, 7, 4, 92, []byte("\x1f\x8b payload")))
	f.Add(b)
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := scanBatch(body)
		if !ok {
			return
		}
		want, err := general(body)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("scan read %+v of %q; the general way %+v, %v", got, body, want, err)
		}
	})
}

func TestDecodeBatchOrDone(t *testing.T) {
	done := `{"v":1,"kind":"done","source":"a","window":"2026-11-01","run_id":"r","attempt":1,"batches":2,"records":3,"bytes":9}`
	tests := []struct {
		name, body, kind, err string
	}{
		{"batch, scanned", okBatch, KindBatch, ""},
		{"batch, the general way", strings.Replace(okBatch, `"AAAA"`, `"AA\/A"`, 1), KindBatch, ""},
		{"batch, invalid", strings.Replace(okBatch, `"count":1`, `"count":0`, 1), KindBatch, "count 0"},
		{"done", done, KindDone, ""},
		{"done, invalid", strings.Replace(done, `"batches":2`, `"batches":-2`, 1), KindDone, "must not be negative"},
		{"another kind", `{"v":1,"kind":"fetch","source":"a","window":"2026-11-01","run_id":"r","attempt":1,"trigger":"manual"}`, "", `not "fetch"`},
		{"not JSON", `{"v":1,`, "", "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, b, d, err := DecodeBatchOrDone([]byte(tt.body))
			if tt.err != "" {
				if err == nil || !fault.IsPermanent(err) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want permanent %q", err, tt.err)
				}
				return
			}
			if err != nil || kind != tt.kind {
				t.Fatalf("kind %q, %v; want %q", kind, err, tt.kind)
			}
			if (kind == KindBatch && (b.RunID != "r" || len(b.Data) != 3)) || (kind == KindDone && d.Batches != 2) {
				t.Fatalf("decoded %+v / %+v", b, d)
			}
		})
	}
}

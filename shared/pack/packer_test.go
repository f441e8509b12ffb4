package pack

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluice-data/sluice/shared/contracts"
)

func TestPackerRoundTrip(t *testing.T) {
	run := contracts.Run{Source: "orders", Window: "2026-11-01", RunID: "r\"1", Attempt: 3}
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
	p := New(run, limit)
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
		b, err := contracts.DecodeBatch(body)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if b.Seq != i || b.Run != run {
			t.Fatalf("batch %d header = %+v", i, b.Run)
		}
		if err := Verify(b); err != nil {
			t.Fatal(err)
		}
		// The header counts the payload: Count lines, RawBytes bytes, the
		// last ending in a newline. The writer's Verify, which trusts a
		// payload whose CRC-32C matches, relies on this.
		if err := inflate(b); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		lines, err := Lines(b)
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
	p := New(contracts.Run{Source: "a", Window: "2026-11-01", RunID: "r", Attempt: 1}, limit)
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
	p := New(contracts.Run{Source: "a", Window: "2026-11-01", RunID: "r", Attempt: 1}, 1<<20)
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

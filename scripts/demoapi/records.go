package demoapi

import (
	"fmt"
	"hash/fnv"
	"time"
)

// Records returns the first n records of source for day (2006-01-02), in
// order, exactly as the server serializes them.
func Records(source, day string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range n {
		out[i] = record(source, day, i)
	}
	return out
}

// Each list holds JSON string literals, already encoded, so that what is
// served is exactly what is written here: escapes stay escapes.
var (
	names = []string{
		`"Zoë Ørsted"`, `"Ŝtefan Müller"`, `"李雷"`, `"Ana María Peña"`, `"O'Brien \"Bob\""`,
		`"Ærøskøbing"`, `"Дмитрий"`, `"Nguyễn Thị"`,
	}
	cities = []string{`"Zürich"`, `"São Paulo"`, `"Kraków"`, `"東京"`, `"Reykjavík"`, `"Montréal"`}
	notes  = []string{
		`"An \"Hauptstraße 5\"\nklingeln"`,
		`"配送済み — 🚚 on time"`,
		`"caf\u00e9 stays escaped: \u00e9 \ud83d\ude80"`,
		`"tab\t, slash \/, backslash \\, <b>"`,
		`""`,
		`"plain ascii note with nothing special"`,
	}
	tags = []string{`"new"`, `"repeat"`, `"gift"`, `"express"`, `"b2b"`}
)

// record builds record i of source for day. Fields vary with a hash of
// (source, day, i) so that the data is not repetitive yet reproducible.
func record(source, day string, i int) []byte {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%s/%d", source, day, i)
	x := h.Sum64()
	pick := func(list []string, shift uint) string { return list[(x>>shift)%uint64(len(list))] }

	created := "null"
	if t, err := time.Parse(time.DateOnly, day); err == nil {
		created = `"` + t.Add(time.Duration(x%86400)*time.Second).Format(time.RFC3339) + `"`
	}
	b := make([]byte, 0, 400)
	b = fmt.Appendf(b, `{"id":"%s-%s-%05d","source":"%s","day":"%s","seq":%d,`, source, day, i, source, day, i)
	b = fmt.Appendf(b, `"amount":%d.%02d,`, x%100000/100, x%100)
	// 2^53+1 and up: a float64 decoder would round it.
	b = fmt.Appendf(b, `"ledger_ref":%d,`, uint64(1<<53)+1+x%1_000_000*2)
	// Beyond uint64, and a decimal with more digits than a float64 holds.
	b = fmt.Appendf(b, `"big":98765%015d,"precise":%d.%03d,`, x%1e15, x, i%1000)
	b = fmt.Appendf(b, `"customer":{"id":%d,"name":%s,"city":%s`, x>>20%10000, pick(names, 3), pick(cities, 7))
	if x%5 == 0 {
		b = append(b, `,"vip":true`...)
	}
	b = append(b, `},"tags":[`...)
	for j := range int(x>>11%3) + 1 {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, tags[(x>>(13+uint(j)*3))%uint64(len(tags))]...)
	}
	b = append(b, `],`...)
	if x%7 == 0 {
		b = append(b, `"coupon":null,`...)
	}
	b = fmt.Appendf(b, `"note":%s,"created_at":%s}`, pick(notes, 17), created)
	return b
}

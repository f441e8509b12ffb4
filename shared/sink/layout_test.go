package sink_test

import (
	"testing"

	"github.com/sluice-data/sluice/shared/sink"
)

func TestKeys(t *testing.T) {
	tests := []struct {
		prefix, source, hive   string
		attempt, seq           int
		part, success, pointer string
	}{
		{"", "orders", "dt=2026-11-01", 1, 0,
			"data/source=orders/dt=2026-11-01/attempt=1/part-000000.jsonl.gz", "data/source=orders/dt=2026-11-01/attempt=1/_SUCCESS",
			"current/source=orders/dt=2026-11-01/symlink.txt"},
		{"raw", "orders", "dt=2026-11-01/hr=13", 12, 12,
			"raw/data/source=orders/dt=2026-11-01/hr=13/attempt=12/part-000012.jsonl.gz", "raw/data/source=orders/dt=2026-11-01/hr=13/attempt=12/_SUCCESS",
			"raw/current/source=orders/dt=2026-11-01/hr=13/symlink.txt"},
		{"raw/", "a", "dt=2026-11-01", 3, 123456,
			"raw/data/source=a/dt=2026-11-01/attempt=3/part-123456.jsonl.gz", "raw/data/source=a/dt=2026-11-01/attempt=3/_SUCCESS",
			"raw/current/source=a/dt=2026-11-01/symlink.txt"},
	}
	for _, tt := range tests {
		l := sink.NewLayout(tt.prefix)
		p := sink.Partition{Source: tt.source, Hive: tt.hive}
		if got := l.PartKey(p, tt.attempt, tt.seq); got != tt.part {
			t.Errorf("PartKey = %q, want %q", got, tt.part)
		}
		if got := l.SuccessKey(p, tt.attempt); got != tt.success {
			t.Errorf("SuccessKey = %q, want %q", got, tt.success)
		}
		if got := l.PointerKey(p); got != tt.pointer {
			t.Errorf("PointerKey = %q, want %q", got, tt.pointer)
		}
		if s := sink.New(nil, "b", tt.prefix); s.Layout != l {
			t.Errorf("sink.New(%q) lays out as %+v, NewLayout as %+v", tt.prefix, s.Layout, l)
		}
		if seq, ok := sink.PartSeq(tt.part); !ok || seq != tt.seq {
			t.Errorf("PartSeq(%q) = %d, %v", tt.part, seq, ok)
		}
	}
	for _, bad := range []string{"x/part-.jsonl.gz", "x/part-1.json", "x/_SUCCESS", "x/part--1.jsonl.gz"} {
		if _, ok := sink.PartSeq(bad); ok {
			t.Errorf("PartSeq(%q) accepted", bad)
		}
	}
}

func TestBlockKeys(t *testing.T) {
	l := sink.NewLayout("raw")
	p := sink.Partition{Source: "orders", Hive: "dt=2026-11-01"}
	key := l.BlockKey(p, 2, 4, 7)
	if want := "raw/data/source=orders/dt=2026-11-01/attempt=2/part-000004-000007.jsonl.gz"; key != want {
		t.Fatalf("BlockKey = %q, want %q", key, want)
	}
	tests := []struct {
		key         string
		first, last int
		ok, single  bool
	}{
		{key: key, first: 4, last: 7, ok: true},
		{key: l.PartKey(p, 2, 5), first: 5, last: 5, ok: true, single: true},
		{key: "x/part-000004-000004.jsonl.gz"}, // a block of one is a single part's
		{key: "x/part-000007-000004.jsonl.gz"},
		{key: "x/part-4-7.jsonl.gz"},
		{key: "x/part-000004-.jsonl.gz"},
		{key: "x/part--000004.jsonl.gz"},
		{key: "x/part-000004-000007-000009.jsonl.gz"},
		{key: "x/data-000004-000007.jsonl.gz"},
	}
	for _, tt := range tests {
		first, last, ok := sink.PartRange(tt.key)
		if ok != tt.ok || ok && (first != tt.first || last != tt.last) {
			t.Errorf("PartRange(%q) = %d, %d, %v; want %d, %d, %v", tt.key, first, last, ok, tt.first, tt.last, tt.ok)
		}
		if _, single := sink.PartSeq(tt.key); single != tt.single {
			t.Errorf("PartSeq(%q) single = %v, want %v", tt.key, single, tt.single)
		}
	}
}

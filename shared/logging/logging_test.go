package logging

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestScopeFieldsReachEveryLine(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	ctx, scope := WithScope(context.Background(), zap.New(core), zap.String(FieldMessageID, "m-1"))

	From(ctx).Info("before annotate")
	Annotate(ctx, zap.String(FieldRunID, "r-1"), zap.String(FieldInput, "orders/2026-11-01"), zap.Int(FieldAttempt, 1))
	From(ctx).Info("after annotate")
	Annotate(ctx, zap.Int(FieldAttempt, 2)) // replaces, does not duplicate
	scope.Logger().Info("outcome")

	entries := logs.All()
	if len(entries) != 3 {
		t.Fatalf("got %d entries", len(entries))
	}
	if got := entries[0].ContextMap(); got[FieldMessageID] != "m-1" || got[FieldRunID] != nil {
		t.Fatalf("first line fields = %v", got)
	}
	for _, e := range entries[1:] {
		m := e.ContextMap()
		if m[FieldRunID] != "r-1" || m[FieldInput] != "orders/2026-11-01" || m[FieldMessageID] != "m-1" {
			t.Fatalf("%q lacks scope fields: %v", e.Message, m)
		}
	}
	if n := countKey(entries[2].Context, FieldAttempt); n != 1 {
		t.Fatalf("attempt appears %d times", n)
	}
	if got := entries[2].ContextMap()[FieldAttempt]; got != int64(2) {
		t.Fatalf("attempt = %v, want 2", got)
	}
}

func countKey(fs []zap.Field, key string) int {
	n := 0
	for _, f := range fs {
		if f.Key == key {
			n++
		}
	}
	return n
}

func TestFromWithoutScopeIsSafe(t *testing.T) {
	From(context.Background()).Info("dropped")
	Annotate(context.Background(), zap.String("k", "v"))
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short stays", "abc", 10, "abc"},
		{"long is cut and marked", strings.Repeat("x", 20), 5, "xxxxx…(20 bytes)"},
		{"utf8 not split", "ééé", 3, "é…(6 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Truncate(tt.in, tt.n)
			if got != tt.want || !utf8.ValidString(got) {
				t.Fatalf("Truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func TestNewRejectsBadLevel(t *testing.T) {
	if _, err := New("svc", "loud"); err == nil {
		t.Fatal("want error for unknown level")
	}
	if _, err := New("svc", "info"); err != nil {
		t.Fatal(err)
	}
}

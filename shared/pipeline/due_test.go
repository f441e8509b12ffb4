package pipeline

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/fault"
)

func TestCheckDue(t *testing.T) {
	day := Partition{Every: Day}
	hour := Partition{Every: Hour}
	withLag := func(p Partition, lag time.Duration) Partition { p.Lag = lag; return p }
	withStart := func(p Partition, start string) Partition { p.Start = utc(start); return p }
	tests := []struct {
		name    string
		p       Partition
		window  string // key
		now     string
		wantErr error  // ErrNotDue, ErrBeforeStart or nil
		want    string // substring of the error
		// retryIn: due within ClockSkew, so retryable after this wait
		// (0: permanent).
		retryIn time.Duration
	}{
		{name: "day that ended", p: day, window: "2026-11-01", now: "2026-11-02T00:00:01Z"},
		{name: "day, at its end exactly", p: day, window: "2026-11-01", now: "2026-11-02T00:00:00Z"},
		{name: "day, a nanosecond before its end", p: day, window: "2026-11-01", now: "2026-11-01T23:59:59.999999999Z", wantErr: ErrNotDue,
			want:    "window not due yet: s/2026-11-01 ends 2026-11-02T00:00:00Z and can be fetched from 2026-11-02T00:00:00Z (partition.lag 0s); it is now 2026-11-01T23:59:59Z",
			retryIn: time.Second + time.Nanosecond},
		{name: "day, due within the clock skew", p: day, window: "2026-11-01", now: "2026-11-01T23:58:00Z", wantErr: ErrNotDue, retryIn: 2*time.Minute + time.Second},
		{name: "day, due just past the clock skew", p: day, window: "2026-11-01", now: "2026-11-01T23:57:59Z", wantErr: ErrNotDue},
		{name: "today", p: day, window: "2026-11-01", now: "2026-11-01T13:00:00Z", wantErr: ErrNotDue},
		{name: "next year", p: day, window: "2027-11-01", now: "2026-11-01T13:00:00Z", wantErr: ErrNotDue,
			want: "can be fetched from 2027-11-02T00:00:00Z"},
		{name: "day that ended, inside its lag", p: withLag(day, 6*time.Hour), window: "2026-11-01", now: "2026-11-02T05:00:00Z", wantErr: ErrNotDue,
			want: "s/2026-11-01 ends 2026-11-02T00:00:00Z and can be fetched from 2026-11-02T06:00:00Z (partition.lag 6h0m0s)"},
		{name: "day, its lag passed", p: withLag(day, 6*time.Hour), window: "2026-11-01", now: "2026-11-02T06:00:00Z"},
		{name: "day, a lag of days", p: withLag(day, 72*time.Hour), window: "2026-11-01", now: "2026-11-04T12:00:00Z", wantErr: ErrNotDue,
			want: "can be fetched from 2026-11-05T00:00:00Z"},
		{name: "hour that ended", p: hour, window: "2026-11-01T13", now: "2026-11-01T14:00:00Z"},
		{name: "the current hour", p: hour, window: "2026-11-01T13", now: "2026-11-01T13:30:00Z", wantErr: ErrNotDue,
			want: "s/2026-11-01T13 ends 2026-11-01T14:00:00Z"},
		{name: "the current hour, a minute before its end", p: hour, window: "2026-11-01T13", now: "2026-11-01T13:59:00Z", wantErr: ErrNotDue,
			want: "s/2026-11-01T13 ends 2026-11-01T14:00:00Z", retryIn: time.Minute + time.Second},
		{name: "hour inside its lag", p: withLag(hour, 90*time.Minute), window: "2026-11-01T13", now: "2026-11-01T15:00:00Z", wantErr: ErrNotDue,
			want: "can be fetched from 2026-11-01T15:30:00Z (partition.lag 1h30m0s)"},
		{name: "hour, its lag passed", p: withLag(hour, 90*time.Minute), window: "2026-11-01T13", now: "2026-11-01T15:30:00Z"},
		{name: "day, the first window", p: withStart(day, "2026-10-01T00:00:00Z"), window: "2026-10-01", now: "2026-11-01T00:00:00Z"},
		{name: "day before the first window", p: withStart(day, "2026-10-01T00:00:00Z"), window: "2026-09-30", now: "2026-11-01T00:00:00Z", wantErr: ErrBeforeStart,
			want: "window before the source's start: s/2026-09-30 is before the source's first window 2026-10-01 (partition.start)"},
		{name: "hour before the first window", p: withStart(hour, "2026-10-01T06:00:00Z"), window: "2026-10-01T05", now: "2026-11-01T00:00:00Z", wantErr: ErrBeforeStart,
			want: "first window 2026-10-01T06 (partition.start)"},
		{name: "hour, the first window", p: withStart(hour, "2026-10-01T06:00:00Z"), window: "2026-10-01T06", now: "2026-11-01T00:00:00Z"},
		// Before the start is the lasting reason: it never becomes due.
		{name: "before the start and not due", p: withStart(day, "2027-01-01T00:00:00Z"), window: "2026-12-31", now: "2026-12-31T12:00:00Z", wantErr: ErrBeforeStart},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &Source{Name: "s", Partition: tt.p}
			w, err := tt.p.ParseKey(tt.window)
			if err != nil {
				t.Fatal(err)
			}
			err = src.CheckDue(w, utc(tt.now))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("CheckDue = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CheckDue = %v, want %q saying %q", err, tt.wantErr, tt.want)
			}
			if tt.retryIn == 0 && !fault.IsPermanent(err) {
				t.Fatalf("CheckDue = %v (%s), want permanent", err, fault.ClassOf(err))
			}
			if wait, ok := fault.Delay(err); tt.retryIn != 0 && (fault.IsPermanent(err) || !ok || wait != tt.retryIn) {
				t.Fatalf("CheckDue = %v (%s, retry after %v), want retryable after %v: due within the clock skew", err, fault.ClassOf(err), wait, tt.retryIn)
			}
		})
	}
}

// What the scheduler asks for is never refused: every window Due gives at
// a time is due at that time, lag and start included.
func TestDueWindowsPassCheckDue(t *testing.T) {
	for _, p := range []Partition{
		{Every: Day, Lookback: 3}, {Every: Day, Lag: 4 * time.Hour, Lookback: 2}, {Every: Day, Lag: 49 * time.Hour},
		{Every: Hour, Lookback: 30}, {Every: Hour, Lag: 90 * time.Minute, Lookback: 5},
		{Every: Day, Lookback: 10, Start: utc("2026-11-20T00:00:00Z")}, {Every: Hour, Lookback: 48, Start: utc("2026-11-23T05:00:00Z")},
	} {
		src := &Source{Name: "s", Partition: p}
		for at := utc("2026-11-23T00:00:00Z"); at.Before(utc("2026-11-26T00:00:00Z")); at = at.Add(7 * time.Minute) {
			for _, w := range p.Due(at) {
				if err := src.CheckDue(w, at); err != nil {
					t.Fatalf("%+v at %s: Due gave %s: %v", p, at, w, err)
				}
			}
		}
	}
}

func TestDueStopsAtStart(t *testing.T) {
	at := utc("2026-11-24T03:30:00Z")
	tests := []struct {
		name string
		p    Partition
		want []string
	}{
		{"lookback reaching before the start", Partition{Every: Day, Lookback: 5, Start: utc("2026-11-22T00:00:00Z")}, []string{"2026-11-22", "2026-11-23"}},
		{"the start is the latest due window", Partition{Every: Day, Start: utc("2026-11-23T00:00:00Z")}, []string{"2026-11-23"}},
		{"the start is not due yet", Partition{Every: Day, Lookback: 3, Start: utc("2026-11-24T00:00:00Z")}, nil},
		{"hours", Partition{Every: Hour, Lookback: 4, Start: utc("2026-11-24T01:00:00Z")}, []string{"2026-11-24T01", "2026-11-24T02"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, w := range tt.p.Due(at) {
				got = append(got, tt.p.Key(w))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("Due = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	c := testConfig()
	c.Sources[0].Partition.Start = utc("2026-10-01T00:00:00Z")
	now := utc("2026-11-01T13:00:00Z")
	tests := []struct {
		name, source, window string
		want                 string // substring of the permanent error; "" for none
	}{
		{"a day that ended", "orders", "2026-10-31", ""},
		{"an hour that ended", "events", "2026-11-01T12", ""},
		{"today", "orders", "2026-11-01", "window not due yet: orders/2026-11-01"},
		{"this hour", "events", "2026-11-01T13", "window not due yet: events/2026-11-01T13"},
		{"before the start", "orders", "2026-09-30", "before the source's first window 2026-10-01"},
		{"unknown source, as Lookup", "ghost", "2026-10-01", `unknown source "ghost"`},
		{"bad key, as Lookup", "orders", "2026-11-01T13", `invalid day key "2026-11-01T13"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, w, err := c.Admit(tt.source, tt.window, now)
			if tt.want == "" {
				if err != nil || src == nil || src.Name != tt.source || src.Partition.Key(w) != tt.window {
					t.Fatalf("Admit = %v, %v, %v; want source %s, window %s", src, w, err, tt.source, tt.window)
				}
				return
			}
			if !fault.IsPermanent(err) || !strings.Contains(err.Error(), tt.want) || src != nil {
				t.Fatalf("Admit = %v, %v; want a permanent error saying %q", src, err, tt.want)
			}
		})
	}
}

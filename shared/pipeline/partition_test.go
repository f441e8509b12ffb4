package pipeline

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestPartitionWindow(t *testing.T) {
	tests := []struct {
		name    string
		every   Period
		start   time.Time
		want    Window
		wantErr bool
	}{
		{"day", Day, utc("2026-11-01T00:00:00Z"), Window{utc("2026-11-01T00:00:00Z"), utc("2026-11-02T00:00:00Z")}, false},
		{"day across month end", Day, utc("2026-11-30T00:00:00Z"), Window{utc("2026-11-30T00:00:00Z"), utc("2026-12-01T00:00:00Z")}, false},
		{"day given in another zone", Day, utc("2026-11-01T01:00:00+01:00"), Window{utc("2026-11-01T00:00:00Z"), utc("2026-11-02T00:00:00Z")}, false},
		{"day not at midnight", Day, utc("2026-11-01T13:00:00Z"), Window{}, true},
		{"hour", Hour, utc("2026-11-01T13:00:00Z"), Window{utc("2026-11-01T13:00:00Z"), utc("2026-11-01T14:00:00Z")}, false},
		{"hour across midnight", Hour, utc("2026-11-01T23:00:00Z"), Window{utc("2026-11-01T23:00:00Z"), utc("2026-11-02T00:00:00Z")}, false},
		{"hour with a nanosecond", Hour, utc("2026-11-01T13:00:00.000000001Z"), Window{}, true},
		{"unknown period", "week", utc("2026-11-01T00:00:00Z"), Window{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Partition{Every: tt.every}.Window(tt.start)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Window(%v) error = %v, wantErr %v", tt.start, err, tt.wantErr)
			}
			if got != tt.want || got.Start.Location() != time.UTC && !tt.wantErr {
				t.Errorf("Window(%v) = %v, want %v", tt.start, got, tt.want)
			}
		})
	}
}

func TestPartitionWindows(t *testing.T) {
	day := func(s string) Window { w, _ := Partition{Every: Day}.Window(utc(s)); return w }
	hour := func(s string) Window { w, _ := Partition{Every: Hour}.Window(utc(s)); return w }
	tests := []struct {
		name     string
		every    Period
		from, to string
		want     []Window
	}{
		{"whole days", Day, "2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z",
			[]Window{day("2026-11-01T00:00:00Z"), day("2026-11-02T00:00:00Z")}},
		{"from aligned down, partial last day included", Day, "2026-11-01T12:00:00Z", "2026-11-02T00:00:01Z",
			[]Window{day("2026-11-01T00:00:00Z"), day("2026-11-02T00:00:00Z")}},
		{"empty range", Day, "2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z", nil},
		{"reversed range", Day, "2026-11-02T00:00:00Z", "2026-11-01T00:00:00Z", nil},
		{"hours", Hour, "2026-11-01T22:30:00Z", "2026-11-02T01:00:00Z",
			[]Window{hour("2026-11-01T22:00:00Z"), hour("2026-11-01T23:00:00Z"), hour("2026-11-02T00:00:00Z")}},
		{"unknown period", "week", "2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Partition{Every: tt.every}.Windows(utc(tt.from), utc(tt.to))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Windows = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPartitionKeys(t *testing.T) {
	tests := []struct {
		every          Period
		start          string
		key, hive, str string
	}{
		{Day, "2026-11-01T00:00:00Z", "2026-11-01", "dt=2026-11-01", "2026-11-01T00:00:00Z/2026-11-02T00:00:00Z"},
		{Hour, "2026-11-01T13:00:00Z", "2026-11-01T13", "dt=2026-11-01/hr=13", "2026-11-01T13:00:00Z/2026-11-01T14:00:00Z"},
		{Hour, "2026-11-01T00:00:00Z", "2026-11-01T00", "dt=2026-11-01/hr=00", "2026-11-01T00:00:00Z/2026-11-01T01:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			p := Partition{Every: tt.every}
			w, err := p.Window(utc(tt.start))
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Key(w); got != tt.key {
				t.Errorf("Key = %q, want %q", got, tt.key)
			}
			if got := p.HivePath(w); got != tt.hive {
				t.Errorf("HivePath = %q, want %q", got, tt.hive)
			}
			if got := w.String(); got != tt.str {
				t.Errorf("String = %q, want %q", got, tt.str)
			}
			back, err := p.ParseKey(tt.key)
			if err != nil || back != w {
				t.Errorf("ParseKey(%q) = %v, %v; want %v", tt.key, back, err, w)
			}
		})
	}
}

func TestPartitionParseKeyInvalid(t *testing.T) {
	tests := []struct {
		every Period
		key   string
	}{
		{Day, ""},
		{Day, "2026-11-01T13"},
		{Day, "2026-13-01"},
		{Day, "2026-11-1"},
		{Day, "dt=2026-11-01"},
		{Hour, "2026-11-01"},
		{Hour, "2026-11-01T24"},
		{Hour, "2026-11-01T13:00"},
		{"week", "2026-11-01"},
	}
	for _, tt := range tests {
		t.Run(string(tt.every)+"/"+tt.key, func(t *testing.T) {
			if w, err := (Partition{Every: tt.every}).ParseKey(tt.key); err == nil {
				t.Errorf("ParseKey(%q) = %v, want an error", tt.key, w)
			}
		})
	}
}

func TestWindowExpand(t *testing.T) {
	w := Window{utc("2026-11-01T13:00:00Z"), utc("2026-11-01T14:00:00Z")}
	tests := []struct{ in, want string }{
		{"/v1/orders", "/v1/orders"},
		{"{date}", "2026-11-01"},
		{"from={start}&to={end}", "from=2026-11-01T13:00:00Z&to=2026-11-01T14:00:00Z"},
		{"{unknown} {date}{date}", "{unknown} 2026-11-012026-11-01"},
	}
	for _, tt := range tests {
		if got := w.Expand(tt.in); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDue(t *testing.T) {
	at := time.Date(2026, 11, 24, 3, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		p    Partition
		want []string // window keys, oldest first
	}{
		{"day: yesterday", Partition{Every: Day}, []string{"2026-11-23"}},
		{"day with a lag shorter than the time since midnight", Partition{Every: Day, Lag: 3 * time.Hour}, []string{"2026-11-23"}},
		{"day with a lag past midnight: the day before", Partition{Every: Day, Lag: 4 * time.Hour}, []string{"2026-11-22"}},
		{"day, lookback 3", Partition{Every: Day, Lag: time.Hour, Lookback: 3}, []string{"2026-11-21", "2026-11-22", "2026-11-23"}},
		{"hour: the last complete hour", Partition{Every: Hour}, []string{"2026-11-24T02"}},
		{"hour, lag 90m, lookback 2: 01:00-02:00 is due at 03:30 exactly", Partition{Every: Hour, Lag: 90 * time.Minute, Lookback: 2}, []string{"2026-11-24T00", "2026-11-24T01"}},
	}
	for _, tt := range tests {
		var got []string
		for _, w := range tt.p.Due(at) {
			got = append(got, tt.p.Key(w))
			if w.End.Add(tt.p.Lag).After(at) {
				t.Errorf("%s: window %s is not due yet", tt.name, w)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: Due = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPartitionLagAndLookbackAreChecked(t *testing.T) {
	base := "version: 1\nsources:\n  - name: a\n    request: {base_url: \"http://x.test\", path: /v1}\n    pagination: {type: none}\n    partition: {every: day, %s}\n"
	tests := []struct {
		extra, want string
	}{
		{"lag: 6h, lookback: 3", ""},
		{"lag: -1h", "sources[0].partition.lag"},
		{"lag: 2400h", "sources[0].partition.lag"},
		{"lookback: 0", "sources[0].partition.lookback"},
		{"lookback: 5000", "sources[0].partition.lookback"},
	}
	for _, tt := range tests {
		c, err := Parse("p.yaml", []byte(fmt.Sprintf(base, tt.extra)))
		if tt.want == "" {
			if err != nil || c.Sources[0].Partition.Lag != 6*time.Hour || c.Sources[0].Partition.Lookback != 3 {
				t.Errorf("%s: %+v, %v", tt.extra, c, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "p.yaml: "+tt.want) {
			t.Errorf("%s: err = %v, want one about %s", tt.extra, err, tt.want)
		}
	}
}

func TestPartitionStartIsChecked(t *testing.T) {
	base := "version: 1\nsources:\n  - name: a\n    request: {base_url: \"http://x.test\", path: /v1}\n    pagination: {type: none}\n    partition: {every: %s, start: %s}\n"
	tests := []struct {
		every, start string
		want         time.Time // the start parsed, when valid
		wantErr      string    // the problem, when not
	}{
		{every: "day", start: "2026-01-01", want: utc("2026-01-01T00:00:00Z")},
		{every: "day", start: `"2026-01-01"`, want: utc("2026-01-01T00:00:00Z")},
		{every: "hour", start: "2026-01-01T13", want: utc("2026-01-01T13:00:00Z")},
		{every: "hour", start: "2026-01-01", want: utc("2026-01-01T00:00:00Z")},
		{every: "day", start: "2026-01-01T13", wantErr: `p.yaml: sources[0].partition.start: 2026-01-01T13 is not the start of a day window (that would be 2026-01-01)`},
		{every: "day", start: "2026-02-30", wantErr: `sources[0].partition.start: want a window key such as "2026-01-01" or "2026-01-01T13" (UTC), got "2026-02-30"`},
		{every: "day", start: "2026-01-01T00:00:00Z", wantErr: `sources[0].partition.start: want a window key`},
		{every: "day", start: "yesterday", wantErr: `sources[0].partition.start: want a window key`},
		{every: "day", start: "[2026-01-01]", wantErr: `sources[0].partition.start: want a window key such as "2026-01-01" or "2026-01-01T13" (UTC), got a list`},
		{every: "hour", start: "2026-01-01T24", wantErr: `sources[0].partition.start: want a window key`},
	}
	for _, tt := range tests {
		t.Run(tt.every+" "+tt.start, func(t *testing.T) {
			c, err := Parse("p.yaml", []byte(fmt.Sprintf(base, tt.every, tt.start)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Sources[0].Partition.Start; !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Fatalf("start = %v, want %v", got, tt.want)
			}
		})
	}
}

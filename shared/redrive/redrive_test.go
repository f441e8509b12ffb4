package redrive_test

import (
	"encoding/json"
	"testing"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/redrive"
	"github.com/sluice-data/sluice/shared/runs"
)

func TestInputFor(t *testing.T) {
	run := contracts.Run{Source: "orders", Window: "2026-11-01T13", RunID: "r", Attempt: 2}
	encode := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name, body string
		want       string // input key; "" for none
		attempt    int    // 0: the body names none
	}{
		{"fetch", encode(contracts.NewFetch(run, contracts.TriggerManual)), "orders/2026-11-01T13", 2},
		{"done", encode(contracts.NewDone(run, 2, 10, 100)), "orders/2026-11-01T13", 2},
		{"batch without payload", `{"v":1,"kind":"batch","source":"orders","window":"2026-11-01","seq":0}`, "orders/2026-11-01", 0},
		{"batch without payload, with its attempt", `{"v":1,"kind":"batch","source":"orders","window":"2026-11-01","attempt":3,"seq":0}`, "orders/2026-11-01", 3},
		{"attempt not a whole number", `{"v":1,"kind":"batch","source":"orders","window":"2026-11-01","attempt":1.5}`, "orders/2026-11-01", 0},
		{"unknown version", `{"v":2,"kind":"fetch","source":"events","window":"2026-11-02"}`, "events/2026-11-02", 0},
		{"not JSON", `orders/2026-11-01`, "", 0},
		{"no window", `{"v":1,"kind":"fetch","source":"orders"}`, "", 0},
		{"window not a string", `{"source":"orders","window":20261101}`, "", 0},
		{"bad source name", `{"source":"Orders!","window":"2026-11-01"}`, "", 0},
		{"bad window", `{"source":"orders","window":"yesterday"}`, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, attempt, err := redrive.InputFor([]byte(tt.body))
			if tt.want == "" {
				if err == nil {
					t.Fatalf("input %+v, want none", in)
				}
				return
			}
			if err != nil || in.Key() != tt.want || in.Trigger != contracts.TriggerRedrive || in.Force || attempt != tt.attempt {
				t.Fatalf("input = %+v, attempt %d, %v; want %s, trigger redrive, attempt %d", in, attempt, err, tt.want, tt.attempt)
			}
		})
	}
}

func TestSuperseded(t *testing.T) {
	tests := []struct {
		name    string
		run     runs.Run
		attempt int
		want    bool
	}{
		{"SUCCEEDED", runs.Run{Status: runs.Succeeded, Attempt: 2}, 2, true},
		{"SUCCEEDED, message names no attempt", runs.Run{Status: runs.Succeeded, Attempt: 1}, 0, true},
		{"newer attempt running", runs.Run{Status: runs.Running, Attempt: 3, FetchMessage: "m-2"}, 2, true},
		{"newer attempt FAILED", runs.Run{Status: runs.Failed, Attempt: 3}, 2, false},
		{"newer attempt committing", runs.Run{Status: runs.Committing, Attempt: 3}, 2, true},
		{"newer attempt this message restarted", runs.Run{Status: runs.Running, Attempt: 3, FetchMessage: "m-1"}, 2, false},
		{"own attempt FAILED", runs.Run{Status: runs.Failed, Attempt: 2}, 2, false},
		{"own attempt running", runs.Run{Status: runs.Running, Attempt: 2}, 2, false},
		{"no attempt named, run open", runs.Run{Status: runs.Running, Attempt: 3}, 0, false},
		{"no run", runs.Run{}, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redrive.Superseded(tt.run, tt.attempt, "m-1"); got != tt.want {
				t.Fatalf("Superseded(%s attempt %d, message attempt %d) = %v, want %v", tt.run.Status, tt.run.Attempt, tt.attempt, got, tt.want)
			}
		})
	}
}

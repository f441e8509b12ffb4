package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string // "" for none
	}{
		{"pipeline only", []string{"-pipeline", "p.yaml"}, ""},
		{"every flag", []string{"-pipeline", "p.yaml", "-prefix", "mine", "-refresh", "1s", "-schedule-every", "1h", "-remove", "-keep-stack"}, ""},
		{"no pipeline", nil, "-pipeline is required"},
		{"empty PIPELINE from make", []string{"-pipeline", ""}, "-pipeline is required"},
		{"zero refresh", []string{"-pipeline", "p.yaml", "-refresh", "0s"}, "-refresh 0s"},
		{"negative schedule", []string{"-pipeline", "p.yaml", "-schedule-every", "-1m"}, "-schedule-every -1m0s"},
		{"stray argument", []string{"-pipeline", "p.yaml", "extra"}, `unexpected arguments ["extra"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := parseFlags(tt.args)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("parseFlags(%q): %v", tt.args, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("parseFlags(%q): %v, want an error with %q", tt.args, err, tt.wantErr)
			case err == nil && (!strings.HasPrefix(o.prefix, "dev-") && o.prefix != "mine" || o.refresh <= 0 || o.refresh > 3*time.Second):
				t.Errorf("parseFlags(%q) = %+v", tt.args, o)
			}
		})
	}
}

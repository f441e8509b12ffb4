package localrun

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A service's usage is known once it exited, not before.
func TestUsageAfterExit(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "svc"), []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := &Pipeline{Bin: dir, LogDir: filepath.Join(dir, "logs")}
	proc, err := p.Start("svc")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := proc.Usage(); ok {
		t.Error("usage reported while the service runs")
	}
	_ = proc.Stop(5 * time.Second) // sleep dies of the SIGTERM: an error, expected
	u, ok := proc.Usage()
	if !ok || u.PeakRSS <= 0 {
		t.Fatalf("usage after exit = %+v, %v; want a positive peak RSS", u, ok)
	}
}

// AWSCounts sums one field of the "aws requests" lines, of the services
// asked for.
func TestAWSCounts(t *testing.T) {
	dir := t.TempDir()
	p := &Pipeline{LogDir: dir}
	logs := map[string]string{
		"fetcher": `{"msg":"fetched"}` + "\n" +
			`{"msg":"aws requests","requests":{"SQS.SendMessage":3},"sqs_payload_bytes":{"SQS.SendMessage":700}}` + "\n" +
			`{"msg":"aws requests","requests":{"SQS.SendMessage":1},"sqs_payload_bytes":{"SQS.SendMessage":50}}` + "\n",
		"writer": `{"msg":"aws requests","requests":{"S3.PutObject":2},"sqs_payload_bytes":{"SQS.ReceiveMessage":900}}` + "\n",
	}
	for name, body := range logs {
		if err := os.WriteFile(filepath.Join(dir, name+".log"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, field string
		services    []string
		want        map[string]int64
	}{
		{"every service", "requests", nil, map[string]int64{"SQS.SendMessage": 4, "S3.PutObject": 2}},
		{"one service", "sqs_payload_bytes", []string{"fetcher"}, map[string]int64{"SQS.SendMessage": 750}},
		{"absent field", "sqs_billed", nil, map[string]int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.AWSCounts(tt.field, tt.services...)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, n := range tt.want {
				if got[k] != n {
					t.Errorf("%s = %d, want %d (all: %v)", k, got[k], n, got)
				}
			}
		})
	}
}

package service

import (
	"strings"
	"testing"
	"time"
)

func valid() Config {
	return Config{PipelineFile: "p.yaml", LogLevel: "info", Transport: TransportPoll, Workers: 5, DLQURL: "http://q-dlq", MaxReceive: 5,
		Visibility: time.Minute, PollWait: 20 * time.Second, RetryBase: 2 * time.Second, RetryMax: time.Minute}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // every problem must be named; none means valid
	}{
		{"defaults are valid", func(*Config) {}, nil},
		{"every problem at once", func(c *Config) {
			c.Workers = 0
			c.DLQURL = ""
			c.Transport = "kafka"
		}, []string{"SLUICE_WORKERS", "SLUICE_DLQ_URL", "SLUICE_TRANSPORT"}},
		{"poll wait over SQS maximum", func(c *Config) { c.PollWait = 21 * time.Second }, []string{"SLUICE_POLL_WAIT"}},
		{"retry max below base", func(c *Config) { c.RetryMax = time.Second }, []string{"SLUICE_RETRY_BASE"}},
		{"visibility too short", func(c *Config) { c.Visibility = time.Second }, []string{"SLUICE_VISIBILITY"}},
		{"max receive zero", func(c *Config) { c.MaxReceive = 0 }, []string{"SLUICE_MAX_RECEIVE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

func TestTransportDefault(t *testing.T) {
	t.Setenv("AWS_LAMBDA_RUNTIME_API", "")
	c := valid()
	c.Transport = ""
	if err := c.Validate(); err != nil || c.Transport != TransportPoll {
		t.Fatalf("transport = %q, %v; want poll outside Lambda", c.Transport, err)
	}
	t.Setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
	c.Transport = ""
	if err := c.Validate(); err != nil || c.Transport != TransportLambda {
		t.Fatalf("transport = %q, %v; want lambda on Lambda", c.Transport, err)
	}
}

func TestParseReadsEnvironment(t *testing.T) {
	t.Setenv("SLUICE_PIPELINE_FILE", "p.yaml")
	t.Setenv("SLUICE_DLQ_URL", "http://dlq")
	t.Setenv("SLUICE_WORKERS", "7")
	t.Setenv("SLUICE_VISIBILITY", "90s")
	var c Config
	if err := Parse(&c); err != nil {
		t.Fatal(err)
	}
	if c.Workers != 7 || c.Visibility != 90*time.Second || c.DLQURL != "http://dlq" || c.MaxReceive != 5 || c.LogLevel != "info" {
		t.Fatalf("parsed %+v", c)
	}
	t.Setenv("SLUICE_WORKERS", "many")
	if err := Parse(&c); err == nil || !strings.Contains(err.Error(), "SLUICE_WORKERS") {
		t.Fatalf("bad number: %v", err)
	}
}

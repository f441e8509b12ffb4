package service

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/runs"
)

func valid() Config {
	c := DefaultConfig()
	c.PipelineFile, c.LogLevel, c.Transport, c.DLQURL = "p.yaml", "info", TransportPoll, "http://q-dlq"
	c.Visibility, c.RetryMax = time.Minute, time.Minute
	return c
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
		{"transport unset is valid", func(c *Config) { c.Transport = "" }, nil},
		{"metrics namespace empty", func(c *Config) { c.MetricsNamespace = "" }, []string{"SLUICE_METRICS_NAMESPACE"}},
		{"metrics namespace of AWS", func(c *Config) { c.MetricsNamespace = "AWS/Lambda" }, []string{"SLUICE_METRICS_NAMESPACE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			before := c
			err := c.Validate()
			if c != before {
				t.Fatalf("Validate changed the config:\n got %+v\nwant %+v", c, before)
			}
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
	tests := []struct {
		name, set, runtimeAPI, want string
	}{
		{"unset outside Lambda", "", "", TransportPoll},
		{"unset on Lambda", "", "127.0.0.1:9001", TransportLambda},
		{"set wins on Lambda", TransportPoll, "127.0.0.1:9001", TransportPoll},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_LAMBDA_RUNTIME_API", tt.runtimeAPI)
			c := valid()
			c.Transport = tt.set
			if got := c.TransportOf(); got != tt.want {
				t.Fatalf("transport = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseReadsEnvironment(t *testing.T) {
	t.Setenv("SLUICE_PIPELINE_FILE", "p.yaml")
	t.Setenv("SLUICE_DLQ_URL", "http://dlq")
	t.Setenv("SLUICE_WORKERS", "7")
	t.Setenv("SLUICE_VISIBILITY", "90s")
	t.Setenv("SLUICE_RETRY_BASE", "") // set but empty: the default
	c := DefaultConfig()
	if err := Parse(&c); err != nil {
		t.Fatal(err)
	}
	if c.Workers != 7 || c.Visibility != 90*time.Second || c.DLQURL != "http://dlq" || c.MaxReceive != 5 || c.LogLevel != "info" ||
		c.RetryBase != 2*time.Second || c.RetryMax != 5*time.Minute || c.PollWait != 20*time.Second || c.ShutdownGrace != 30*time.Second {
		t.Fatalf("parsed %+v", c)
	}
	t.Setenv("SLUICE_WORKERS", "many")
	if err := Parse(&c); err == nil || !strings.Contains(err.Error(), "SLUICE_WORKERS") {
		t.Fatalf("bad number: %v", err)
	}
}

// The run store's variables and their defaults, as the README documents
// them; a problem names the variable.
func TestRunsEnv(t *testing.T) {
	t.Setenv("SLUICE_RUNS_TABLE", "t-runs")
	t.Setenv("SLUICE_OWNER", "w-1")
	var e RunsEnv
	if err := Parse(&e); err != nil {
		t.Fatal(err)
	}
	want := runs.Config{Table: "t-runs", Lease: 15 * time.Minute, Retention: 9600 * time.Hour, Owner: "w-1"}
	if got := e.Config(); got != want {
		t.Fatalf("parsed %+v, want %+v", got, want)
	}
	t.Setenv("SLUICE_HEARTBEAT", "10m") // not under half the lease
	if err := Parse(&e); err != nil {
		t.Fatal(err)
	}
	if err := e.Validate(); err == nil || !strings.Contains(err.Error(), "SLUICE_HEARTBEAT") {
		t.Fatalf("Validate = %v, want a SLUICE_HEARTBEAT problem", err)
	}
	os.Unsetenv("SLUICE_RUNS_TABLE") // restored by the t.Setenv above
	var missing RunsEnv
	if err := Parse(&missing); err == nil || !strings.Contains(err.Error(), "SLUICE_RUNS_TABLE") {
		t.Fatalf("Parse without a table = %v, want the variable named", err)
	}
}

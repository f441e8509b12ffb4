package consumer

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		c := DefaultConfig()
		c.DLQURL = "http://q-dlq"
		return c
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // every problem must be named; none means valid
	}{
		{"defaults with a DLQ are valid", func(*Config) {}, nil},
		{"defaults alone lack the DLQ", func(c *Config) { c.DLQURL = "" }, []string{"SLUICE_DLQ_URL"}},
		{"every problem at once", func(c *Config) {
			c.Workers = 0
			c.DLQURL = ""
			c.MaxReceive = 0
		}, []string{"SLUICE_WORKERS", "SLUICE_DLQ_URL", "SLUICE_MAX_RECEIVE"}},
		{"too many workers", func(c *Config) { c.Workers = 101 }, []string{"SLUICE_WORKERS"}},
		{"poll wait over SQS maximum", func(c *Config) { c.PollWait = 21 * time.Second }, []string{"SLUICE_POLL_WAIT"}},
		{"receive batch over SQS maximum", func(c *Config) { c.ReceiveBatch = 11 }, []string{"SLUICE_RECEIVE_BATCH"}},
		{"receive batch zero", func(c *Config) { c.ReceiveBatch = 0 }, []string{"SLUICE_RECEIVE_BATCH"}},
		{"poll wait zero is valid", func(c *Config) { c.PollWait = 0 }, nil},
		{"retry max below base", func(c *Config) { c.RetryMax = time.Second }, []string{"SLUICE_RETRY_BASE"}},
		{"visibility too short", func(c *Config) { c.Visibility = time.Second }, []string{"SLUICE_VISIBILITY"}},
		{"visibility over SQS maximum", func(c *Config) { c.Visibility = 13 * time.Hour }, []string{"SLUICE_VISIBILITY"}},
		{"no handle timeout", func(c *Config) { c.HandleTimeout = 0 }, []string{"handle timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			before := c
			err := c.Validate()
			if c != before {
				t.Fatalf("Validate changed the config")
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

// The defaults are the README's configuration reference.
func TestDefaultConfig(t *testing.T) {
	want := Config{Workers: 5, ReceiveBatch: 10, MaxReceive: 5, Visibility: 30 * time.Second, PollWait: 20 * time.Second, RetryBase: 2 * time.Second,
		RetryMax: 5 * time.Minute, ShutdownGrace: 30 * time.Second, HandleTimeout: 15 * time.Minute}
	if got := DefaultConfig(); got != want {
		t.Fatalf("DefaultConfig() = %+v, want %+v", got, want)
	}
}

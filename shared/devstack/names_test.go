package devstack_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/devstack"
)

func TestNames(t *testing.T) {
	n := devstack.Names{Prefix: "demo"}
	got := []string{n.Queue(devstack.Inputs), n.DLQ(devstack.Inputs), n.Table(), n.Bucket()}
	want := []string{"demo-inputs", "demo-inputs-dlq", "demo-runs", "demo-data"}
	if !slices.Equal(got, want) {
		t.Errorf("names = %v, want %v", got, want)
	}
	if got := (devstack.Names{}).Bucket(); got != "sluice-data" {
		t.Errorf("zero Names bucket = %q, want sluice-data", got)
	}
}

func TestNamesValidate(t *testing.T) {
	tests := []struct {
		name    string
		prefix  string
		wantErr bool
	}{
		{"default", "", false},
		{"test prefix", "t-0a1b2c3d", false},
		{"longest", strings.Repeat("a", 40), false},
		{"too long for a bucket", strings.Repeat("a", 41), true},
		{"uppercase", "Sluice", true},
		{"underscore", "sluice_dev", true},
		{"leading hyphen", "-sluice", true},
		{"trailing hyphen", "sluice-", true},
		{"double hyphen", "a--b", true},
		{"punycode", "xn-abc", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := devstack.Names{Prefix: tt.prefix}.Validate()
			if (err != nil) != tt.wantErr {
				t.Errorf("Validate(%q) = %v, want error %v", tt.prefix, err, tt.wantErr)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		opts    devstack.Options
		wantErr bool
	}{
		{"defaults", devstack.Options{}, false},
		{"short visibility", devstack.Options{VisibilityTimeout: time.Second, MaxReceiveCount: 1}, false},
		{"fractional visibility", devstack.Options{VisibilityTimeout: 1500 * time.Millisecond}, true},
		{"negative visibility", devstack.Options{VisibilityTimeout: -time.Second}, true},
		{"visibility over 12h", devstack.Options{VisibilityTimeout: 13 * time.Hour}, true},
		{"receive count over 1000", devstack.Options{MaxReceiveCount: 1001}, true},
		{"negative receive count", devstack.Options{MaxReceiveCount: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.opts.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate(%+v) = %v, want error %v", tt.opts, err, tt.wantErr)
			}
		})
	}
}

func TestLocalEndpoints(t *testing.T) {
	t.Setenv("SLUICE_DDB_PORT", "")
	t.Setenv("SLUICE_SQS_PORT", "49001")
	t.Setenv("SLUICE_S3_PORT", "not-a-port")
	got := devstack.LocalEndpoints()
	want := devstack.Endpoints{
		DynamoDB: "http://127.0.0.1:28000",
		SQS:      "http://127.0.0.1:49001",
		S3:       "http://127.0.0.1:28002",
	}
	if got != want {
		t.Errorf("LocalEndpoints() = %+v, want %+v", got, want)
	}
}

func TestEnv(t *testing.T) {
	env := devstack.Env(devstack.Endpoints{DynamoDB: "http://d", SQS: "http://q", S3: "http://s"})
	for _, kv := range []string{
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=sluicelocal",
		"AWS_SECRET_ACCESS_KEY=sluicelocalsecret",
		"AWS_ENDPOINT_URL_DYNAMODB=http://d",
		"AWS_ENDPOINT_URL_SQS=http://q",
		"AWS_ENDPOINT_URL_S3=http://s",
		"SLUICE_S3_FORCE_PATH_STYLE=true",
	} {
		if !slices.Contains(env, kv) {
			t.Errorf("Env() lacks %s: %v", kv, env)
		}
	}
}

func TestResourcesEnv(t *testing.T) {
	r := devstack.Resources{
		Triggers:        devstack.Queue{URL: "u/t", DLQURL: "u/t-dlq"},
		Inputs:          devstack.Queue{URL: "u/i", DLQURL: "u/i-dlq"},
		Fetch:           devstack.Queue{URL: "u/f", DLQURL: "u/f-dlq"},
		Batches:         devstack.Queue{URL: "u/b", DLQURL: "u/b-dlq"},
		Table:           "p-runs",
		Bucket:          "p-data",
		MaxReceiveCount: 5,
	}
	want := []string{
		"SLUICE_TRIGGERS_QUEUE_URL=u/t",
		"SLUICE_INPUTS_QUEUE_URL=u/i",
		"SLUICE_FETCH_QUEUE_URL=u/f",
		"SLUICE_BATCHES_QUEUE_URL=u/b",
		"SLUICE_RUNS_TABLE=p-runs",
		"SLUICE_BUCKET=p-data",
		"SLUICE_DLQ_URL=u/f-dlq",
		"SLUICE_MAX_RECEIVE=5",
	}
	if got := r.ServiceEnv(devstack.Fetch); !slices.Equal(got, want) {
		t.Errorf("ServiceEnv(fetch) = %v, want %v", got, want)
	}
	if got := r.DLQFor("nope"); got != "" {
		t.Errorf("DLQFor(unknown) = %q, want empty", got)
	}
}

// The default ports lie outside the ephemeral range, where the local end
// of any outgoing connection may be holding them when an emulator starts,
// and scripts/stack.sh starts the emulators on the same ones.
func TestDefaultPortsOutsideTheEphemeralRange(t *testing.T) {
	ports := []int{devstack.DefaultDynamoDBPort, devstack.DefaultSQSPort, devstack.DefaultS3Port}
	lo, hi := 32768, 65535 // Linux's default range starts at 32768, macOS's and Windows' at 49152
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil {
			t.Fatalf("ip_local_port_range %q: %v", b, err)
		}
		lo = min(lo, 32768)
	}
	for _, p := range ports {
		if p >= lo && p <= hi {
			t.Errorf("default port %d is inside the ephemeral range %d–%d", p, lo, hi)
		}
	}
	root, err := devstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(root, "scripts", "stack.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range []string{"SLUICE_DDB_PORT", "SLUICE_SQS_PORT", "SLUICE_S3_PORT"} {
		if want := fmt.Sprintf("${%s:-%d}", v, ports[i]); !strings.Contains(string(script), want) {
			t.Errorf("scripts/stack.sh does not default %s to %d (want %q in it)", v, ports[i], want)
		}
	}
}

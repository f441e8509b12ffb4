package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// fakeAWS answers GetSecretValue and GetParameter in the AWS JSON 1.1
// protocol, as the SDK clients New builds speak it.
type fakeAWS struct {
	mu      sync.Mutex
	targets []string
	bodies  []map[string]any
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	_ = json.NewDecoder(r.Body).Decode(&in)
	target := r.Header.Get("X-Amz-Target")
	f.mu.Lock()
	f.targets = append(f.targets, target)
	f.bodies = append(f.bodies, in)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	reply := func(status int, v any) {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	switch {
	case target == "secretsmanager.GetSecretValue" && in["SecretId"] == "prod/orders":
		reply(200, map[string]any{"Name": "prod/orders", "SecretString": `{"client_secret":"aws-sm-s3cr3t"}`})
	case target == "secretsmanager.GetSecretValue":
		reply(400, map[string]any{"__type": "ResourceNotFoundException", "message": "Secrets Manager can't find the specified secret."})
	case target == "AmazonSSM.GetParameter" && in["Name"] == "/sluice/token" && in["WithDecryption"] == true:
		reply(200, map[string]any{"Parameter": map[string]any{"Name": "/sluice/token", "Type": "SecureString", "Value": "aws-ssm-s3cr3t"}})
	case target == "AmazonSSM.GetParameter":
		reply(400, map[string]any{"__type": "ParameterNotFound", "message": ""})
	default:
		reply(400, map[string]any{"__type": "UnknownOperationException"})
	}
}

func TestNewUsesCallersAWSConfig(t *testing.T) {
	fake := &fakeAWS{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	cfg := aws.Config{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "aws-credential", ""),
		BaseEndpoint:     aws.String(srv.URL),
		HTTPClient:       srv.Client(),
		RetryMaxAttempts: 1,
	}
	r := New(cfg)
	ctx := context.Background()

	if _, err := r.Resolve(ctx, "env:HOME"); err != nil {
		t.Fatal(err)
	}
	if len(fake.targets) != 0 {
		t.Fatalf("an env reference called AWS: %v", fake.targets)
	}
	tests := []struct {
		ref          string
		want         string
		wantNotFound bool
	}{
		{ref: "secretsmanager:prod/orders#client_secret", want: "aws-sm-s3cr3t"},
		{ref: "secretsmanager:prod/missing", wantNotFound: true},
		{ref: "ssm:/sluice/token", want: "aws-ssm-s3cr3t"},
		{ref: "ssm:/sluice/missing", wantNotFound: true},
	}
	for _, tt := range tests {
		got, err := r.Resolve(ctx, pipeline.Secret(tt.ref))
		if tt.wantNotFound {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("Resolve(%s) = %q, %v; want ErrNotFound", tt.ref, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%s) = %q, %v; want %q", tt.ref, got, err, tt.want)
		}
	}
}

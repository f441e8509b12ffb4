package secrets

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// fakeSM is a Secrets Manager holding secrets by name. A nil value is a
// binary secret.
type fakeSM struct {
	secrets map[string]*string
	err     error         // returned by every call when set
	block   chan struct{} // when set, calls wait for it (or ctx)
	calls   atomic.Int32
}

func (f *fakeSM) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls.Add(1)
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	v, ok := f.secrets[aws.ToString(in.SecretId)]
	if !ok {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	return &secretsmanager.GetSecretValueOutput{Name: in.SecretId, SecretString: v}, nil
}

// fakeSSM is a Parameter Store that only answers decrypting reads.
type fakeSSM struct {
	params map[string]string
	calls  atomic.Int32
}

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.calls.Add(1)
	if !aws.ToBool(in.WithDecryption) {
		return nil, errors.New("fake: GetParameter without WithDecryption")
	}
	v, ok := f.params[aws.ToString(in.Name)]
	if !ok {
		return nil, &ssmtypes.ParameterNotFound{}
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: in.Name, Value: aws.String(v)}}, nil
}

// Values planted in the fakes and the environment; no error may contain one.
var planted = []string{
	"env-s3cr3t", "sm-plain-s3cr3t", "sm-client-s3cr3t", "4815162342", "not-json-s3cr3t", "ssm-s3cr3t",
}

func newFakes() (*fakeSM, *fakeSSM) {
	return &fakeSM{secrets: map[string]*string{
			"plain":   aws.String("sm-plain-s3cr3t"),
			"client":  aws.String(`{"client_id": "orders", "client_secret": "sm-client-s3cr3t", "pin": 4815162342, "nothing": null, "blank": ""}`),
			"notjson": aws.String("not-json-s3cr3t"),
			"empty":   aws.String(""),
			"binary":  nil,
		}}, &fakeSSM{params: map[string]string{
			"/sluice/token": "ssm-s3cr3t",
			"/sluice/empty": "",
		}}
}

func TestResolve(t *testing.T) {
	t.Setenv("SLUICE_TEST_KEY", "env-s3cr3t")
	t.Setenv("SLUICE_TEST_EMPTY", "")
	tests := []struct {
		ref          pipeline.Secret
		want         string
		wantErr      string // substring of the error; "" for success
		wantNotFound bool
	}{
		{ref: "env:SLUICE_TEST_KEY", want: "env-s3cr3t"},
		{ref: "env:SLUICE_TEST_UNSET", wantErr: "environment variable SLUICE_TEST_UNSET is not set", wantNotFound: true},
		{ref: "env:SLUICE_TEST_EMPTY", wantErr: "value is empty"},
		{ref: "secretsmanager:plain", want: "sm-plain-s3cr3t"},
		{ref: "secretsmanager:client#client_secret", want: "sm-client-s3cr3t"},
		{ref: "secretsmanager:client#client_id", want: "orders"},
		{ref: "secretsmanager:client#missing", wantErr: `JSON object has no key "missing" (keys: blank, client_id, client_secret, nothing, pin)`, wantNotFound: true},
		{ref: "secretsmanager:client#pin", wantErr: `key "pin" holds a number, not a string`},
		{ref: "secretsmanager:client#nothing", wantErr: `key "nothing" holds null, not a string`},
		{ref: "secretsmanager:client#blank", wantErr: "value is empty"},
		{ref: "secretsmanager:notjson#key", wantErr: `value is not a JSON object, so it has no key "key"`},
		{ref: "secretsmanager:nope", wantErr: "not found in Secrets Manager", wantNotFound: true},
		{ref: "secretsmanager:nope#key", wantErr: "not found in Secrets Manager", wantNotFound: true},
		{ref: "secretsmanager:binary", wantErr: "binary secret"},
		{ref: "secretsmanager:empty", wantErr: "value is empty"},
		{ref: "ssm:/sluice/token", want: "ssm-s3cr3t"},
		{ref: "ssm:/sluice/nope", wantErr: "not found in SSM Parameter Store", wantNotFound: true},
		{ref: "ssm:/sluice/empty", wantErr: "value is empty"},
	}
	for _, tt := range tests {
		t.Run(string(tt.ref), func(t *testing.T) {
			sm, ps := newFakes()
			got, err := NewWithClients(sm, ps).Resolve(context.Background(), tt.ref)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Resolve(%s) = %q, %v; want %q", tt.ref, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Resolve(%s) = %q, want error containing %q", tt.ref, got, tt.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantErr) || !strings.Contains(msg, string(tt.ref)) {
				t.Errorf("error %q should contain %q and the reference", msg, tt.wantErr)
			}
			for _, v := range planted {
				if strings.Contains(msg, v) {
					t.Errorf("error %q leaks the secret value %q", msg, v)
				}
			}
			if got := errors.Is(err, ErrNotFound); got != tt.wantNotFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", got, tt.wantNotFound)
			}
			if !fault.IsPermanent(err) {
				t.Errorf("error %q is %v, want permanent", msg, fault.ClassOf(err))
			}
		})
	}
}

func TestResolveInvalidReference(t *testing.T) {
	// A value written where a reference belongs is a secret itself.
	for _, ref := range []pipeline.Secret{"", "plain-s3cr3t-value", "vault:s3cr3t", "env:", "secretsmanager:#key", "ssm:no-slash-s3cr3t"} {
		_, err := NewWithClients(newFakes()).Resolve(context.Background(), ref)
		if err == nil || !strings.Contains(err.Error(), "invalid secret reference") {
			t.Errorf("Resolve(%q): err = %v, want an invalid reference error", ref, err)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Resolve(%q): error %q quotes what may be a value", ref, err)
		}
		if !fault.IsPermanent(err) {
			t.Errorf("Resolve(%q): error is %v, want permanent", ref, fault.ClassOf(err))
		}
	}
}

func TestResolveWithoutClient(t *testing.T) {
	r := NewWithClients(nil, nil)
	for _, ref := range []pipeline.Secret{"secretsmanager:x", "ssm:/x"} {
		if _, err := r.Resolve(context.Background(), ref); err == nil || !strings.Contains(err.Error(), "no ") {
			t.Errorf("Resolve(%s) without a client: err = %v, want a 'no ... client' error", ref, err)
		}
	}
}

func TestResolveCachesPerSecret(t *testing.T) {
	sm, ps := newFakes()
	r := NewWithClients(sm, ps)
	ctx := context.Background()
	for range 3 {
		for _, ref := range []pipeline.Secret{"secretsmanager:client#client_id", "secretsmanager:client#client_secret", "ssm:/sluice/token"} {
			if _, err := r.Resolve(ctx, ref); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := sm.calls.Load(); n != 1 {
		t.Errorf("GetSecretValue called %d times for one secret, want 1", n)
	}
	if n := ps.calls.Load(); n != 1 {
		t.Errorf("GetParameter called %d times for one parameter, want 1", n)
	}
}

func TestResolveSharesConcurrentReads(t *testing.T) {
	sm, ps := newFakes()
	sm.block = make(chan struct{})
	r := NewWithClients(sm, ps)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			v, err := r.Resolve(context.Background(), "secretsmanager:client#client_secret")
			if err == nil && v != "sm-client-s3cr3t" {
				err = errors.New("wrong value")
			}
			errs <- err
		})
	}
	time.Sleep(50 * time.Millisecond) // let the readers pile up on the one call
	close(sm.block)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := sm.calls.Load(); n != 1 {
		t.Errorf("GetSecretValue called %d times by concurrent readers, want 1", n)
	}
}

func TestResolveDoesNotCacheErrors(t *testing.T) {
	sm, ps := newFakes()
	sm.err = errors.New("ThrottlingException: rate exceeded")
	r := NewWithClients(sm, ps)
	_, err := r.Resolve(context.Background(), "secretsmanager:plain")
	if err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Fatalf("err = %v, want the SDK error", err)
	}
	if fault.IsPermanent(err) {
		t.Errorf("a throttled read is permanent, want retryable")
	}
	sm.err = nil
	if v, err := r.Resolve(context.Background(), "secretsmanager:plain"); err != nil || v != "sm-plain-s3cr3t" {
		t.Fatalf("second Resolve = %q, %v; want the value", v, err)
	}
}

func TestResolveTimeout(t *testing.T) {
	sm, ps := newFakes()
	sm.block = make(chan struct{}) // never answers
	r := NewWithClients(sm, ps, WithTimeout(30*time.Millisecond))
	start := time.Now()
	_, err := r.Resolve(context.Background(), "secretsmanager:plain")
	if err == nil || !strings.Contains(err.Error(), "no answer within 30ms") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if fault.ClassOf(err) != fault.Retry {
		t.Errorf("timeout is %v, want retryable", fault.ClassOf(err))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Resolve took %v with a 30ms timeout", d)
	}
}

func TestResolveHonoursCallerContext(t *testing.T) {
	sm, ps := newFakes()
	sm.block = make(chan struct{})
	defer close(sm.block)
	r := NewWithClients(sm, ps, WithTimeout(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := r.Resolve(ctx, "secretsmanager:plain")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
}

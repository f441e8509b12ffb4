// Package devstacktest gives tests their own copy of Sluice's AWS
// resources on the local emulators: Start ensures the emulators run,
// provisions the queues, table and bucket under a prefix unique to the
// call, and removes them when the test ends.
//
// Tests never skip for want of emulators: if they cannot be started, the
// test fails with the reason (usually a missing Java 17+ or Node.js 20+,
// see scripts/stack.sh install). Set SLUICE_DEVSTACK=external to use
// emulators started elsewhere without ever starting them.
//
// It lives apart from package devstack so that package testing stays out of
// the binaries that import devstack.
package devstacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/sluice/shared/devstack"
)

// startTimeout bounds Ensure (a first install builds versitygw) and
// Provision; cleanupTimeout bounds the removal of one test's resources.
const (
	startTimeout   = 10 * time.Minute
	cleanupTimeout = 30 * time.Second
)

// Stack is one test's view of the local emulators and of its own resources.
type Stack struct {
	// Config reaches the emulators from any client built with NewFromConfig.
	Config    aws.Config
	Endpoints devstack.Endpoints
	Names     devstack.Names
	Resources devstack.Resources

	SQS      *sqs.Client
	DynamoDB *dynamodb.Client
	S3       *s3.Client
}

// Start ensures the emulators run, provisions the resources under a fresh
// prefix "t-<8 hex>" with opts, and registers their removal with t.Cleanup.
// It calls t.Fatal if any of that fails.
func Start(t testing.TB, opts devstack.Options) *Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()

	endpoints, err := devstack.Ensure(ctx)
	if err != nil {
		t.Fatalf("local AWS emulators unavailable: %v", err)
	}
	cfg, err := devstack.AWSConfig(ctx, endpoints)
	if err != nil {
		t.Fatalf("devstack: %v", err)
	}
	names := devstack.Names{Prefix: "t-" + randomHex(4)}
	s := &Stack{
		Config:    cfg,
		Endpoints: endpoints,
		Names:     names,
		SQS:       sqs.NewFromConfig(cfg),
		DynamoDB:  dynamodb.NewFromConfig(cfg),
		S3:        s3.NewFromConfig(cfg),
	}
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := devstack.Remove(ctx, cfg, names); err != nil {
			t.Logf("devstack: cleanup of %s incomplete: %v", names.Prefix, err)
		}
	})
	s.Resources, err = devstack.Provision(ctx, cfg, names, opts)
	if err != nil {
		t.Fatalf("devstack: %v", err)
	}
	return s
}

// Env returns the environment for a child process (a service under test)
// that consumes queue key: AWS settings, resource names, SLUICE_DLQ_URL and
// SLUICE_MAX_RECEIVE. Append it to os.Environ().
func (s *Stack) Env(key string) []string {
	return append(devstack.Env(s.Endpoints), s.Resources.ServiceEnv(key)...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

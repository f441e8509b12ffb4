package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"golang.org/x/sync/singleflight"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// DefaultTimeout bounds each AWS call a Resolver makes.
const DefaultTimeout = 10 * time.Second

// SecretsManager is the part of the Secrets Manager API a Resolver uses;
// *secretsmanager.Client implements it.
type SecretsManager interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ParameterStore is the part of the SSM API a Resolver uses; *ssm.Client
// implements it.
type ParameterStore interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

var (
	_ SecretsManager = (*secretsmanager.Client)(nil)
	_ ParameterStore = (*ssm.Client)(nil)
)

// ErrNotFound matches (with errors.Is) the error for a reference whose
// variable, secret, parameter or JSON key does not exist.
var ErrNotFound = errors.New("secret not found")

// Resolver resolves secret references to their values. Values read from
// AWS are cached per secret for the life of the Resolver, and concurrent
// reads of one secret share a single call. A Resolver is safe for
// concurrent use.
type Resolver struct {
	sm      func() SecretsManager
	ps      func() ParameterStore
	timeout time.Duration

	mu    sync.Mutex
	cache map[string]string // "scheme:name" → value as stored (the whole JSON string for #KEY references)
	calls singleflight.Group
}

// Option configures a Resolver.
type Option func(*Resolver)

// WithTimeout sets the deadline of each AWS call (default DefaultTimeout).
func WithTimeout(d time.Duration) Option {
	return func(r *Resolver) {
		if d > 0 {
			r.timeout = d
		}
	}
}

// New returns a Resolver that reads AWS secrets with clients built from
// cfg — the caller's AWS config, endpoints included — each built only when a
// reference first needs it, so that a service whose secrets all live in the
// environment never touches AWS.
func New(cfg aws.Config, opts ...Option) *Resolver {
	return newResolver(
		sync.OnceValue(func() SecretsManager { return secretsmanager.NewFromConfig(cfg) }),
		sync.OnceValue(func() ParameterStore { return ssm.NewFromConfig(cfg) }),
		opts)
}

// NewWithClients returns a Resolver that reads AWS secrets through sm and
// ps. Either may be nil when no reference uses its scheme; resolving such a
// reference is then an error.
func NewWithClients(sm SecretsManager, ps ParameterStore, opts ...Option) *Resolver {
	return newResolver(func() SecretsManager { return sm }, func() ParameterStore { return ps }, opts)
}

func newResolver(sm func() SecretsManager, ps func() ParameterStore, opts []Option) *Resolver {
	r := &Resolver{sm: sm, ps: ps, timeout: DefaultTimeout, cache: map[string]string{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Resolve returns the value s refers to. An empty value is an error: no
// credential is the empty string. The error names s, never the value; if s
// is not a valid reference it does not even name s, which may then be a
// value written where a reference belongs.
func (r *Resolver) Resolve(ctx context.Context, s pipeline.Secret) (string, error) {
	scheme, name, key, err := s.Parse()
	if err != nil {
		return "", fault.Permanent(fmt.Errorf("invalid secret reference: %w", err))
	}
	ref := secretRef{scheme: scheme, name: name, key: key}
	var v string
	if ref.scheme == pipeline.SecretEnv {
		var ok bool
		if v, ok = os.LookupEnv(ref.name); !ok {
			return "", fault.Permanent(fmt.Errorf("secret %s: %w", s, notFound("environment variable %s is not set", ref.name)))
		}
	} else if v, err = r.stored(ctx, ref); err != nil {
		return "", fmt.Errorf("secret %s: %w", s, err)
	}
	if ref.key != "" {
		if v, err = pick(v, ref.key); err != nil {
			return "", fault.Permanent(fmt.Errorf("secret %s: %w", s, err))
		}
	}
	if v == "" {
		return "", fault.Permanentf("secret %s: value is empty", s)
	}
	return v, nil
}

// stored returns the value of an AWS secret or parameter, from the cache
// or from AWS. Concurrent callers for one secret share one call, which runs
// under its own deadline so that one caller giving up does not fail the
// others; each caller still stops waiting when its ctx ends.
func (r *Resolver) stored(ctx context.Context, ref secretRef) (string, error) {
	id := ref.scheme + ":" + ref.name
	r.mu.Lock()
	v, ok := r.cache[id]
	r.mu.Unlock()
	if ok {
		return v, nil
	}
	ch := r.calls.DoChan(id, func() (any, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
		defer cancel()
		v, err := r.load(cctx, ref)
		if err != nil {
			return "", err
		}
		r.mu.Lock()
		r.cache[id] = v
		r.mu.Unlock()
		return v, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// load reads one secret or parameter from AWS.
func (r *Resolver) load(ctx context.Context, ref secretRef) (string, error) {
	switch ref.scheme {
	case pipeline.SecretSecretsManager:
		c := r.sm()
		if c == nil {
			return "", fault.Permanentf("no Secrets Manager client configured")
		}
		out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref.name)})
		var nf *smtypes.ResourceNotFoundException
		switch {
		case errors.As(err, &nf):
			return "", fault.Permanent(notFound("not found in Secrets Manager"))
		case err != nil:
			return "", r.awsError(ctx, "read from Secrets Manager", err)
		case out.SecretString == nil:
			return "", fault.Permanentf("is a binary secret; only SecretString secrets are supported")
		}
		return *out.SecretString, nil
	case pipeline.SecretSSM:
		c := r.ps()
		if c == nil {
			return "", fault.Permanentf("no SSM Parameter Store client configured")
		}
		out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(ref.name), WithDecryption: aws.Bool(true)})
		var nf *ssmtypes.ParameterNotFound
		var nv *ssmtypes.ParameterVersionNotFound
		switch {
		case errors.As(err, &nf), errors.As(err, &nv):
			return "", fault.Permanent(notFound("not found in SSM Parameter Store"))
		case err != nil:
			return "", r.awsError(ctx, "read from SSM Parameter Store", err)
		case out.Parameter == nil || out.Parameter.Value == nil:
			return "", nil // reported as empty by Resolve
		}
		return *out.Parameter.Value, nil
	}
	panic("secrets: no loader for scheme " + ref.scheme) // Secret.Parse accepted a scheme load does not know
}

// awsError wraps an SDK error. The SDK's messages carry the operation,
// status and request id, never a secret value.
func (r *Resolver) awsError(ctx context.Context, op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return fault.Retryable(fmt.Errorf("%s: no answer within %s: %w", op, r.timeout, err))
	}
	return fmt.Errorf("%s: %w", op, err)
}

// pick returns the string field key of the JSON object raw. Its errors
// describe the shape of raw, never its content.
func pick(raw, key string) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &obj); err != nil || obj == nil {
		return "", fmt.Errorf("value is not a JSON object, so it has no key %q", key)
	}
	field, ok := obj[key]
	if !ok {
		keys := slices.Sorted(maps.Keys(obj))
		return "", notFound("JSON object has no key %q (keys: %s)", key, strings.Join(keys, ", "))
	}
	if kind := jsonKind(field); kind != "string" {
		return "", fmt.Errorf("key %q holds %s, not a string", key, kind)
	}
	var s string
	if err := json.Unmarshal(field, &s); err != nil {
		return "", fmt.Errorf("key %q holds an invalid JSON string", key)
	}
	return s, nil
}

// jsonKind names the kind of a valid JSON value from its first byte.
func jsonKind(v json.RawMessage) string {
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// secretRef is a parsed pipeline.Secret.
type secretRef struct {
	scheme string // pipeline.SecretEnv, SecretSecretsManager or SecretSSM
	name   string // variable name, secret name or ARN, parameter name
	key    string // secretsmanager only: the JSON key to pick, "" for the whole string
}

// notFoundError is an error that matches ErrNotFound.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string        { return e.msg }
func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

func notFound(format string, args ...any) error {
	return &notFoundError{msg: fmt.Sprintf(format, args...)}
}

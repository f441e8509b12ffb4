package devstack

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// DefaultPrefix is the resource prefix of the demo and of `make up`.
const DefaultPrefix = "sluice"

// The queues of the pipeline, in pipeline order; Names.Queue and
// Resources.Queue take these keys.
const (
	Triggers = "triggers"
	Inputs   = "inputs"
	Fetch    = "fetch"
	Batches  = "batches"
)

// QueueKeys returns the four queue keys in pipeline order.
func QueueKeys() []string { return []string{Triggers, Inputs, Fetch, Batches} }

// maxPrefixLen keeps every derived name valid: the bucket "<p>-data" must
// fit S3's 63 characters, the longest queue "<p>-batches-dlq" SQS's 80.
const maxPrefixLen = 40

// Lowercase letters, digits and inner hyphens: valid in SQS queue names,
// DynamoDB table names and S3 bucket names alike.
var prefixRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// Names derives every resource name from one prefix, as the Terraform
// module does from its name_prefix (infra/modules/sluice; there the bucket
// name also ends in the account id). The zero value uses DefaultPrefix.
type Names struct {
	Prefix string
}

func (n Names) prefix() string {
	if n.Prefix == "" {
		return DefaultPrefix
	}
	return n.Prefix
}

// Validate reports a prefix that would make an invalid queue, table or
// bucket name.
func (n Names) Validate() error {
	p := n.prefix()
	switch {
	case len(p) > maxPrefixLen:
		return fmt.Errorf("prefix %q: longer than %d characters", p, maxPrefixLen)
	case !prefixRE.MatchString(p):
		return fmt.Errorf("prefix %q: want lowercase letters, digits and inner hyphens", p)
	case strings.Contains(p, "--"), strings.HasPrefix(p, "xn-"), strings.HasPrefix(p, "sthree-"):
		return fmt.Errorf("prefix %q: not allowed at the start of an S3 bucket name or doubled hyphen", p)
	}
	return nil
}

// Queue returns the name of queue key (Triggers, Inputs, Fetch, Batches): "<p>-<key>".
func (n Names) Queue(key string) string { return n.prefix() + "-" + key }

// DLQ returns the name of the dead-letter queue of queue key: "<p>-<key>-dlq".
func (n Names) DLQ(key string) string { return n.Queue(key) + "-dlq" }

// Table returns the runs table name: "<p>-runs".
func (n Names) Table() string { return n.prefix() + "-runs" }

// Bucket returns the data bucket name: "<p>-data".
func (n Names) Bucket() string { return n.prefix() + "-data" }

// Options tune the provisioned queues. Zero fields take the defaults.
type Options struct {
	// VisibilityTimeout of the four work queues, in whole seconds (default 30s).
	VisibilityTimeout time.Duration
	// MaxReceiveCount of each queue's RedrivePolicy (default 5). The
	// services' SLUICE_MAX_RECEIVE must equal it; Resources.ServiceEnv sets both.
	MaxReceiveCount int
}

// Defaults of Options.
const (
	DefaultVisibilityTimeout = 30 * time.Second
	DefaultMaxReceiveCount   = 5
)

// WithDefaults returns o with zero fields set to the defaults.
func (o Options) WithDefaults() Options {
	if o.VisibilityTimeout == 0 {
		o.VisibilityTimeout = DefaultVisibilityTimeout
	}
	if o.MaxReceiveCount == 0 {
		o.MaxReceiveCount = DefaultMaxReceiveCount
	}
	return o
}

// Validate reports every option SQS would reject, after defaults.
func (o Options) Validate() error {
	o = o.WithDefaults()
	var errs []error
	if o.VisibilityTimeout < time.Second || o.VisibilityTimeout > 12*time.Hour || o.VisibilityTimeout%time.Second != 0 {
		errs = append(errs, fmt.Errorf("visibility timeout %s: want whole seconds from 1s to 12h", o.VisibilityTimeout))
	}
	if o.MaxReceiveCount < 1 || o.MaxReceiveCount > 1000 {
		errs = append(errs, fmt.Errorf("max receive count %d: want 1 to 1000", o.MaxReceiveCount))
	}
	return errors.Join(errs...)
}

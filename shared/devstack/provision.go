package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"

	"github.com/sluice-data/sluice/shared/awsconf"
)

// TTLAttribute is the runs table's time-to-live attribute (epoch seconds).
const TTLAttribute = "expires_at"

// The runs table's sparse index of open runs, as package runs names it
// (runs.OpenIndex, runs.OpenAttribute; devstack does not import runs):
// keyed by the attribute only an open run carries, sorted by its lease.
const (
	OpenIndex      = "open-leases"
	OpenAttribute  = "lease_open"
	LeaseAttribute = "lease_until"
)

// dlqRetention keeps parked messages for SQS's maximum, 14 days.
const dlqRetention = 14 * 24 * time.Hour

// awsconf.CallTimeout bounds each AWS call of Provision; tableTimeout the
// wait for the table to become ACTIVE.
const (
	tableTimeout = 2 * time.Minute
)

// Queue is one provisioned work queue and its dead-letter queue.
type Queue struct {
	Name   string
	URL    string
	DLQURL string
}

// Resources are what Provision created for one prefix.
type Resources struct {
	Triggers Queue
	Inputs   Queue
	Fetch    Queue
	Batches  Queue
	Table    string
	Bucket   string
	// MaxReceiveCount is the queues' RedrivePolicy maxReceiveCount.
	MaxReceiveCount int
}

// Queue returns the queue for key (Triggers, Inputs, Fetch, Batches).
func (r Resources) Queue(key string) (Queue, bool) {
	switch key {
	case Triggers:
		return r.Triggers, true
	case Inputs:
		return r.Inputs, true
	case Fetch:
		return r.Fetch, true
	case Batches:
		return r.Batches, true
	}
	return Queue{}, false
}

func (r *Resources) setQueue(key string, q Queue) {
	switch key {
	case Triggers:
		r.Triggers = q
	case Inputs:
		r.Inputs = q
	case Fetch:
		r.Fetch = q
	case Batches:
		r.Batches = q
	}
}

// DLQFor returns the dead-letter queue URL of queue key, "" for an unknown key.
func (r Resources) DLQFor(key string) string {
	q, _ := r.Queue(key)
	return q.DLQURL
}

// Env returns the resource variables every service reads (KEY=VALUE):
// SLUICE_<QUEUE>_QUEUE_URL for the four queues, SLUICE_RUNS_TABLE, SLUICE_BUCKET.
func (r Resources) Env() []string {
	env := make([]string, 0, 6)
	for _, key := range QueueKeys() {
		q, _ := r.Queue(key)
		env = append(env, "SLUICE_"+strings.ToUpper(key)+"_QUEUE_URL="+q.URL)
	}
	return append(env, "SLUICE_RUNS_TABLE="+r.Table, "SLUICE_BUCKET="+r.Bucket)
}

// SweepEnv returns the DLQ URLs the scheduler's sweep reconciles:
// SLUICE_INPUTS_DLQ_URL, SLUICE_FETCH_DLQ_URL, SLUICE_BATCHES_DLQ_URL.
func (r Resources) SweepEnv() []string {
	return []string{
		"SLUICE_INPUTS_DLQ_URL=" + r.Inputs.DLQURL,
		"SLUICE_FETCH_DLQ_URL=" + r.Fetch.DLQURL,
		"SLUICE_BATCHES_DLQ_URL=" + r.Batches.DLQURL,
	}
}

// ServiceEnv returns Env plus what belongs to the service consuming queue
// key: SLUICE_DLQ_URL (that queue's DLQ) and SLUICE_MAX_RECEIVE (the
// queues' maxReceiveCount), and for the scheduler (Triggers) SweepEnv.
func (r Resources) ServiceEnv(key string) []string {
	env := r.Env()
	if key == Triggers {
		env = append(env, r.SweepEnv()...) // the scheduler's sweep
	}
	return append(env,
		"SLUICE_DLQ_URL="+r.DLQFor(key),
		"SLUICE_MAX_RECEIVE="+strconv.Itoa(r.MaxReceiveCount))
}

// Provision creates the resources of names, or brings existing ones to
// opts, and returns them. It is idempotent: a second call with the same
// arguments changes nothing, one with other options updates the queue
// attributes. cfg should come from AWSConfig (S3 needs path-style addressing).
//
// Each work queue gets VisibilityTimeout and a RedrivePolicy to its DLQ with
// MaxReceiveCount; each DLQ keeps messages 14 days. The table has pk/sk
// string keys, on-demand billing, TTL on expires_at and the sparse index
// OpenIndex of open runs.
func Provision(ctx context.Context, cfg aws.Config, names Names, opts Options) (Resources, error) {
	opts = opts.WithDefaults()
	if err := errors.Join(names.Validate(), opts.Validate()); err != nil {
		return Resources{}, fmt.Errorf("provision: %w", err)
	}
	p := provisioner{
		sqs: sqs.NewFromConfig(cfg),
		ddb: dynamodb.NewFromConfig(cfg),
		s3:  s3.NewFromConfig(cfg),
	}
	res := Resources{Table: names.Table(), Bucket: names.Bucket(), MaxReceiveCount: opts.MaxReceiveCount}
	keys := QueueKeys()
	queues := make([]Queue, len(keys))

	g, gctx := errgroup.WithContext(ctx)
	for i, key := range keys {
		g.Go(func() (err error) {
			queues[i], err = p.queue(gctx, names.Queue(key), names.DLQ(key), opts)
			return err
		})
	}
	g.Go(func() error { return p.table(gctx, res.Table) })
	g.Go(func() error { return p.bucket(gctx, res.Bucket) })
	if err := g.Wait(); err != nil {
		return Resources{}, fmt.Errorf("provision %s: %w", names.prefix(), err)
	}
	for i, key := range keys {
		res.setQueue(key, queues[i])
	}
	return res, nil
}

type provisioner struct {
	sqs *sqs.Client
	ddb *dynamodb.Client
	s3  *s3.Client
}

type redrivePolicy struct {
	DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	MaxReceiveCount     int    `json:"maxReceiveCount"`
}

func (p provisioner) queue(ctx context.Context, name, dlqName string, opts Options) (Queue, error) {
	dlqURL, err := p.createQueue(ctx, dlqName, map[string]string{
		string(sqstypes.QueueAttributeNameMessageRetentionPeriod): seconds(dlqRetention),
	})
	if err != nil {
		return Queue{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	attrs, err := p.sqs.GetQueueAttributes(cctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(dlqURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return Queue{}, fmt.Errorf("queue %s: get arn: %w", dlqName, err)
	}
	dlqArn := attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	if dlqArn == "" {
		return Queue{}, fmt.Errorf("queue %s: no QueueArn attribute", dlqName)
	}
	policy, err := json.Marshal(redrivePolicy{DeadLetterTargetArn: dlqArn, MaxReceiveCount: opts.MaxReceiveCount})
	if err != nil {
		return Queue{}, fmt.Errorf("queue %s: redrive policy: %w", name, err)
	}
	url, err := p.createQueue(ctx, name, map[string]string{
		string(sqstypes.QueueAttributeNameVisibilityTimeout): seconds(opts.VisibilityTimeout),
		string(sqstypes.QueueAttributeNameRedrivePolicy):     string(policy),
	})
	if err != nil {
		return Queue{}, err
	}
	return Queue{Name: name, URL: url, DLQURL: dlqURL}, nil
}

// createQueue creates queue name with attrs; if it exists with other
// attributes, it sets attrs on it instead.
func (p provisioner) createQueue(ctx context.Context, name string, attrs map[string]string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	out, err := p.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err == nil {
		return aws.ToString(out.QueueUrl), nil
	}
	if _, ok := errors.AsType[*sqstypes.QueueNameExists](err); !ok {
		return "", fmt.Errorf("queue %s: create: %w", name, err)
	}
	got, err := p.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("queue %s: get url: %w", name, err)
	}
	if _, err := p.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: got.QueueUrl, Attributes: attrs}); err != nil {
		return "", fmt.Errorf("queue %s: set attributes: %w", name, err)
	}
	return aws.ToString(got.QueueUrl), nil
}

func (p provisioner) table(ctx context.Context, name string) error {
	cctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	_, err := p.ddb.CreateTable(cctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String(OpenAttribute), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String(LeaseAttribute), AttributeType: ddbtypes.ScalarAttributeTypeN},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{openIndex()},
	})
	if _, exists := errors.AsType[*ddbtypes.ResourceInUseException](err); err != nil && !exists {
		return fmt.Errorf("table %s: create: %w", name, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(p.ddb, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 200 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, tableTimeout); err != nil {
		return fmt.Errorf("table %s: wait until active: %w", name, err)
	}
	if err := p.index(ctx, name); err != nil {
		return err
	}
	return p.ttl(ctx, name)
}

// openIndex is the runs table's sparse index of open runs (see
// runs.OpenIndex): keyed by OpenAttribute, which only an open run
// carries, and sorted by its lease expiry.
func openIndex() ddbtypes.GlobalSecondaryIndex {
	return ddbtypes.GlobalSecondaryIndex{
		IndexName: aws.String(OpenIndex),
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String(OpenAttribute), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String(LeaseAttribute), KeyType: ddbtypes.KeyTypeRange},
		},
		Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
	}
}

// index adds the open-runs index to a table made before it existed, and
// waits until it is ACTIVE.
func (p provisioner) index(ctx context.Context, table string) error {
	cctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	desc, err := p.ddb.DescribeTable(cctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return fmt.Errorf("table %s: describe: %w", table, err)
	}
	for _, g := range desc.Table.GlobalSecondaryIndexes {
		if aws.ToString(g.IndexName) == OpenIndex {
			return nil
		}
	}
	gsi := openIndex()
	_, err = p.ddb.UpdateTable(cctx, &dynamodb.UpdateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String(OpenAttribute), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String(LeaseAttribute), AttributeType: ddbtypes.ScalarAttributeTypeN},
		},
		GlobalSecondaryIndexUpdates: []ddbtypes.GlobalSecondaryIndexUpdate{{Create: &ddbtypes.CreateGlobalSecondaryIndexAction{
			IndexName: gsi.IndexName, KeySchema: gsi.KeySchema, Projection: gsi.Projection,
		}}},
	})
	if err != nil {
		return fmt.Errorf("table %s: add index %s: %w", table, OpenIndex, err)
	}
	deadline := time.Now().Add(tableTimeout)
	for {
		d, err := p.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return fmt.Errorf("table %s: describe: %w", table, err)
		}
		for _, g := range d.Table.GlobalSecondaryIndexes {
			if aws.ToString(g.IndexName) == OpenIndex && g.IndexStatus == ddbtypes.IndexStatusActive {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("table %s: index %s not ACTIVE after %v", table, OpenIndex, tableTimeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (p provisioner) ttl(ctx context.Context, table string) error {
	ctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	desc, err := p.ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		return fmt.Errorf("table %s: describe ttl: %w", table, err)
	}
	if d := desc.TimeToLiveDescription; d != nil && aws.ToString(d.AttributeName) == TTLAttribute &&
		(d.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabled || d.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabling) {
		return nil
	}
	_, err = p.ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{
			AttributeName: aws.String(TTLAttribute),
			Enabled:       aws.Bool(true),
		},
	})
	// A concurrent Provision may have enabled it between Describe and Update.
	if err != nil && !strings.Contains(err.Error(), "already enabled") {
		return fmt.Errorf("table %s: enable ttl on %s: %w", table, TTLAttribute, err)
	}
	return nil
}

func (p provisioner) bucket(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	_, err := p.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	if _, ok := errors.AsType[*s3types.BucketAlreadyOwnedByYou](err); ok {
		return nil
	}
	if _, ok := errors.AsType[*s3types.BucketAlreadyExists](err); ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bucket %s: create: %w", name, err)
	}
	return nil
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

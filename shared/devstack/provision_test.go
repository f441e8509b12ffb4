package devstack_test

import (
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
)

func TestProvisionIsIdempotent(t *testing.T) {
	t.Parallel()
	s := devstacktest.Start(t, devstack.Options{})

	again, err := devstack.Provision(t.Context(), s.Config, s.Names, devstack.Options{})
	if err != nil {
		t.Fatalf("second Provision: %v", err)
	}
	if again != s.Resources {
		t.Errorf("second Provision = %+v, want %+v", again, s.Resources)
	}

	// Other options converge the existing queues instead of failing.
	changed, err := devstack.Provision(t.Context(), s.Config, s.Names, devstack.Options{VisibilityTimeout: 7 * time.Second, MaxReceiveCount: 3})
	if err != nil {
		t.Fatalf("Provision with other options: %v", err)
	}
	attrs := queueAttributes(t, s, changed.Fetch.URL)
	if got := attrs["VisibilityTimeout"]; got != "7" {
		t.Errorf("VisibilityTimeout = %s, want 7", got)
	}
	var policy struct {
		DeadLetterTargetArn string      `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.Number `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(attrs["RedrivePolicy"]), &policy); err != nil {
		t.Fatalf("RedrivePolicy %q: %v", attrs["RedrivePolicy"], err)
	}
	if policy.MaxReceiveCount != "3" || !strings.HasSuffix(policy.DeadLetterTargetArn, ":"+s.Names.DLQ(devstack.Fetch)) {
		t.Errorf("RedrivePolicy = %+v, want maxReceiveCount 3 to %s", policy, s.Names.DLQ(devstack.Fetch))
	}
}

func TestProvisionedQueues(t *testing.T) {
	t.Parallel()
	s := devstacktest.Start(t, devstack.Options{})
	for _, key := range devstack.QueueKeys() {
		q, _ := s.Resources.Queue(key)
		if q.Name != s.Names.Queue(key) || q.URL == "" || q.DLQURL == "" || q.URL == q.DLQURL {
			t.Errorf("queue %s = %+v", key, q)
		}
		attrs := queueAttributes(t, s, q.URL)
		if attrs["VisibilityTimeout"] != "30" || !strings.Contains(attrs["RedrivePolicy"], s.Names.DLQ(key)) {
			t.Errorf("queue %s attributes = %v", key, attrs)
		}
	}
}

func TestMessageLandsInDLQAfterMaxReceiveCount(t *testing.T) {
	t.Parallel()
	const maxReceive = 2
	s := devstacktest.Start(t, devstack.Options{VisibilityTimeout: time.Second, MaxReceiveCount: maxReceive})
	q := s.Resources.Inputs
	ctx := t.Context()

	if _, err := s.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String("poison")}); err != nil {
		t.Fatalf("send: %v", err)
	}
	// Receive without deleting until the message stops coming back; each
	// receive waits out the 1s visibility timeout of the previous one.
	received := 0
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		out, err := s.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.URL), WaitTimeSeconds: 2,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
		})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		for _, m := range out.Messages {
			received++
			// The consumer compares this with SLUICE_MAX_RECEIVE.
			if got, want := m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)], strconv.Itoa(received); got != want {
				t.Errorf("ApproximateReceiveCount = %q, want %s", got, want)
			}
		}
		dlq, err := s.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.DLQURL)})
		if err != nil {
			t.Fatalf("receive from dlq: %v", err)
		}
		if len(dlq.Messages) == 1 && aws.ToString(dlq.Messages[0].Body) == "poison" {
			if received != maxReceive {
				t.Errorf("received %d times before the DLQ, want %d", received, maxReceive)
			}
			return
		}
	}
	t.Fatalf("message not in DLQ after %d receives", received)
}

func TestTableHasKeysAndTTL(t *testing.T) {
	t.Parallel()
	s := devstacktest.Start(t, devstack.Options{})
	ctx := t.Context()

	desc, err := s.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.Resources.Table)})
	if err != nil {
		t.Fatalf("describe table: %v", err)
	}
	tbl := desc.Table
	if tbl.TableStatus != ddbtypes.TableStatusActive {
		t.Errorf("status = %s, want ACTIVE", tbl.TableStatus)
	}
	if tbl.BillingModeSummary == nil || tbl.BillingModeSummary.BillingMode != ddbtypes.BillingModePayPerRequest {
		t.Errorf("billing = %+v, want PAY_PER_REQUEST", tbl.BillingModeSummary)
	}
	keys := map[string]ddbtypes.KeyType{}
	for _, k := range tbl.KeySchema {
		keys[aws.ToString(k.AttributeName)] = k.KeyType
	}
	if keys["pk"] != ddbtypes.KeyTypeHash || keys["sk"] != ddbtypes.KeyTypeRange {
		t.Errorf("key schema = %v, want pk HASH, sk RANGE", keys)
	}

	ttl, err := s.DynamoDB.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(s.Resources.Table)})
	if err != nil {
		t.Fatalf("describe ttl: %v", err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != devstack.TTLAttribute || d.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled {
		t.Errorf("ttl = %+v, want ENABLED on %s", ttl.TimeToLiveDescription, devstack.TTLAttribute)
	}
}

func TestBucketConditionalPut(t *testing.T) {
	t.Parallel()
	s := devstacktest.Start(t, devstack.Options{})
	ctx := t.Context()
	bucket := aws.String(s.Resources.Bucket)

	if _, err := s.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("plain/a.json"), Body: strings.NewReader("{}")}); err != nil {
		t.Fatalf("put: %v", err)
	}
	put := func() error {
		_, err := s.S3.PutObject(ctx, &s3.PutObjectInput{
			Bucket: bucket, Key: aws.String("runs/r1/part-0001.jsonl.gz"),
			Body: strings.NewReader("first"), IfNoneMatch: aws.String("*"),
		})
		return err
	}
	if err := put(); err != nil {
		t.Fatalf("first conditional put: %v", err)
	}
	err := put()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "PreconditionFailed" {
		t.Fatalf("second conditional put = %v, want PreconditionFailed", err)
	}
	got, err := s.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("runs/r1/part-0001.jsonl.gz")})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	body, err := io.ReadAll(got.Body)
	_ = got.Body.Close()
	if err != nil || string(body) != "first" {
		t.Errorf("object = %q, %v; want the first write's %q", body, err, "first")
	}
}

func queueAttributes(t *testing.T, s *devstacktest.Stack, url string) map[string]string {
	t.Helper()
	out, err := s.SQS.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("get queue attributes: %v", err)
	}
	return out.Attributes
}

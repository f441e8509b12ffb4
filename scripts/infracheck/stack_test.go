package infracheck

import (
	"encoding/json"
	"maps"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/zclconf/go-cty/cty"

	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
)

// TestStackMatchesTerraform provisions the local stack the tests and the
// demo use (with its defaults) and compares what it created with what
// Terraform declares: the table's keys and TTL attribute, each queue's
// maxReceiveCount and DLQ, and the DLQs' retention.
func TestStackMatchesTerraform(t *testing.T) {
	m := sluiceModule(t)
	s := m.newScope(t, nil)
	stack := devstacktest.Start(t, devstack.Options{})
	ctx := t.Context()

	// Table keys and TTL.
	table := m.resource(t, "aws_dynamodb_table.runs").Body
	wantKeys := map[string]string{}
	for _, k := range []string{"hash_key", "range_key"} {
		wantKeys[s.eval(t, attr(t, table, k).Expr, "", cty.NilVal).AsString()] = map[string]string{"hash_key": "HASH", "range_key": "RANGE"}[k]
	}
	wantTypes := map[string]string{}
	for _, a := range blocksOf(table, "attribute") {
		wantTypes[s.eval(t, attr(t, a.Body, "name").Expr, "", cty.NilVal).AsString()] = s.eval(t, attr(t, a.Body, "type").Expr, "", cty.NilVal).AsString()
	}
	desc, err := stack.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(stack.Resources.Table)})
	if err != nil {
		t.Fatal(err)
	}
	gotKeys := map[string]string{}
	for _, k := range desc.Table.KeySchema {
		gotKeys[aws.ToString(k.AttributeName)] = string(k.KeyType)
	}
	gotTypes := map[string]string{}
	for _, a := range desc.Table.AttributeDefinitions {
		gotTypes[aws.ToString(a.AttributeName)] = string(a.AttributeType)
	}
	if !mapsEqual(gotKeys, wantKeys) || !mapsEqual(gotTypes, wantTypes) {
		t.Errorf("table keys: local stack %v %v, Terraform %v %v", gotKeys, gotTypes, wantKeys, wantTypes)
	}
	ttl, err := stack.DynamoDB.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(stack.Resources.Table)})
	if err != nil {
		t.Fatal(err)
	}
	wantTTL := s.eval(t, attr(t, blocksOf(table, "ttl")[0].Body, "attribute_name").Expr, "", cty.NilVal).AsString()
	if got := aws.ToString(ttl.TimeToLiveDescription.AttributeName); got != wantTTL {
		t.Errorf("TTL attribute: local stack %q, Terraform %q", got, wantTTL)
	}

	// Queues: maxReceiveCount, DLQ, DLQ retention.
	wantReceive, _ := s.vars["max_receive_count"].AsBigFloat().Int64()
	wantRetention, _ := s.vars["dlq_message_retention_seconds"].AsBigFloat().Int64()
	for _, key := range devstack.QueueKeys() {
		q, _ := stack.Resources.Queue(key)
		attrs := queueAttributes(t, stack.SQS, q.URL, sqstypes.QueueAttributeNameRedrivePolicy)
		var policy struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     int64  `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(attrs[string(sqstypes.QueueAttributeNameRedrivePolicy)]), &policy); err != nil {
			t.Fatalf("queue %s: redrive policy: %v", key, err)
		}
		dlq := queueAttributes(t, stack.SQS, q.DLQURL, sqstypes.QueueAttributeNameQueueArn, sqstypes.QueueAttributeNameMessageRetentionPeriod)
		if policy.MaxReceiveCount != wantReceive {
			t.Errorf("queue %s: local maxReceiveCount %d, Terraform default %d", key, policy.MaxReceiveCount, wantReceive)
		}
		if policy.DeadLetterTargetArn != dlq[string(sqstypes.QueueAttributeNameQueueArn)] {
			t.Errorf("queue %s: local DLQ %s, not its own %s", key, policy.DeadLetterTargetArn, stack.Names.DLQ(key))
		}
		if got := dlq[string(sqstypes.QueueAttributeNameMessageRetentionPeriod)]; got != strconv.FormatInt(wantRetention, 10) {
			t.Errorf("DLQ of %s: local retention %s s, Terraform default %d s", key, got, wantRetention)
		}
	}
}

func queueAttributes(t *testing.T, api *sqs.Client, url string, names ...sqstypes.QueueAttributeName) map[string]string {
	t.Helper()
	out, err := api.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: names})
	if err != nil {
		t.Fatalf("attributes of %s: %v", url, err)
	}
	return out.Attributes
}

func mapsEqual(a, b map[string]string) bool { return maps.Equal(a, b) }

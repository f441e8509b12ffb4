package awsconf

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"
)

// fakeSQS answers SendMessage, SendMessageBatch, ReceiveMessage (with the
// bodies queued in receive, one call each) and DeleteMessage, with the
// MD5s the SDK checks.
func fakeSQS(t *testing.T, receive [][]string) *httptest.Server {
	t.Helper()
	sum := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			MessageBody string
			Entries     []struct{ Id, MessageBody string }
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		var out any = map[string]any{}
		switch op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS."); op {
		case "SendMessage":
			out = map[string]any{"MessageId": "m", "MD5OfMessageBody": sum(in.MessageBody)}
		case "SendMessageBatch":
			var ok []map[string]any
			for _, e := range in.Entries {
				ok = append(ok, map[string]any{"Id": e.Id, "MessageId": "m" + e.Id, "MD5OfMessageBody": sum(e.MessageBody)})
			}
			out = map[string]any{"Successful": ok}
		case "ReceiveMessage":
			var msgs []map[string]any
			if len(receive) > 0 {
				for i, b := range receive[0] {
					msgs = append(msgs, map[string]any{"MessageId": string(rune('a' + i)), "ReceiptHandle": "r", "Body": b, "MD5OfBody": sum(b)})
				}
				receive = receive[1:]
			}
			out = map[string]any{"Messages": msgs}
		case "DeleteMessage":
		default:
			t.Errorf("unexpected SQS operation %q", op)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_ = json.NewEncoder(w).Encode(out)
	}))
}

// SQS calls are billed as AWS bills them: one request per started 64 KiB
// of payload, at least one per call; empty receives apart.
func TestSQSBilledByPayload(t *testing.T) {
	kib := func(n int) string { return strings.Repeat("x", n<<10) }
	srv := fakeSQS(t, [][]string{{kib(100), kib(30)}, nil, {"small"}})
	defer srv.Close()
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_ENDPOINT_URL_SQS", srv.URL)
	c, err := Load(t.Context(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, q := t.Context(), aws.String(srv.URL+"/q")
	attrs := map[string]types.MessageAttributeValue{"sluice-error": {DataType: aws.String("String"), StringValue: aws.String(kib(1))}}
	calls := []func() error{
		func() error { // 1 KiB: 1
			_, err := c.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q, MessageBody: aws.String(kib(1))})
			return err
		},
		func() error { // 64 KiB of body and a 1 KiB attribute: 2
			_, err := c.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q, MessageBody: aws.String(kib(64)), MessageAttributes: attrs})
			return err
		},
		func() error { // 3 × 40 KiB in one call: 2
			var es []types.SendMessageBatchRequestEntry
			for _, id := range []string{"1", "2", "3"} {
				es = append(es, types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(kib(40))})
			}
			_, err := c.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q, Entries: es})
			return err
		},
		func() error { // 130 KiB received: 3, then nothing: empty, then 5 bytes: 1
			for range 3 {
				if _, err := c.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q}); err != nil {
					return err
				}
			}
			return nil
		},
		func() error { // no payload: 1
			_, err := c.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q, ReceiptHandle: aws.String("r")})
			return err
		},
	}
	for _, call := range calls {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int64{"SQS.SendMessage": 3, "SQS.SendMessageBatch": 2, "SQS.ReceiveMessage": 4, EmptyReceive: 1, "SQS.DeleteMessage": 1}
	got := c.Requests.SQSBilled()
	if len(got) != len(want) {
		t.Errorf("billed = %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("billed[%s] = %d, want %d (all: %v)", k, got[k], n, got)
		}
	}
	if p := c.Requests.SQSPayload()["SQS.ReceiveMessage"]; p != 130<<10+5 {
		t.Errorf("payload received = %d, want %d", p, 130<<10+5)
	}
	if n := c.Requests.Counts()["SQS.ReceiveMessage"]; n != 3 {
		t.Errorf("ReceiveMessage requests = %d, want 3 (billing must not change the request counts)", n)
	}
}

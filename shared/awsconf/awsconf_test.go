package awsconf

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aws/smithy-go/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestSDKLogger(t *testing.T) {
	tests := []struct {
		name  string
		class logging.Classification
		msg   string
		want  zapcore.Level
	}{
		{"known spurious checksum warning is demoted", logging.Warn, spuriousClose + ", response did not match expected checksum, 0, 1", zapcore.DebugLevel},
		{"other warnings stay warnings", logging.Warn, "retrying request", zapcore.WarnLevel},
		{"debug stays debug", logging.Debug, "request sent", zapcore.DebugLevel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			sdkLogger{zap.New(core)}.Logf(tt.class, "%s", tt.msg)
			if logs.Len() != 1 || logs.All()[0].Level != tt.want || logs.All()[0].Message != tt.msg {
				t.Fatalf("logged %v, want one %v line", logs.All(), tt.want)
			}
		})
	}
}

func TestLoadPathStyle(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("SLUICE_S3_FORCE_PATH_STYLE", "true")
	c, err := Load(t.Context(), zap.NewNop())
	if err != nil || !c.S3.Options().UsePathStyle {
		t.Fatalf("path style not set: %v", err)
	}
	t.Setenv("SLUICE_S3_FORCE_PATH_STYLE", "maybe")
	if _, err := Load(t.Context(), zap.NewNop()); err == nil {
		t.Fatal("a bad boolean must be an error")
	}
}

// TestSQSSkipsMessageMD5: a SendMessage whose reply carries a digest that
// is not the body's succeeds (see the package comment for why). Against a
// hand-built server, since the emulator always answers the right digest.
func TestSQSSkipsMessageMD5(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = io.WriteString(w, `{"MessageId":"m-1","MD5OfMessageBody":"00000000000000000000000000000000"}`)
	}))
	defer srv.Close()
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_ENDPOINT_URL_SQS", srv.URL)
	c, err := Load(t.Context(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SQS.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(srv.URL + "/q"), MessageBody: aws.String("body")})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
}

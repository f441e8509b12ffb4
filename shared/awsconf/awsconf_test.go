package awsconf

import (
	"testing"

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

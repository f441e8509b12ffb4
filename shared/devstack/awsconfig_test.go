package devstack_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/sluice/shared/devstack"
)

// Clients built from the config reach the given endpoints whatever the
// developer's environment says.
func TestAWSConfigIgnoresAmbientSettings(t *testing.T) {
	t.Setenv("AWS_PROFILE", "no-such-profile")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "someone-elses")
	t.Setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:1")
	e := devstack.Endpoints{DynamoDB: "http://127.0.0.1:1000", SQS: "http://127.0.0.1:1001", S3: "http://127.0.0.1:1002"}

	cfg, err := devstack.AWSConfig(t.Context(), e)
	if err != nil {
		t.Fatalf("AWSConfig: %v", err)
	}
	if cfg.Region != devstack.Region {
		t.Errorf("region = %s, want %s", cfg.Region, devstack.Region)
	}
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil || creds.AccessKeyID != devstack.AccessKeyID {
		t.Errorf("credentials = %s, %v; want %s", creds.AccessKeyID, err, devstack.AccessKeyID)
	}
	s3opts := s3.NewFromConfig(cfg).Options()
	got := []string{
		aws.ToString(dynamodb.NewFromConfig(cfg).Options().BaseEndpoint),
		aws.ToString(sqs.NewFromConfig(cfg).Options().BaseEndpoint),
		aws.ToString(s3opts.BaseEndpoint),
	}
	want := []string{e.DynamoDB, e.SQS, e.S3}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("base endpoints = %v, want %v", got, want)
			break
		}
	}
	if !s3opts.UsePathStyle {
		t.Error("S3 client not path-style")
	}
}

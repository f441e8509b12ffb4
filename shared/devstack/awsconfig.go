package devstack

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// AWSConfig returns a config for the emulators at e: static local
// credentials, region us-east-1, and per-service options (applied by every
// client built with NewFromConfig) that set each service's BaseEndpoint and
// S3 path-style addressing, which versitygw needs.
//
// The config is built by hand rather than by config.LoadDefaultConfig so
// that nothing in the developer's environment (AWS_PROFILE, ~/.aws, AWS_*
// variables) can redirect or break a local run. The error is always nil
// today; ctx and the error leave room for a loader that needs them.
func AWSConfig(_ context.Context, e Endpoints) (aws.Config, error) {
	return aws.Config{
		Region:      Region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")),
		ServiceOptions: []func(string, any){func(_ string, options any) {
			switch o := options.(type) {
			case *dynamodb.Options:
				o.BaseEndpoint = aws.String(e.DynamoDB)
			case *sqs.Options:
				o.BaseEndpoint = aws.String(e.SQS)
			case *s3.Options:
				o.BaseEndpoint = aws.String(e.S3)
				o.UsePathStyle = true
			}
		}},
	}, nil
}

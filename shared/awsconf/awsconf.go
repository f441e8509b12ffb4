// Package awsconf loads the one AWS configuration a service uses, from the
// standard sources (environment, shared config, the Lambda role), and
// builds the SQS, DynamoDB and S3 clients from it.
//
// Endpoints come from the SDK's standard variables, so the same binary runs
// against AWS and against local emulators:
//
//	AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_S3
//
// S3 emulators reached by IP address need path-style requests; set
// SLUICE_S3_FORCE_PATH_STYLE=true for them.
//
// The SQS client does not check the MD5 digests SQS returns of the bodies
// sent and received (DisableMessageChecksumValidation): on AWS every request
// is TLS, whose records are authenticated, so a body changed in transit is
// refused by the connection already; a batch's payload carries its own
// CRC-32, record count and length, which the writer checks before it stages
// anything (pack.Verify); every other message is small and decoded strictly.
// The MD5 of each 1 MiB batch, sent and again received, was the SDK's
// largest cost in the fetcher's profile.
package awsconf

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/logging"
	"go.uber.org/zap"
)

// CallTimeout bounds one AWS call — a request and the SDK's retries of it —
// wherever Sluice makes one (the run store, the queues, the consumer,
// sluicectl, the local provisioning). Each call gets its own: a caller's
// longer deadline never lets one call hang. The sink's S3 transfers have a
// longer bound of their own (sink's transferTimeout).
const CallTimeout = 10 * time.Second

// Clients are the AWS clients Sluice's services use.
type Clients struct {
	Config   aws.Config
	SQS      *sqs.Client
	DynamoDB *dynamodb.Client
	S3       *s3.Client
	// Requests counts every request the clients send.
	Requests *Requests
}

// Load reads the AWS configuration and builds the clients. The SDK's own
// log lines go to log, as JSON like every other line.
func Load(ctx context.Context, log *zap.Logger) (*Clients, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithLogger(sdkLogger{log.Named("aws-sdk")}))
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	pathStyle := false
	if v := os.Getenv("SLUICE_S3_FORCE_PATH_STYLE"); v != "" {
		if pathStyle, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("SLUICE_S3_FORCE_PATH_STYLE=%q: %w", v, err)
		}
	}
	requests := &Requests{}
	cfg.APIOptions = append(cfg.APIOptions, requests.middleware, requests.billing)
	return &Clients{
		Requests: requests,
		Config:   cfg,
		SQS:      sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.DisableMessageChecksumValidation = true }),
		DynamoDB: dynamodb.NewFromConfig(cfg),
		S3:       s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = pathStyle }),
	}, nil
}

// sdkLogger writes the SDK's log lines through zap.
type sdkLogger struct{ log *zap.Logger }

// spuriousClose is the warning the DynamoDB client logs for every error
// response without an x-amz-crc32 header (aws/aws-sdk-go-v2#3545): the body
// is checked against a checksum of 0. Real DynamoDB and DynamoDB Local omit
// the header on errors such as ConditionalCheckFailedException, which
// Sluice gets on every lost claim, so the line is demoted to debug.
const spuriousClose = "failed to close HTTP response body, this may affect connection reuse"

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	switch {
	case c == logging.Warn && strings.HasPrefix(msg, spuriousClose):
		l.log.Debug(msg, zap.String("upstream_issue", "aws/aws-sdk-go-v2#3545"))
	case c == logging.Warn:
		l.log.Warn(msg)
	default:
		l.log.Debug(msg)
	}
}

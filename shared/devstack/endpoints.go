package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Local credentials and region; the emulators accept any keys, versitygw is
// started with these as its root account.
const (
	Region          = "us-east-1"
	AccessKeyID     = "sluicelocal"
	SecretAccessKey = "sluicelocalsecret"
)

// Default ports of the local emulators, overridden by SLUICE_DDB_PORT,
// SLUICE_SQS_PORT and SLUICE_S3_PORT (the same variables scripts/stack.sh
// reads). They lie below the ephemeral range of Linux (32768–60999) and of
// macOS and Windows (49152–65535): a port in it can be taken at any moment
// by the local end of some outgoing connection, and an emulator restarted
// on a long-lived machine then fails to bind.
const (
	DefaultDynamoDBPort = 28000
	DefaultSQSPort      = 28001
	DefaultS3Port       = 28002
)

// Endpoints are the base URLs of the three emulators.
type Endpoints struct {
	DynamoDB string
	SQS      string
	S3       string
}

// LocalEndpoints returns http://127.0.0.1:<port> for each emulator, with the
// default ports or the SLUICE_*_PORT overrides. An override that is not a
// port number is ignored.
func LocalEndpoints() Endpoints {
	return Endpoints{
		DynamoDB: localURL("SLUICE_DDB_PORT", DefaultDynamoDBPort),
		SQS:      localURL("SLUICE_SQS_PORT", DefaultSQSPort),
		S3:       localURL("SLUICE_S3_PORT", DefaultS3Port),
	}
}

func localURL(env string, port int) string {
	if v, err := strconv.Atoi(os.Getenv(env)); err == nil && v > 0 && v < 65536 {
		port = v
	}
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// Env returns the environment (KEY=VALUE) that points the AWS SDK of a child
// process at e: region, local credentials, AWS_ENDPOINT_URL_* and
// SLUICE_S3_FORCE_PATH_STYLE=true. Append it to os.Environ(); later entries win.
func Env(e Endpoints) []string {
	return []string{
		"AWS_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_ENDPOINT_URL_DYNAMODB=" + e.DynamoDB,
		"AWS_ENDPOINT_URL_SQS=" + e.SQS,
		"AWS_ENDPOINT_URL_S3=" + e.S3,
		"SLUICE_S3_FORCE_PATH_STYLE=true",
	}
}

// probeTimeout bounds each health request; the emulators answer in
// milliseconds when up, and a refused connection fails at once.
const probeTimeout = 2 * time.Second

// Check makes one cheap, real API call to each emulator (ListTables,
// ListQueues, ListBuckets) without retries and reports every one that
// does not answer.
func (e Endpoints) Check(ctx context.Context) error {
	cfg, err := AWSConfig(ctx, e)
	if err != nil {
		return err
	}
	cfg.RetryMaxAttempts = 1
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }

	probe := func(name, url string, call func(context.Context) error) error {
		ctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		if err := call(ctx); err != nil {
			return fmt.Errorf("%s at %s: %w", name, url, err)
		}
		return nil
	}
	ddb := dynamodb.NewFromConfig(cfg)
	q := sqs.NewFromConfig(cfg)
	s := s3.NewFromConfig(cfg)
	return errors.Join(
		probe("dynamodb", e.DynamoDB, func(ctx context.Context) error {
			_, err := ddb.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
			return err
		}),
		probe("sqs", e.SQS, func(ctx context.Context) error {
			_, err := q.ListQueues(ctx, &sqs.ListQueuesInput{MaxResults: aws.Int32(1)})
			return err
		}),
		probe("s3", e.S3, func(ctx context.Context) error {
			_, err := s.ListBuckets(ctx, &s3.ListBucketsInput{})
			return err
		}),
	)
}

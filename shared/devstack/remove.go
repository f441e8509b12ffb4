package devstack

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Remove deletes, best effort, everything named by names: the queues and
// DLQs, the runs table, the bucket's objects and the bucket. What does not
// exist is skipped; the error joins every deletion that failed. cfg should
// come from AWSConfig.
func Remove(ctx context.Context, cfg aws.Config, names Names) error {
	sqsc, ddb, s3c := sqs.NewFromConfig(cfg), dynamodb.NewFromConfig(cfg), s3.NewFromConfig(cfg)
	var errs []error
	for _, key := range QueueKeys() {
		for _, name := range []string{names.Queue(key), names.DLQ(key)} {
			url, err := sqsc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
			if err != nil {
				continue // never created
			}
			if _, err := sqsc.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: url.QueueUrl}); err != nil {
				errs = append(errs, fmt.Errorf("delete queue %s: %w", name, err))
			}
		}
	}
	if _, err := ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(names.Table())}); err != nil && !isNotFound(err) {
		errs = append(errs, fmt.Errorf("delete table %s: %w", names.Table(), err))
	}
	if err := emptyAndDeleteBucket(ctx, s3c, names.Bucket()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func emptyAndDeleteBucket(ctx context.Context, s3c *s3.Client, bucket string) error {
	pages := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			if isNotFound(err) {
				return nil
			}
			return fmt.Errorf("list bucket %s: %w", bucket, err)
		}
		for _, obj := range page.Contents {
			if _, err := s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: obj.Key}); err != nil {
				return fmt.Errorf("delete s3://%s/%s: %w", bucket, aws.ToString(obj.Key), err)
			}
		}
	}
	if _, err := s3c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	return nil
}

func isNotFound(err error) bool {
	var coded interface{ ErrorCode() string }
	if !errors.As(err, &coded) {
		return false
	}
	switch coded.ErrorCode() {
	case "ResourceNotFoundException", "NoSuchBucket", "NotFound":
		return true
	}
	return false
}

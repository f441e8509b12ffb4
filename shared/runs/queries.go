package runs

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/fault"
)

// Get returns the current run of input.
func (s *Store) Get(ctx context.Context, input string) (Run, error) {
	ctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.cfg.Table), Key: itemKey(input), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Run{}, fault.Retryable(fmt.Errorf("get run %s: %w", input, err))
	}
	if out.Item == nil {
		return Run{}, fmt.Errorf("get run %s: %w", input, ErrNotFound)
	}
	return decodeRun(out.Item)
}

// History returns the attempts of input, oldest first. The run item
// stands for its own attempt where it is newer than that attempt's
// history item or there is none (a claim writes only the run item): so
// the current attempt is always shown as it stands. One query reads both,
// the run item sorting after the ATTEMPT# items of its partition.
func (s *Store) History(ctx context.Context, input string) ([]Run, error) {
	pages := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.cfg.Table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(input)},
		ConsistentRead:            aws.Bool(true),
	})
	var current map[string]types.AttributeValue
	list, err := collect(ctx, "history of "+input, pages.HasMorePages, func(ctx context.Context) ([]map[string]types.AttributeValue, error) {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		items := out.Items[:0:0]
		for _, item := range out.Items {
			switch sk, _ := item["sk"].(*types.AttributeValueMemberS); {
			case sk != nil && sk.Value == skRun:
				current = item
			case sk != nil && strings.HasPrefix(sk.Value, skAttempt):
				items = append(items, item)
			}
		}
		return items, nil
	})
	if err != nil || current == nil {
		return list, err
	}
	run, err := decodeRun(current)
	if err != nil {
		return nil, err
	}
	return withCurrent(list, run), nil
}

// withCurrent is the history list (oldest first) with run in place of its
// attempt's entry when run is no older (transitions such as BatchWritten
// record progress on the run item without a new revision), or added when
// the attempt has none.
func withCurrent(list []Run, run Run) []Run {
	if run.Attempt < 1 {
		return list
	}
	i, found := slices.BinarySearchFunc(list, run.Attempt, func(r Run, n int) int { return cmp.Compare(r.Attempt, n) })
	switch {
	case !found:
		return slices.Insert(list, i, run)
	case list[i].Rev <= run.Rev:
		list[i] = run
	}
	return list
}

// List returns every current run (a scan: for operators, not hot paths).
func (s *Store) List(ctx context.Context) ([]Run, error) {
	pages := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{
		TableName:                 aws.String(s.cfg.Table),
		FilterExpression:          aws.String("sk = :run"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":run": str(skRun)},
		ConsistentRead:            aws.Bool(true),
	})
	return collect(ctx, "list runs", pages.HasMorePages, func(ctx context.Context) ([]map[string]types.AttributeValue, error) {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		return out.Items, nil
	})
}

// collect decodes the runs of every page, each page read under its own
// deadline.
func collect(ctx context.Context, op string, more func() bool, next func(context.Context) ([]map[string]types.AttributeValue, error)) ([]Run, error) {
	var out []Run
	for more() {
		cctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
		items, err := next(cctx)
		cancel()
		if err != nil {
			return nil, fault.Retryable(fmt.Errorf("%s: %w", op, err))
		}
		for _, item := range items {
			r, err := decodeRun(item)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

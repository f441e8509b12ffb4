package runs_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
)

// throttledDB answers each BatchGetItem for its first half of keys only,
// leaving the rest unprocessed, as DynamoDB does under throttling or past
// 16 MB.
type throttledDB struct {
	runs.DynamoDB
	calls int
}

func (d *throttledDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	d.calls++
	for table, ka := range in.RequestItems {
		if len(ka.Keys) < 2 {
			break
		}
		half := len(ka.Keys) / 2
		first := ka
		first.Keys = ka.Keys[:half]
		out, err := d.DynamoDB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{table: first}}, opts...)
		if err != nil {
			return nil, err
		}
		rest := ka
		rest.Keys = ka.Keys[half:]
		out.UnprocessedKeys = map[string]types.KeysAndAttributes{table: rest}
		return out, nil
	}
	return d.DynamoDB.BatchGetItem(ctx, in, opts...)
}

// GetMany asks again for the keys DynamoDB left unprocessed.
func TestGetManyReadsUnprocessedKeys(t *testing.T) {
	st := devstacktest.Start(t, devstackOptions)
	db := &throttledDB{DynamoDB: st.DynamoDB}
	s, err := runs.New(db, runs.Config{Table: st.Resources.Table})
	if err != nil {
		t.Fatal(err)
	}
	var inputs []string
	for i := range 8 {
		w := fmt.Sprintf("2026-11-%02d", i+1)
		runstest.Put(t, st.DynamoDB, st.Resources.Table, runs.Run{Source: "orders", Window: w, Status: runs.Succeeded, Attempt: 1})
		inputs = append(inputs, "orders/"+w)
	}
	got, err := s.GetMany(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 8 || db.calls < 4 {
		t.Fatalf("%d runs in %d calls, want all 8, the unprocessed keys asked for again (8 → 4 → 2 → 1 → 1)", len(got), db.calls)
	}
}

// refusingDB answers every BatchGetItem as DynamoDB answers a malformed one.
type refusingDB struct{ runs.DynamoDB }

func (refusingDB) BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "ValidationException", Message: "Provided list of item keys contains duplicates"}
}

// A request DynamoDB refuses as invalid fails the same way when asked
// again: GetMany classifies it permanent, not retryable.
func TestGetManyValidationIsPermanent(t *testing.T) {
	s, err := runs.New(refusingDB{}, runs.Config{Table: "runs"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.GetMany(context.Background(), []string{"orders/2026-11-01"})
	if err == nil || !fault.IsPermanent(err) {
		t.Fatalf("GetMany error %v (class %v), want a permanent one", err, fault.ClassOf(err))
	}
}

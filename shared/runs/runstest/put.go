package runstest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-data/sluice/shared/runs"
)

// Put writes each run as the current run item of its input in table, as
// the store would have left it: for tests that need runs in given states
// (every status, a failed window, old windows) without driving each one
// through its lifecycle. Input defaults to Source/Window.
func Put(t testing.TB, db runs.DynamoDB, table string, rs ...runs.Run) {
	t.Helper()
	for _, r := range rs {
		if r.Input == "" {
			r.Input = r.Source + "/" + r.Window
		}
		item, err := attributevalue.MarshalMap(r)
		if err != nil {
			t.Fatal(err)
		}
		item["sk"] = &types.AttributeValueMemberS{Value: "RUN"}
		if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatalf("put run %s: %v", r.Input, err)
		}
	}
}

package infracheck

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// operatorDynamoDBActions are the DynamoDB actions `sluicectl` calls on the
// runs table through shared/runs: runs/status (GetItem, Query, Scan, and
// BatchGetItem for status's GetMany/LatestSucceeded and --wait), release
// (UpdateItem, and the history PutItem). Kept by hand beside the commands;
// a command that calls another action adds it here and to operator.tf.
var operatorDynamoDBActions = []string{"GetItem", "Query", "Scan", "UpdateItem", "PutItem", "BatchGetItem"}

// The operator policy allows every DynamoDB action sluicectl calls: a
// missing one is an AccessDenied the operator meets first in production.
func TestOperatorPolicyAllowsSluicectlsDynamoDBActions(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "infra", "modules", "sluice", "operator.tf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range operatorDynamoDBActions {
		if !regexp.MustCompile(`"dynamodb:` + a + `"`).Match(b) {
			t.Errorf("operator.tf does not allow dynamodb:%s, which sluicectl calls", a)
		}
	}
}

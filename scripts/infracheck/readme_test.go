package infracheck

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// readmeActions matches an action list in the README's IAM tables:
// "dynamodb:PutItem/UpdateItem" is dynamodb:PutItem and dynamodb:UpdateItem.
var readmeActions = regexp.MustCompile("`([a-z0-9-]+):([A-Za-z/]+)`")

// readmeRows returns, for each row of infra/README.md whose first cell is
// one of names, the actions its cells list.
func readmeRows(t *testing.T, names []string) map[string][]string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, "infra/README.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for line := range strings.SplitSeq(string(src), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !slices.Contains(names, strings.TrimSpace(cells[1])) {
			continue
		}
		row := strings.TrimSpace(cells[1])
		if _, seen := out[row]; seen {
			continue // the first table naming it is the IAM one
		}
		for _, m := range readmeActions.FindAllStringSubmatch(line, -1) {
			for a := range strings.SplitSeq(m[2], "/") {
				out[row] = append(out[row], m[1]+":"+a)
			}
		}
		slices.Sort(out[row])
		out[row] = slices.Compact(out[row])
	}
	return out
}

// literalActions returns the sorted action literals of every `actions`
// list in expr (object items) or in body's statement blocks.
func literalActions(exprs ...hclsyntax.Expression) []string {
	var out []string
	for _, expr := range exprs {
		hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hclDiags {
			obj, ok := n.(*hclsyntax.ObjectConsExpr)
			if !ok {
				return nil
			}
			for _, item := range obj.Items {
				if keyName(item.KeyExpr) == "actions" {
					out = append(out, tupleStrings(item.ValueExpr)...)
				}
			}
			return nil
		})
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func tupleStrings(expr hclsyntax.Expression) []string {
	tuple, ok := expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		return nil
	}
	var out []string
	for _, e := range tuple.Exprs {
		if v, diags := e.Value(nil); !diags.HasErrors() && v.Type() == cty.String {
			out = append(out, v.AsString())
		}
	}
	return out
}

// TestReadmeIAMTables: the README's tables of what each function and the
// operator policy may do list exactly the actions the policies grant.
func TestReadmeIAMTables(t *testing.T) {
	m := sluiceModule(t)
	rows := readmeRows(t, append(slices.Clone(functionServices), "SendInputsAndTriggers", "ReadMoveDestinations", "RedriveDLQs", "ReadAndReleaseRuns", "ReadPublishedData", "ListPublishedData"))

	services := objectItems(t, m.locals["service_statements"].Expr)
	for _, s := range functionServices {
		if got, want := rows[s], literalActions(services[s]); !slices.Equal(got, want) {
			t.Errorf("infra/README.md, IAM row %s: lists %v, local.service_statements grants %v", s, got, want)
		}
	}
	operator := m.data["aws_iam_policy_document.operator"]
	if operator == nil {
		t.Fatal("no data.aws_iam_policy_document.operator")
	}
	for _, st := range blocksOf(operator.Body, "statement") {
		sid, ok := st.Body.Attributes["sid"]
		if !ok {
			t.Errorf("%s: operator statement without a sid", st.DefRange())
			continue
		}
		name, _ := sid.Expr.Value(nil)
		want := tupleStrings(attr(t, st.Body, "actions").Expr)
		slices.Sort(want)
		if got := rows[name.AsString()]; !slices.Equal(got, want) {
			t.Errorf("infra/README.md, operator row %s: lists %v, the policy grants %v", name.AsString(), got, want)
		}
	}
}

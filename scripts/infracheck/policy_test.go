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

// minMaxReceiveCount is the least maxReceiveCount a queue may have: below
// it, one throttled or crashed invocation too many parks a healthy message.
const minMaxReceiveCount = 5

// minVisibilityMultiplier: AWS's guidance for SQS event sources is a
// visibility timeout of at least 6 × the function timeout.
const minVisibilityMultiplier = 6

// TestQueuesHaveDLQs: every queue either is a DLQ or has a redrive policy
// to one with maxReceiveCount from var.max_receive_count, which must be at
// least 5; every DLQ has a redrive-allow policy naming its source queue.
func TestQueuesHaveDLQs(t *testing.T) {
	m := sluiceModule(t)
	queues := m.resourcesOf("aws_sqs_queue")
	dlqs := map[string]bool{}
	for name, q := range queues {
		a, ok := q.Body.Attributes["redrive_policy"]
		if !ok {
			continue
		}
		call, ok := a.Expr.(*hclsyntax.FunctionCallExpr)
		if !ok || call.Name != "jsonencode" || len(call.Args) != 1 {
			t.Errorf("%s: aws_sqs_queue.%s: redrive_policy must be jsonencode({...})", a.SrcRange, name)
			continue
		}
		items := objectItems(t, call.Args[0])
		target, ok := items["deadLetterTargetArn"]
		if !ok {
			t.Errorf("%s: aws_sqs_queue.%s: redrive_policy without deadLetterTargetArn", a.SrcRange, name)
			continue
		}
		for other := range queues {
			if other != name && refersTo(target, "aws_sqs_queue."+other) {
				dlqs[other] = true
			}
		}
		if count, ok := items["maxReceiveCount"]; !ok || !refersTo(count, "var.max_receive_count") {
			t.Errorf("%s: aws_sqs_queue.%s: maxReceiveCount must be var.max_receive_count (also SLUICE_MAX_RECEIVE)", a.SrcRange, name)
		}
	}
	for name, q := range queues {
		_, sourced := q.Body.Attributes["redrive_policy"]
		if !sourced && !dlqs[name] {
			t.Errorf("%s: aws_sqs_queue.%s has no redrive policy and is no queue's DLQ", q.DefRange(), name)
		}
	}
	if len(dlqs) == 0 {
		t.Fatal("no queue has a DLQ")
	}
	for dlq := range dlqs {
		found := false
		for _, p := range m.resourcesOf("aws_sqs_queue_redrive_allow_policy") {
			if refersTo(attr(t, p.Body, "queue_url").Expr, "aws_sqs_queue."+dlq) {
				found = true
				if !strings.Contains(m.text(attr(t, p.Body, "redrive_allow_policy").Expr.Range()), `"byQueue"`) {
					t.Errorf("%s: the redrive-allow policy of aws_sqs_queue.%s must be byQueue", p.DefRange(), dlq)
				}
			}
		}
		if !found {
			t.Errorf("aws_sqs_queue.%s (a DLQ) has no aws_sqs_queue_redrive_allow_policy", dlq)
		}
	}

	for _, tc := range []struct {
		count int64
		want  bool
	}{{1, false}, {minMaxReceiveCount - 1, false}, {minMaxReceiveCount, true}, {1000, true}, {1001, false}} {
		if got := m.validates(t, "max_receive_count", cty.NumberIntVal(tc.count)); got != tc.want {
			t.Errorf("var.max_receive_count = %d: accepted %v, want %v", tc.count, got, tc.want)
		}
	}
	if !m.validates(t, "max_receive_count", m.newScope(t, nil).vars["max_receive_count"]) {
		t.Error("the default of var.max_receive_count fails its own validation")
	}
}

// TestEventSourceMappings: every mapping reports batch item failures and
// caps its concurrency, and the cap cannot be set below SQS's minimum.
func TestEventSourceMappings(t *testing.T) {
	m := sluiceModule(t)
	mappings := m.resourcesOf("aws_lambda_event_source_mapping")
	if len(mappings) == 0 {
		t.Fatal("no aws_lambda_event_source_mapping")
	}
	s := m.newScope(t, nil)
	for name, esm := range mappings {
		types := s.eval(t, attr(t, esm.Body, "function_response_types").Expr, "", cty.NilVal)
		if !slices.Contains(stringsOf(t, types), "ReportBatchItemFailures") {
			t.Errorf("%s: aws_lambda_event_source_mapping.%s: function_response_types must include ReportBatchItemFailures", esm.DefRange(), name)
		}
		scaling := blocksOf(esm.Body, "scaling_config")
		if len(scaling) != 1 {
			t.Errorf("%s: aws_lambda_event_source_mapping.%s: no scaling_config (maximum_concurrency)", esm.DefRange(), name)
			continue
		}
		if _, ok := scaling[0].Body.Attributes["maximum_concurrency"]; !ok {
			t.Errorf("%s: aws_lambda_event_source_mapping.%s: scaling_config without maximum_concurrency", esm.DefRange(), name)
		}
	}
	// SQS event sources take maximum_concurrency from 2 to 1000.
	for _, tc := range []struct {
		n    int64
		want bool
	}{{1, false}, {2, true}, {1000, true}, {1001, false}} {
		v := cty.ObjectVal(map[string]cty.Value{"fetcher": cty.ObjectVal(map[string]cty.Value{"maximum_concurrency": cty.NumberIntVal(tc.n)})})
		if got := m.validates(t, "functions", v); got != tc.want {
			t.Errorf("functions.fetcher.maximum_concurrency = %d: accepted %v, want %v", tc.n, got, tc.want)
		}
	}
}

// TestVisibilityTimeouts evaluates each main queue's visibility timeout
// and its consumer's function timeout, for the defaults and for edge
// settings, and wants visibility >= 6 × timeout (+ batching window).
func TestVisibilityTimeouts(t *testing.T) {
	m := sluiceModule(t)
	fn := func(timeout, window int64) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{
			"timeout":                            cty.NumberIntVal(timeout),
			"maximum_batching_window_in_seconds": cty.NumberIntVal(window),
			"batch_size":                         cty.NumberIntVal(10),
		})
	}
	cases := []struct {
		name string
		set  map[string]cty.Value
	}{
		{"defaults", nil},
		{"longest timeouts and windows", map[string]cty.Value{"functions": cty.ObjectVal(map[string]cty.Value{
			"scheduler": fn(900, 300), "dedupe": fn(900, 300), "fetcher": fn(900, 300), "writer": fn(900, 300),
		})}},
		{"shortest timeouts", map[string]cty.Value{"functions": cty.ObjectVal(map[string]cty.Value{
			"scheduler": fn(1, 0), "dedupe": fn(1, 0), "fetcher": fn(180, 0), "writer": fn(1, 0),
		})}},
		{"large multiplier", map[string]cty.Value{"visibility_timeout_multiplier": cty.NumberIntVal(100)}},
	}
	queue := m.resource(t, "aws_sqs_queue.main")
	fnTimeout := attr(t, m.resource(t, "aws_lambda_function.service").Body, "timeout").Expr
	esm := m.resource(t, "aws_lambda_event_source_mapping.queue")
	if !refersTo(attr(t, esm.Body, "event_source_arn").Expr, "aws_sqs_queue.main") {
		t.Fatalf("%s: the mapping's queue is not aws_sqs_queue.main", esm.DefRange())
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := m.newScope(t, tc.set)
			// Which function consumes which queue: the mapping's for_each,
			// queue key → service key.
			consumers := s.eval(t, attr(t, esm.Body, "for_each").Expr, "", cty.NilVal)
			queueKeys := s.eval(t, attr(t, queue.Body, "for_each").Expr, "", cty.NilVal)
			if got, want := keysOf(consumers), keysOf(queueKeys); !slices.Equal(got, want) {
				t.Fatalf("queues %v but mappings for %v: every main queue needs one consumer", want, got)
			}
			for it := consumers.ElementIterator(); it.Next(); {
				k, service := it.Element()
				vis := s.eval(t, attr(t, queue.Body, "visibility_timeout_seconds").Expr, k.AsString(), service)
				timeout := s.eval(t, fnTimeout, service.AsString(), cty.NilVal)
				window := s.eval(t, attr(t, esm.Body, "maximum_batching_window_in_seconds").Expr, k.AsString(), service)
				v, _ := vis.AsBigFloat().Int64()
				to, _ := timeout.AsBigFloat().Int64()
				w, _ := window.AsBigFloat().Int64()
				if v < minVisibilityMultiplier*to+w && v != 43200 {
					t.Errorf("queue %s: visibility %d s < %d × %s timeout %d s + window %d s", k.AsString(), v, minVisibilityMultiplier, service.AsString(), to, w)
				}
				if v > 43200 {
					t.Errorf("queue %s: visibility %d s above SQS's 43200 s", k.AsString(), v)
				}
			}
		})
	}
	if m.validates(t, "visibility_timeout_multiplier", cty.NumberIntVal(minVisibilityMultiplier-1)) {
		t.Errorf("var.visibility_timeout_multiplier accepts %d", minVisibilityMultiplier-1)
	}
}

var (
	// iamAction is an IAM action literal, "service:Action".
	iamAction = regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z0-9*?]+$`)
	// requiredWildcard is the comment a `*` resource needs on the line
	// above it, saying why AWS requires it.
	requiredWildcard = regexp.MustCompile(`(#|//)\s*AWS requires "\*"`)
)

// TestIAM: every policy is built from aws_iam_policy_document; no Allow
// statement grants a wildcard action; a "*" resource needs a comment
// `# AWS requires "*": <why>` on the line above it.
func TestIAM(t *testing.T) {
	for _, dir := range moduleDirs {
		m := loadModule(t, dir)
		for key, b := range m.resources {
			for _, name := range []string{"policy", "assume_role_policy"} {
				a, ok := b.Body.Attributes[name]
				if !ok || b.Labels[0] == "aws_sns_topic" {
					continue
				}
				if !refersTo(a.Expr, "data.aws_iam_policy_document") {
					t.Errorf("%s: %s.%s is not an aws_iam_policy_document, so these checks cannot read it", a.SrcRange, key, name)
				}
			}
		}
		// Statements are written as statement blocks of policy documents
		// or as objects in locals that dynamic blocks expand; both are
		// checked wherever an `actions` or `resources` list is written.
		for _, b := range m.blocks {
			m.checkStatements(t, b.Body, "Allow")
		}
	}
}

func (m *module) checkStatements(t *testing.T, body *hclsyntax.Body, effect string) {
	t.Helper()
	if e, ok := body.Attributes["effect"]; ok {
		v, _ := e.Expr.Value(nil)
		if v.Type() == cty.String {
			effect = v.AsString()
		}
	}
	for name, a := range body.Attributes {
		m.checkStatementList(t, name, a.Expr, effect)
		hclsyntax.VisitAll(a.Expr, func(n hclsyntax.Node) (diags hclDiags) {
			if obj, ok := n.(*hclsyntax.ObjectConsExpr); ok {
				for _, item := range obj.Items {
					m.checkStatementList(t, keyName(item.KeyExpr), item.ValueExpr, "Allow")
				}
			}
			return nil
		})
	}
	for _, b := range body.Blocks {
		m.checkStatements(t, b.Body, effect)
	}
}

func (m *module) checkStatementList(t *testing.T, name string, expr hclsyntax.Expression, effect string) {
	t.Helper()
	tuple, ok := expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		return
	}
	for _, e := range tuple.Exprs {
		v, diags := e.Value(nil)
		if diags.HasErrors() || v.Type() != cty.String {
			continue
		}
		s := v.AsString()
		switch {
		case name == "actions" && iamAction.MatchString(s) && strings.ContainsAny(s, "*?") && effect != "Deny":
			t.Errorf("%s: wildcard action %q in an Allow statement; list the actions", e.Range(), s)
		case name == "resources" && s == "*":
			lines := strings.Split(string(m.src[fileBase(e.Range().Filename)]), "\n")
			line := expr.Range().Start.Line - 2 // the line above the attribute, 0-based
			if line < 0 || !requiredWildcard.MatchString(lines[line]) {
				t.Errorf("%s: resource \"*\" without a `# AWS requires \"*\": <why>` comment on the line above", e.Range())
			}
		}
	}
}

// TestBucket: every bucket blocks public access in all four ways and has
// a policy refusing plain HTTP on the bucket and its objects.
func TestBucket(t *testing.T) {
	m := sluiceModule(t)
	for name := range m.resourcesOf("aws_s3_bucket") {
		ref := "aws_s3_bucket." + name
		var blocked, tlsOnly bool
		for _, pab := range m.resourcesOf("aws_s3_bucket_public_access_block") {
			if !refersTo(attr(t, pab.Body, "bucket").Expr, ref) {
				continue
			}
			blocked = true
			for _, a := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
				if v, _ := attr(t, pab.Body, a).Expr.Value(nil); !v.RawEquals(cty.True) {
					t.Errorf("%s: %s must be true", pab.DefRange(), a)
				}
			}
		}
		for _, pol := range m.resourcesOf("aws_s3_bucket_policy") {
			if !refersTo(attr(t, pol.Body, "bucket").Expr, ref) {
				continue
			}
			for docName, doc := range m.data {
				if strings.HasPrefix(docName, "aws_iam_policy_document.") && refersTo(attr(t, pol.Body, "policy").Expr, "data."+docName) {
					tlsOnly = tlsOnly || m.deniesPlainHTTP(t, doc, ref)
				}
			}
		}
		if !blocked {
			t.Errorf("%s has no aws_s3_bucket_public_access_block", ref)
		}
		if !tlsOnly {
			t.Errorf("%s has no bucket policy denying aws:SecureTransport = false on the bucket and its objects", ref)
		}
	}
}

func (m *module) deniesPlainHTTP(t *testing.T, doc *hclsyntax.Block, bucket string) bool {
	t.Helper()
	for _, st := range blocksOf(doc.Body, "statement") {
		effect, _ := attr(t, st.Body, "effect").Expr.Value(nil)
		resources := m.text(attr(t, st.Body, "resources").Expr.Range())
		if effect.AsString() != "Deny" || !strings.Contains(resources, bucket+".arn,") || !strings.Contains(resources, bucket+".arn}/*") {
			continue
		}
		for _, c := range blocksOf(st.Body, "condition") {
			test, _ := attr(t, c.Body, "test").Expr.Value(nil)
			variable, _ := attr(t, c.Body, "variable").Expr.Value(nil)
			values, _ := attr(t, c.Body, "values").Expr.Value(nil)
			if test.AsString() == "Bool" && variable.AsString() == "aws:SecureTransport" && slices.Equal(stringsOf(t, values), []string{"false"}) {
				return true
			}
		}
	}
	return false
}

// waiver is a linter's inline ignore comment and what follows it.
var waiver = regexp.MustCompile(`(?m)(#|//)\s*(tfsec:ignore:[a-z0-9-]+|tflint-ignore:\s*[a-z0-9_,]+)(.*)$`)

// TestWaiversHaveReasons: every tfsec or tflint waiver says, on its own
// line, why the finding does not apply.
func TestWaiversHaveReasons(t *testing.T) {
	for _, rel := range terraformFiles(t) {
		src, err := os.ReadFile(filepath.Join(repoRoot, rel))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range waiver.FindAllSubmatch(src, -1) {
			if reason := strings.TrimSpace(string(m[3])); len(reason) < 20 {
				t.Errorf("%s: waiver %s without a reason after it", rel, m[2])
			}
		}
	}
}

// TestCodeHashFollowsZip: each function's source_code_hash is the SHA-256
// of the very zip it deploys, so a rebuilt zip with other bytes (and only
// that) updates the code.
func TestCodeHashFollowsZip(t *testing.T) {
	m := sluiceModule(t)
	for name, fn := range m.resourcesOf("aws_lambda_function") {
		filename := m.text(attr(t, fn.Body, "filename").Expr.Range())
		hash := attr(t, fn.Body, "source_code_hash").Expr
		call, ok := hash.(*hclsyntax.FunctionCallExpr)
		if !ok || call.Name != "filebase64sha256" || len(call.Args) != 1 || m.text(call.Args[0].Range()) != filename {
			t.Errorf("%s: aws_lambda_function.%s: source_code_hash must be filebase64sha256(%s)", hash.Range(), name, filename)
		}
	}
}

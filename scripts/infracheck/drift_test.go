package infracheck

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/queue"
)

// functionServices are the services deployed as functions, by directory.
var functionServices = []string{"scheduler", "dedupe", "fetcher", "writer"}

// sharedEnv returns the variables of the config structs under shared/
// that services embed (service.Config, runs.Config, ...); the local
// stack's own settings (devstack, demoapi) are not the services'.
func sharedEnv(t *testing.T) map[string]envSetting {
	t.Helper()
	all := envSettings(t, "shared")
	for name, s := range all {
		if strings.Contains(s.At, "/devstack/") || strings.Contains(s.At, "/demoapi/") {
			delete(all, name)
		}
	}
	return all
}

// terraformEnv returns the SLUICE_* variable names the module sets on the
// function of each service, read from the literal keys of the locals that
// build the environment (and of the *_environment locals a service's entry
// merges), and where each name's value is written.
func terraformEnv(t *testing.T, m *module) (common map[string]hclsyntax.Expression, perService map[string]map[string]hclsyntax.Expression) {
	t.Helper()
	common = map[string]hclsyntax.Expression{}
	for _, name := range []string{"shared_environment", "function_environment"} {
		maps.Copy(common, literalKeys(m.locals[name].Expr))
	}
	fnEnv := m.locals["function_environment"].Expr
	for _, ref := range []string{"local.shared_environment", "local.service_environment", "var.extra_environment"} {
		if !refersTo(fnEnv, ref) {
			t.Fatalf("%s: local.function_environment does not merge %s", fnEnv.Range(), ref)
		}
	}
	perService = map[string]map[string]hclsyntax.Expression{}
	items := objectItems(t, m.locals["service_environment"].Expr)
	for _, s := range functionServices {
		expr, ok := items[s]
		if !ok {
			t.Fatalf("local.service_environment has no entry for %s", s)
		}
		perService[s] = maps.Clone(common)
		maps.Copy(perService[s], literalKeys(expr))
		for name, local := range m.locals {
			if strings.HasSuffix(name, "_environment") && name != "stack_environment" && refersTo(expr, "local."+name) {
				maps.Copy(perService[s], literalKeys(local.Expr))
			}
		}
	}
	return common, perService
}

// literalKeys returns the SLUICE_* keys of every object constructor in expr.
func literalKeys(expr hclsyntax.Expression) map[string]hclsyntax.Expression {
	out := map[string]hclsyntax.Expression{}
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hclDiags {
		if obj, ok := n.(*hclsyntax.ObjectConsExpr); ok {
			for _, item := range obj.Items {
				if k := keyName(item.KeyExpr); envName.MatchString(k) {
					out[k] = item.ValueExpr
				}
			}
		}
		return nil
	})
	return out
}

// TestEnvironmentNames: Terraform sets on each function exactly the
// variables its main package reads (serviceReads: its config struct and
// the shared configs in it), no other, and every one it requires. TestPlan
// checks the same on the planned functions.
func TestEnvironmentNames(t *testing.T) {
	m := sluiceModule(t)
	_, perService := terraformEnv(t, m)
	for _, s := range functionServices {
		t.Run(s, func(t *testing.T) {
			reads := serviceReads(t, s)
			for name, expr := range perService[s] {
				if _, ok := reads[name]; !ok {
					t.Errorf("%s: Terraform sets %s on the %s function, which services/%s does not read", expr.Range(), name, s, s)
				}
			}
			for name, setting := range reads {
				if _, set := perService[s][name]; setting.Required && !set {
					t.Errorf("%s: %s is required by %s but Terraform does not set it", setting.At, name, s)
				}
			}
		})
	}
}

// TestSettingsFromOneVariable: each setting that code and infrastructure
// must agree on is passed to the code from the variable that configures
// the infrastructure side, and the defaults and limits agree.
func TestSettingsFromOneVariable(t *testing.T) {
	m := sluiceModule(t)
	_, perService := terraformEnv(t, m)
	queueBody := m.resource(t, "aws_sqs_queue.main").Body
	dlqBody := m.resource(t, "aws_sqs_queue.dlq").Body
	fnBody := m.resource(t, "aws_lambda_function.service").Body
	var preconditions []hclsyntax.Expression
	for _, lc := range blocksOf(fnBody, "lifecycle") {
		for _, p := range blocksOf(lc.Body, "precondition") {
			preconditions = append(preconditions, attr(t, p.Body, "condition").Expr)
		}
	}
	anyRefers := func(exprs []hclsyntax.Expression, name string) bool {
		return slices.ContainsFunc(exprs, func(e hclsyntax.Expression) bool { return refersTo(e, name) })
	}
	cases := []struct {
		env, service, variable string
		infra                  []hclsyntax.Expression // where the infrastructure side uses the variable
		what                   string
	}{
		{"SLUICE_MAX_RECEIVE", "fetcher", "var.max_receive_count", []hclsyntax.Expression{attr(t, queueBody, "redrive_policy").Expr}, "the queues' maxReceiveCount"},
		{"SLUICE_MAX_RECEIVE", "writer", "var.max_receive_count", []hclsyntax.Expression{attr(t, queueBody, "redrive_policy").Expr}, "the queues' maxReceiveCount"},
		{"SLUICE_MAX_MESSAGE_BYTES", "fetcher", "var.max_message_size", []hclsyntax.Expression{attr(t, queueBody, "max_message_size").Expr}, "the queues' max_message_size"},
		{"SLUICE_MAX_MESSAGE_BYTES", "fetcher", "var.max_message_size", []hclsyntax.Expression{attr(t, dlqBody, "max_message_size").Expr}, "the DLQs' max_message_size"},
		{"SLUICE_S3_PREFIX", "writer", "var.data_key_prefix", []hclsyntax.Expression{m.locals["bucket_objects_arn"].Expr}, "the writer's IAM object resource"},
		{"SLUICE_S3_PREFIX", "dedupe", "var.data_key_prefix", []hclsyntax.Expression{m.locals["bucket_objects_arn"].Expr}, "dedupe's IAM object resource"},
		{"SLUICE_HANDOFF_MARGIN", "fetcher", "var.handoff_margin_seconds", preconditions, "the fetcher timeout precondition"},
		{"SLUICE_COMPACT_RESERVE", "writer", "var.compact_reserve_seconds", preconditions, "the writer timeout precondition"},
	}
	for _, tc := range cases {
		value, ok := perService[tc.service][tc.env]
		switch {
		case !ok:
			t.Errorf("%s is not set on the %s function", tc.env, tc.service)
		case !refersTo(value, tc.variable):
			t.Errorf("%s: %s on %s is not set from %s", value.Range(), tc.env, tc.service, tc.variable)
		case !anyRefers(tc.infra, tc.variable):
			t.Errorf("%s does not use %s, so %s and %s can disagree", tc.what, tc.variable, tc.env, tc.what)
		}
	}

	s := m.newScope(t, nil)
	fetcher := envSettings(t, "services/fetcher")
	shared := sharedEnv(t)
	num := func(v cty.Value) int64 { n, _ := v.AsBigFloat().Int64(); return n }

	// Max receive count: Terraform, the local stack and the code's default
	// (consumer.DefaultConfig; SLUICE_MAX_RECEIVE has no envDefault tag, the
	// defaults are set before the environment is read).
	if _, tagged := shared["SLUICE_MAX_RECEIVE"]; !tagged {
		t.Error("SLUICE_MAX_RECEIVE is read by no config field")
	}
	if got, code := num(s.vars["max_receive_count"]), consumer.DefaultConfig().MaxReceive; got != int64(code) || got != devstack.DefaultMaxReceiveCount {
		t.Errorf("max receive count defaults disagree: var.max_receive_count %d, consumer.DefaultConfig %d, devstack %d", got, code, devstack.DefaultMaxReceiveCount)
	}

	// Message size: the queue limit is the code's limit, and the variable
	// accepts exactly what both the fetcher and SQS accept.
	minBytes := fetcherMinMessageBytes(t)
	if got := num(s.vars["max_message_size"]); got != queue.MaxMessageBytes || fetcher["SLUICE_MAX_MESSAGE_BYTES"].Default != strconv.Itoa(queue.MaxMessageBytes) {
		t.Errorf("var.max_message_size default %d, SLUICE_MAX_MESSAGE_BYTES envDefault %q, queue.MaxMessageBytes %d: want one value",
			got, fetcher["SLUICE_MAX_MESSAGE_BYTES"].Default, queue.MaxMessageBytes)
	}
	for _, tc := range []struct {
		n    int64
		want bool
	}{{1024, false}, {minBytes - 1, false}, {minBytes, true}, {queue.MaxMessageBytes, true}, {queue.MaxMessageBytes + 1, false}} {
		if got := m.validates(t, "max_message_size", cty.NumberIntVal(tc.n)); got != tc.want {
			t.Errorf("var.max_message_size = %d: accepted %v, want %v (the fetcher takes %d..%d)", tc.n, got, tc.want, minBytes, queue.MaxMessageBytes)
		}
	}

	// Hand-over margin: same default, and the fetcher timeout is checked
	// against it.
	margin, err := time.ParseDuration(fetcher["SLUICE_HANDOFF_MARGIN"].Default)
	if err != nil {
		t.Fatalf("SLUICE_HANDOFF_MARGIN envDefault: %v", err)
	}
	if got := num(s.vars["handoff_margin_seconds"]); time.Duration(got)*time.Second != margin {
		t.Errorf("var.handoff_margin_seconds default %d s, SLUICE_HANDOFF_MARGIN envDefault %s", got, margin)
	}

	// Compaction reserve: same default, and the writer timeout is checked
	// against it.
	reserve, err := time.ParseDuration(envSettings(t, "services/writer")["SLUICE_COMPACT_RESERVE"].Default)
	if err != nil {
		t.Fatalf("SLUICE_COMPACT_RESERVE envDefault: %v", err)
	}
	if got := num(s.vars["compact_reserve_seconds"]); time.Duration(got)*time.Second != reserve {
		t.Errorf("var.compact_reserve_seconds default %d s, SLUICE_COMPACT_RESERVE envDefault %s", got, reserve)
	}
}

// TestNamesMatchDevstack: the queues, their DLQ suffix, the table and the
// bucket are named alike by Terraform and by the local stack, the queues
// are the same four, and the table's TTL attribute is the one the code
// writes.
func TestNamesMatchDevstack(t *testing.T) {
	m := sluiceModule(t)
	const prefix = "acme-stg"
	names := devstack.Names{Prefix: prefix}
	s := m.newScope(t, map[string]cty.Value{"name_prefix": cty.StringVal(prefix)})

	queueKeys := keysOf(s.local(t, "queue_consumers"))
	want := slices.Sorted(slices.Values(devstack.QueueKeys()))
	if !slices.Equal(queueKeys, want) {
		t.Fatalf("Terraform's queues %v, the local stack's %v", queueKeys, want)
	}
	for _, k := range queueKeys {
		if got := s.eval(t, attr(t, m.resource(t, "aws_sqs_queue.main").Body, "name").Expr, k, cty.NilVal).AsString(); got != names.Queue(k) {
			t.Errorf("queue %s: Terraform names it %q, devstack %q", k, got, names.Queue(k))
		}
		if got := s.eval(t, attr(t, m.resource(t, "aws_sqs_queue.dlq").Body, "name").Expr, k, cty.NilVal).AsString(); got != names.DLQ(k) {
			t.Errorf("DLQ of %s: Terraform names it %q, devstack %q", k, got, names.DLQ(k))
		}
	}
	table := m.resource(t, "aws_dynamodb_table.runs").Body
	if got := s.eval(t, attr(t, table, "name").Expr, "", cty.NilVal).AsString(); got != names.Table() {
		t.Errorf("table: Terraform %q, devstack %q", got, names.Table())
	}
	ttl := blocksOf(table, "ttl")
	if len(ttl) != 1 {
		t.Fatal("aws_dynamodb_table.runs has no ttl block")
	}
	if got := s.eval(t, attr(t, ttl[0].Body, "attribute_name").Expr, "", cty.NilVal).AsString(); got != devstack.TTLAttribute {
		t.Errorf("TTL attribute: Terraform %q, devstack %q", got, devstack.TTLAttribute)
	}
	// The deployed bucket adds the account id to the local stack's name
	// (bucket names are global).
	ctx := s.ctx(nil)
	ctx.Variables["data"] = cty.ObjectVal(map[string]cty.Value{"aws_caller_identity": cty.ObjectVal(map[string]cty.Value{
		"current": cty.ObjectVal(map[string]cty.Value{"account_id": cty.StringVal("123456789012")}),
	})})
	bucket, diags := m.locals["bucket_name"].Expr.Value(ctx)
	if diags.HasErrors() {
		t.Fatalf("local.bucket_name: %s", diags.Error())
	}
	if want := names.Bucket() + "-123456789012"; bucket.AsString() != want {
		t.Errorf("bucket: Terraform %q, want devstack's %q plus the account id, %q", bucket.AsString(), names.Bucket(), want)
	}
}

// TestDevstackEnvIsDeployed: the variables the local stack hands each
// service that it reads are set by Terraform on its function, and what sluicectl
// reads is in the module's environment output.
func TestDevstackEnvIsDeployed(t *testing.T) {
	m := sluiceModule(t)
	_, perService := terraformEnv(t, m)
	consumers := m.newScope(t, nil).local(t, "queue_consumers")
	for _, key := range devstack.QueueKeys() {
		service := consumers.GetAttr(key).AsString()
		reads := serviceReads(t, service)
		for _, kv := range (devstack.Resources{}).ServiceEnv(key) {
			// The local stack hands every service the whole stack's
			// locations; a function gets those its service reads.
			name, _, _ := strings.Cut(kv, "=")
			if _, read := reads[name]; !read {
				continue
			}
			if _, ok := perService[service][name]; !ok {
				t.Errorf("the local stack sets %s for %s, Terraform does not", name, service)
			}
		}
	}
	stack := literalKeys(m.locals["stack_environment"].Expr)
	if !refersTo(attr(t, m.outputs["environment"].Body, "value").Expr, "local.stack_environment") {
		t.Error(`output "environment" is not local.stack_environment`)
	}
	for name, at := range sluiceLiterals(t, "services/sluicectl") {
		// The pipeline file is the operator's local copy, not the stack's.
		if _, ok := stack[name]; !ok && name != "SLUICE_PIPELINE_FILE" {
			t.Errorf("%s: sluicectl reads %s, which the environment output lacks", at, name)
		}
	}
	for _, key := range devstack.QueueKeys() {
		// sluicectl redrive builds SLUICE_<QUEUE>_QUEUE_URL from --queue.
		if name := "SLUICE_" + strings.ToUpper(key) + "_QUEUE_URL"; stack[name] == nil {
			t.Errorf("the environment output lacks %s (sluicectl redrive --queue %s)", name, key)
		}
	}
}

// TestVisibilityLimitMatchesDevstack: Terraform caps visibility at SQS's
// 12 hours, the bound the local stack validates.
func TestVisibilityLimitMatchesDevstack(t *testing.T) {
	const sqsMax = 12 * time.Hour
	if err := (devstack.Options{VisibilityTimeout: sqsMax}).Validate(); err != nil {
		t.Errorf("devstack rejects %s: %v", sqsMax, err)
	}
	if err := (devstack.Options{VisibilityTimeout: sqsMax + time.Second}).Validate(); err == nil {
		t.Errorf("devstack accepts %s", sqsMax+time.Second)
	}
	m := sluiceModule(t)
	s := m.newScope(t, map[string]cty.Value{"visibility_timeout_multiplier": cty.NumberIntVal(1000)})
	for it := s.local(t, "visibility_timeout_seconds").ElementIterator(); it.Next(); {
		k, v := it.Element()
		if n, _ := v.AsBigFloat().Int64(); time.Duration(n)*time.Second != sqsMax {
			t.Errorf("queue %s: visibility %d s with a huge multiplier, want the %s cap", k.AsString(), n, sqsMax)
		}
	}
}

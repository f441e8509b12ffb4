package infracheck

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// planContext is what the plan checks know besides the plan: what each
// service's entry point reads, which service consumes which queue (the
// module's local.queue_consumers, evaluated from the HCL), and which
// services the plan must deploy.
type planContext struct {
	reads     map[string]map[string]envSetting // service → variables its main package reads
	consumers map[string]string                // queue key → service key
	services  []string
}

// newPlanContext reads the services' configs and the module's consumers.
func newPlanContext(t *testing.T, services []string) planContext {
	t.Helper()
	c := planContext{reads: map[string]map[string]envSetting{}, consumers: map[string]string{}, services: services}
	for _, s := range functionServices {
		c.reads[s] = serviceReads(t, s)
	}
	m := sluiceModule(t)
	esm := m.resource(t, "aws_lambda_event_source_mapping.queue")
	consumers := m.newScope(t, nil).eval(t, attr(t, esm.Body, "for_each").Expr, "", cty.NilVal)
	for it := consumers.ElementIterator(); it.Next(); {
		k, v := it.Element()
		c.consumers[k.AsString()] = v.AsString()
	}
	return c
}

// planProblems checks a plan against the deploy rules and returns every
// problem found:
//
//   - every SQS queue has a redrive policy to a DLQ of its own (with
//     maxReceiveCount = var.max_receive_count >= 5), or is such a DLQ; every
//     DLQ keeps messages longer than its source and lets only its source
//     redrive to it (byQueue);
//   - every event source mapping reports batch item failures, caps its
//     concurrency (2..1000, at most the function's reserved concurrency)
//     and reads a queue whose visibility timeout is at least 6 × its
//     function's timeout + batching window;
//   - every function has exactly the environment its main package reads:
//     nothing it does not read, every variable it requires, the transport,
//     its DLQ, the queues' maxReceiveCount and max_message_size, and the
//     writer's S3 prefix (set exactly when var.data_key_prefix is);
//   - no IAM policy (documents and JSON) allows a wildcard action.
func planProblems(p *plan, c planContext) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	maxReceive, ok := number(p.vars["max_receive_count"])
	if !ok {
		add("the plan has no root variable max_receive_count")
	} else if maxReceive < minMaxReceiveCount {
		add("var.max_receive_count = %d, below %d", maxReceive, minMaxReceiveCount)
	}
	prefix, _ := p.vars["data_key_prefix"].(string)

	// Queues and their DLQs.
	queues := p.all("aws_sqs_queue")
	if len(queues) == 0 {
		add("no aws_sqs_queue in the plan")
	}
	dlqOf := map[*instance]*instance{}
	isDLQ := map[*instance]bool{}
	for _, q := range queues {
		// The provider plans an unset redrive_policy as unknown (it is
		// optional and computed): a queue has one if it is configured or
		// planned as a known policy.
		rp, _ := q.Values["redrive_policy"].(string)
		_, configured := p.refs[q.resource()]["redrive_policy"]
		if !configured && rp == "" {
			continue // a DLQ, or a queue without one (reported below)
		}
		dlq, why := p.linked(q, "redrive_policy", "aws_sqs_queue", "each.key", "")
		if dlq == nil {
			add("%s: redrive policy: %s", q.Address, why)
			continue
		}
		if dlq == q {
			add("%s: its redrive policy names itself", q.Address)
			continue
		}
		dlqOf[q], isDLQ[dlq] = dlq, true
		if q.unknown("redrive_policy") {
			if !slices.Contains(p.refs[q.resource()]["redrive_policy"], "var.max_receive_count") {
				add("%s: maxReceiveCount of the redrive policy is not var.max_receive_count (also SLUICE_MAX_RECEIVE)", q.Address)
			}
		} else {
			var policy struct {
				DeadLetterTargetArn string
				MaxReceiveCount     json.Number
			}
			if err := json.Unmarshal([]byte(rp), &policy); err != nil || policy.DeadLetterTargetArn == "" {
				add("%s: redrive policy %q without deadLetterTargetArn", q.Address, rp)
			} else if n, err := strconv.ParseInt(string(policy.MaxReceiveCount), 10, 64); err != nil || n != maxReceive {
				add("%s: maxReceiveCount %q, want var.max_receive_count = %d", q.Address, policy.MaxReceiveCount, maxReceive)
			}
		}
		if src, dst := numberAttr(q, "message_retention_seconds"), numberAttr(dlq, "message_retention_seconds"); src >= 0 && dst >= 0 && dst <= src {
			add("%s keeps messages %d s, its source %s %d s: a moved message keeps its enqueue time and expires on arrival", dlq.Address, dst, q.Address, src)
		}
	}
	for _, q := range queues {
		if dlqOf[q] == nil && !isDLQ[q] {
			add("%s has no redrive policy and is no queue's DLQ", q.Address)
		}
	}
	allows := p.all("aws_sqs_queue_redrive_allow_policy")
	for _, q := range sortedInstances(dlqOf) {
		dlq := dlqOf[q]
		found := false
		for _, a := range allows {
			if to, _ := p.linked(a, "queue_url", "aws_sqs_queue", "each.key", ""); to != dlq {
				continue
			}
			found = true
			if !a.unknown("redrive_allow_policy") {
				if s, _ := a.Values["redrive_allow_policy"].(string); !strings.Contains(s, `"byQueue"`) {
					add("%s: redrive allow policy %q is not byQueue", a.Address, s)
				}
			}
			if src, _ := p.linked(a, "redrive_allow_policy", "aws_sqs_queue", "each.key", ""); src != q {
				add("%s: the redrive allow policy of %s does not name its source %s", a.Address, dlq.Address, q.Address)
			}
		}
		if !found {
			add("%s (the DLQ of %s) has no aws_sqs_queue_redrive_allow_policy", dlq.Address, q.Address)
		}
	}

	// Functions: the environment each reads.
	functions := map[string]*instance{}
	for _, fn := range p.all("aws_lambda_function") {
		functions[fn.Key] = fn
	}
	for _, s := range c.services {
		if functions[s] == nil {
			add("no aws_lambda_function for the %s service (instances %v)", s, slices.Sorted(maps.Keys(functions)))
		}
	}
	messageBytes := map[string]bool{}
	for _, q := range queues {
		if n := numberAttr(q, "max_message_size"); n >= 0 {
			messageBytes[strconv.FormatInt(n, 10)] = true
		}
	}
	for _, service := range slices.Sorted(maps.Keys(functions)) {
		fn := functions[service]
		reads, ok := c.reads[service]
		if !ok {
			add("%s: no service %q under services/", fn.Address, service)
			continue
		}
		env, why := p.functionEnvironment(fn)
		if env == nil {
			add("%s: %s", fn.Address, why)
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(env)) {
			if _, read := reads[name]; !read {
				add("%s: sets %s, which services/%s does not read", fn.Address, name, service)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(reads)) {
			if _, set := env[name]; reads[name].Required && !set {
				add("%s: does not set %s, which services/%s requires (%s)", fn.Address, name, service, reads[name].At)
			}
		}
		want := map[string]string{ // "" = set, value known only after apply
			"SLUICE_TRANSPORT":   "lambda",
			"SLUICE_DLQ_URL":     "",
			"SLUICE_MAX_RECEIVE": strconv.FormatInt(maxReceive, 10),
		}
		for name, value := range want {
			got, set := env[name]
			switch {
			case !set:
				add("%s: does not set %s", fn.Address, name)
			case value != "" && got != value:
				add("%s: %s = %q, want %q", fn.Address, name, got, value)
			}
		}
		if _, reads := reads["SLUICE_MAX_MESSAGE_BYTES"]; reads {
			got, set := env["SLUICE_MAX_MESSAGE_BYTES"]
			if !set || !messageBytes[got] || len(messageBytes) != 1 {
				add("%s: SLUICE_MAX_MESSAGE_BYTES = %q (set: %v), want the queues' max_message_size %v", fn.Address, got, set, slices.Sorted(maps.Keys(messageBytes)))
			}
		}
		if _, reads := reads["SLUICE_S3_PREFIX"]; reads {
			got, set := env["SLUICE_S3_PREFIX"]
			switch {
			case prefix == "" && set:
				add("%s: SLUICE_S3_PREFIX = %q, but var.data_key_prefix is empty", fn.Address, got)
			case prefix != "" && got != prefix:
				add("%s: SLUICE_S3_PREFIX = %q (set: %v), want var.data_key_prefix %q", fn.Address, got, set, prefix)
			}
		}
	}

	// Event source mappings.
	mappings := p.all("aws_lambda_event_source_mapping")
	if len(mappings) == 0 {
		add("no aws_lambda_event_source_mapping in the plan")
	}
	consumed := map[*instance]string{}
	for _, m := range mappings {
		types, _ := m.Values["function_response_types"].([]any)
		if !slices.Contains(types, any("ReportBatchItemFailures")) {
			add("%s: function_response_types %v without ReportBatchItemFailures", m.Address, types)
		}
		maxConcurrency := int64(-1)
		if sc, _ := m.Values["scaling_config"].([]any); len(sc) == 1 {
			if block, _ := sc[0].(map[string]any); block != nil {
				if n, ok := number(block["maximum_concurrency"]); ok {
					maxConcurrency = n
				}
			}
		}
		if maxConcurrency < 2 || maxConcurrency > 1000 {
			add("%s: scaling_config.maximum_concurrency %v, want 2..1000 (uncapped, one queue's backlog takes the account's concurrency)", m.Address, m.Values["scaling_config"])
		}
		queue, why := p.linked(m, "event_source_arn", "aws_sqs_queue", "each.key", "")
		if queue == nil {
			add("%s: event source: %s", m.Address, why)
			continue
		}
		if prev, twice := consumed[queue]; twice {
			add("%s is read by two mappings, %s and %s", queue.Address, prev, m.Address)
		}
		consumed[queue] = m.Address
		if dlqOf[queue] == nil {
			add("%s reads %s, which has no DLQ", m.Address, queue.Address)
		}
		fn, why := p.linked(m, "function_name", "aws_lambda_function", "each.value", c.consumers[m.Key])
		if fn == nil {
			add("%s: function: %s", m.Address, why)
			continue
		}
		timeout, window, vis := numberAttr(fn, "timeout"), numberAttr(m, "maximum_batching_window_in_seconds"), numberAttr(queue, "visibility_timeout_seconds")
		if timeout < 0 || vis < 0 {
			add("%s: timeout %d or %s visibility %d unknown", fn.Address, timeout, queue.Address, vis)
		} else if need := minVisibilityMultiplier*timeout + max(window, 0); vis < need && vis != 43200 {
			add("%s: visibility timeout %d s < %d × %s timeout %d s + batching window %d s = %d s", queue.Address, vis, minVisibilityMultiplier, fn.Address, timeout, window, need)
		}
		if reserved := numberAttr(fn, "reserved_concurrent_executions"); reserved >= 0 && reserved < maxConcurrency {
			add("%s: reserved concurrency %d below its mapping's maximum_concurrency %d: the poller is throttled and messages cycle to the DLQ", fn.Address, reserved, maxConcurrency)
		}
	}
	for _, q := range sortedInstances(dlqOf) {
		if _, ok := consumed[q]; !ok {
			add("%s has a DLQ but no event source mapping reads it", q.Address)
		}
	}

	// IAM: no Allow statement with a wildcard action, in the policy
	// documents (their statements are known at plan time even when a
	// resource ARN is not) and in any policy JSON that is known.
	statements := 0
	for _, doc := range p.all("data.aws_iam_policy_document") {
		sts, _ := doc.Values["statement"].([]any)
		for n, st := range sts {
			block, _ := st.(map[string]any)
			statements++
			effect, _ := block["effect"].(string)
			for _, problem := range wildcardActions(effect, block["actions"], block["not_actions"]) {
				add("%s statement %d (%v): %s", doc.Address, n, block["sid"], problem)
			}
		}
	}
	for _, i := range p.instances {
		if i.Mode != "managed" {
			continue
		}
		for _, a := range []string{"policy", "assume_role_policy"} {
			s, ok := i.Values[a].(string)
			if !ok || s == "" || !strings.HasPrefix(i.Type, "aws_") {
				continue
			}
			var doc struct{ Statement json.RawMessage }
			if json.Unmarshal([]byte(s), &doc) != nil || doc.Statement == nil {
				continue
			}
			var list []map[string]any
			if json.Unmarshal(doc.Statement, &list) != nil {
				var one map[string]any
				_ = json.Unmarshal(doc.Statement, &one)
				list = []map[string]any{one}
			}
			for n, st := range list {
				statements++
				effect, _ := st["Effect"].(string)
				for _, problem := range wildcardActions(effect, st["Action"], st["NotAction"]) {
					add("%s.%s statement %d (%v): %s", i.Address, a, n, st["Sid"], problem)
				}
			}
		}
	}
	if statements == 0 {
		add("no IAM statement in the plan: the IAM check read nothing")
	}
	return out
}

// wildcardActions returns what is wrong with a statement's actions: an
// Allow may not list an action with * or ?, nor use NotAction.
func wildcardActions(effect string, actions, notActions any) []string {
	if effect == "Deny" {
		return nil
	}
	var out []string
	for _, a := range stringList(actions) {
		if strings.ContainsAny(a, "*?") {
			out = append(out, fmt.Sprintf("allows the wildcard action %q; list the actions", a))
		}
	}
	if len(stringList(notActions)) > 0 {
		out = append(out, fmt.Sprintf("allows NotAction %v, every action but those", stringList(notActions)))
	}
	return out
}

// stringList returns a JSON string or list of strings as a list.
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// envOutput is the root output scripts/infraplan.sh adds to its copy of
// the example (and of the module): local.function_environment, by service.
const envOutput = "infraplan_function_environment"

// functionEnvironment returns a function's environment variables, with ""
// for a value known only after apply, or nil and why it cannot tell.
//
// The provider plans a map that holds any value known only after apply (a
// new queue's URL) as wholly unknown, so a new function's planned
// environment shows no names. Terraform itself keeps the names: the
// environment is then read from the output envOutput, provided the
// function's configuration takes its variables from
// local.function_environment[each.key] and nothing else.
func (p *plan) functionEnvironment(fn *instance) (map[string]string, string) {
	if blocks, _ := fn.Values["environment"].([]any); len(blocks) == 1 {
		if block, _ := blocks[0].(map[string]any); block != nil {
			if vars, ok := block["variables"].(map[string]any); ok {
				out := map[string]string{}
				for k, v := range vars {
					out[k], _ = v.(string)
				}
				return out, ""
			}
		}
	}
	refs := p.blockRefs(fn.resource(), "environment", "variables")
	if !slices.Equal(slices.Sorted(slices.Values(refs)), []string{"each.key", "local.function_environment"}) {
		return nil, fmt.Sprintf("environment unknown at plan time and not local.function_environment[each.key] (references %v): cannot check it", refs)
	}
	o, ok := p.outputs[envOutput]
	if !ok {
		return nil, "environment unknown at plan time, and the plan has no output " + envOutput + " (scripts/infraplan.sh adds it)"
	}
	after, _ := o.After.(map[string]any)
	unknown, _ := o.AfterUnknown.(map[string]any)
	known, _ := after[fn.Key].(map[string]any)
	later, _ := unknown[fn.Key].(map[string]any)
	if known == nil && later == nil {
		return nil, fmt.Sprintf("output %s has no known map for %q: cannot check the environment", envOutput, fn.Key)
	}
	out := map[string]string{}
	for k, v := range known {
		out[k], _ = v.(string)
	}
	for k, v := range later {
		if b, _ := v.(bool); b {
			out[k] = ""
		}
	}
	return out, ""
}

// number returns a JSON number as an int64.
func number(v any) (int64, bool) {
	f, ok := v.(float64)
	return int64(f), ok && f == float64(int64(f))
}

// numberAttr returns a numeric attribute of i, -1 when unknown or null.
func numberAttr(i *instance, name string) int64 {
	if n, ok := number(i.Values[name]); ok {
		return n
	}
	return -1
}

func sortedInstances[V any](m map[*instance]V) []*instance {
	out := slices.Collect(maps.Keys(m))
	sort.Slice(out, func(a, b int) bool { return out[a].Address < out[b].Address })
	return out
}

// TestPlan runs the checks on the plans `make infra-plan` (scripts/
// infraplan.sh) writes with the real AWS provider: every *.json in
// $SLUICE_PLAN_DIR. Without it there is nothing to check (the provider
// takes ~40 min to build once); TestPlanRules checks the checks.
func TestPlan(t *testing.T) {
	dir := os.Getenv("SLUICE_PLAN_DIR")
	if dir == "" {
		t.Skip("SLUICE_PLAN_DIR unset: `make infra-plan` plans infra/envs/example with the real AWS provider and runs this on the plans")
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no plan JSON in %s (%v)", dir, err)
	}
	c := newPlanContext(t, functionServices)
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".json"), func(t *testing.T) {
			p := loadPlanFile(t, path)
			for _, problem := range planProblems(p, c) {
				t.Error(problem)
			}
			t.Logf("%d resource instances checked", len(p.instances))
		})
	}
}

package infracheck

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// TestPlanRules runs planProblems on a small plan written by hand in the
// shape of `terraform show -json` (testdata/plan/fetcher-writer.json: the
// fetch and batches queues with their DLQs, the fetcher and the writer,
// data_key_prefix "raw/"), which passes, and on one breakage of it per
// rule, each of which must be reported. The same checks run on real plans
// in TestPlan.
func TestPlanRules(t *testing.T) {
	base, err := os.ReadFile("testdata/plan/fetcher-writer.json")
	if err != nil {
		t.Fatal(err)
	}
	c := newPlanContext(t, []string{"fetcher", "writer"})
	const (
		mainFetch    = `module.sluice.aws_sqs_queue.main["fetch"]`
		dlqFetch     = `module.sluice.aws_sqs_queue.dlq["fetch"]`
		mainBatches  = `module.sluice.aws_sqs_queue.main["batches"]`
		dlqBatches   = `module.sluice.aws_sqs_queue.dlq["batches"]`
		allowBatches = `module.sluice.aws_sqs_queue_redrive_allow_policy.dlq["batches"]`
		esmFetch     = `module.sluice.aws_lambda_event_source_mapping.queue["fetch"]`
		esmBatches   = `module.sluice.aws_lambda_event_source_mapping.queue["batches"]`
		fetcher      = `module.sluice.aws_lambda_function.service["fetcher"]`
		writer       = `module.sluice.aws_lambda_function.service["writer"]`
		writerDoc    = `module.sluice.data.aws_iam_policy_document.function["writer"]`
		writerRole   = `module.sluice.aws_iam_role.function["writer"]`
	)
	cases := []struct {
		name   string
		mutate func(d *planDoc)
		want   string // in one of the problems
	}{
		{"queue without redrive policy", func(d *planDoc) { delete(d.expressions("aws_sqs_queue.main"), "redrive_policy") },
			mainFetch + " has no redrive policy and is no queue's DLQ"},
		{"redrive policy to a DLQ not planned", func(d *planDoc) { d.remove(dlqBatches) },
			`redrive_policy refers to aws_sqs_queue.dlq, which has no instance "batches" in the plan`},
		{"maxReceiveCount not from the variable", func(d *planDoc) {
			d.setRefs("aws_sqs_queue.main", "redrive_policy", "aws_sqs_queue.dlq", "each.key")
		}, "maxReceiveCount of the redrive policy is not var.max_receive_count"},
		{"known redrive policy with another maxReceiveCount", func(d *planDoc) {
			d.set(mainFetch, "redrive_policy", `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:sluice-fetch-dlq","maxReceiveCount":3}`)
		}, `maxReceiveCount "3", want var.max_receive_count = 5`},
		{"max_receive_count below 5", func(d *planDoc) { d.variables()["max_receive_count"] = map[string]any{"value": 4} },
			"var.max_receive_count = 4, below 5"},
		{"DLQ retention not longer than its source's", func(d *planDoc) { d.set(dlqFetch, "message_retention_seconds", 345600) },
			"expires on arrival"},
		{"DLQ without redrive allow policy", func(d *planDoc) { d.remove(allowBatches) },
			dlqBatches + " (the DLQ of " + mainBatches + ") has no aws_sqs_queue_redrive_allow_policy"},
		{"redrive allow policy not byQueue", func(d *planDoc) {
			d.set(allowBatches, "redrive_allow_policy", `{"redrivePermission":"allowAll"}`)
		}, "is not byQueue"},
		{"mapping without ReportBatchItemFailures", func(d *planDoc) { d.set(esmFetch, "function_response_types", []any{}) },
			"without ReportBatchItemFailures"},
		{"mapping without a concurrency cap", func(d *planDoc) { d.set(esmBatches, "scaling_config", []any{}) },
			esmBatches + ": scaling_config.maximum_concurrency"},
		{"mapping with a cap below 2", func(d *planDoc) {
			d.set(esmBatches, "scaling_config", []any{map[string]any{"maximum_concurrency": 1}})
		}, esmBatches + ": scaling_config.maximum_concurrency"},
		{"visibility below 6 × timeout", func(d *planDoc) { d.set(mainFetch, "visibility_timeout_seconds", 5399) },
			"visibility timeout 5399 s < 6 × " + fetcher + " timeout 900 s"},
		{"visibility without the batching window", func(d *planDoc) { d.set(esmBatches, "maximum_batching_window_in_seconds", 6) },
			"visibility timeout 365 s < 6 × " + writer + " timeout 60 s + batching window 6 s = 366 s"},
		{"reserved concurrency below the cap", func(d *planDoc) { d.set(fetcher, "reserved_concurrent_executions", 5) },
			"reserved concurrency 5 below its mapping's maximum_concurrency 10"},
		{"queue nobody reads", func(d *planDoc) { d.remove(esmBatches) },
			mainBatches + " has a DLQ but no event source mapping reads it"},
		{"function missing", func(d *planDoc) { d.remove(writer) },
			"no aws_lambda_function for the writer service"},
		{"a variable the service does not read", func(d *planDoc) { d.env(writer)["SLUICE_FETCH_QUEUE_URL"] = "x" },
			writer + ": sets SLUICE_FETCH_QUEUE_URL, which services/writer does not read"},
		{"a misspelt variable", func(d *planDoc) { d.env(fetcher)["SLUICE_MAX_MESAGE_BYTES"] = "1048576" },
			"sets SLUICE_MAX_MESAGE_BYTES"},
		{"a required variable missing", func(d *planDoc) { delete(d.env(writer), "SLUICE_BUCKET") },
			writer + ": does not set SLUICE_BUCKET, which services/writer requires"},
		{"no DLQ URL", func(d *planDoc) { delete(d.env(fetcher), "SLUICE_DLQ_URL") },
			fetcher + ": does not set SLUICE_DLQ_URL"},
		{"not the Lambda transport", func(d *planDoc) { d.env(fetcher)["SLUICE_TRANSPORT"] = "poll" },
			`SLUICE_TRANSPORT = "poll", want "lambda"`},
		{"SLUICE_MAX_RECEIVE not the redrive policy's", func(d *planDoc) { d.env(writer)["SLUICE_MAX_RECEIVE"] = "3" },
			`SLUICE_MAX_RECEIVE = "3", want "5"`},
		{"S3 prefix missing", func(d *planDoc) { delete(d.env(writer), "SLUICE_S3_PREFIX") },
			`SLUICE_S3_PREFIX = "" (set: false), want var.data_key_prefix "raw/"`},
		{"S3 prefix not the variable's", func(d *planDoc) { d.env(writer)["SLUICE_S3_PREFIX"] = "data/" },
			`SLUICE_S3_PREFIX = "data/" (set: true), want var.data_key_prefix "raw/"`},
		{"S3 prefix without the variable", func(d *planDoc) { d.variables()["data_key_prefix"] = map[string]any{"value": ""} },
			`SLUICE_S3_PREFIX = "raw/", but var.data_key_prefix is empty`},
		{"message size not the queues'", func(d *planDoc) { d.env(fetcher)["SLUICE_MAX_MESSAGE_BYTES"] = "262144" },
			`SLUICE_MAX_MESSAGE_BYTES = "262144" (set: true), want the queues' max_message_size [1048576]`},
		{"message size left to the default", func(d *planDoc) { delete(d.env(fetcher), "SLUICE_MAX_MESSAGE_BYTES") },
			`SLUICE_MAX_MESSAGE_BYTES = "" (set: false)`},
		{"queues of different message sizes", func(d *planDoc) { d.set(dlqFetch, "max_message_size", 262144) },
			"want the queues' max_message_size [1048576 262144]"},
		{"environment unknown and not from the local", func(d *planDoc) {
			d.expressions("aws_lambda_function.service")["environment"] = []any{map[string]any{"variables": map[string]any{"references": []any{"var.extra_environment"}}}}
		}, writer + ": environment unknown at plan time and not local.function_environment[each.key]"},
		{"environment unknown and no output", func(d *planDoc) { delete(d.doc["output_changes"].(map[string]any), envOutput) },
			writer + ": environment unknown at plan time, and the plan has no output " + envOutput},
		{"a variable the service does not read, known only after apply", func(d *planDoc) {
			out := d.doc["output_changes"].(map[string]any)[envOutput].(map[string]any)
			out["after_unknown"].(map[string]any)["writer"].(map[string]any)["SLUICE_INPUTS_QUEUE_URL"] = true
		}, writer + ": sets SLUICE_INPUTS_QUEUE_URL, which services/writer does not read"},
		{"a link without each.key", func(d *planDoc) {
			d.setRefs("aws_lambda_event_source_mapping.queue", "event_source_arn", "aws_sqs_queue.main")
		},
			"event_source_arn refers to aws_sqs_queue.main without each.key: cannot tell which instance"},
		{"wildcard action in a policy document", func(d *planDoc) {
			st := d.get(writerDoc, "statement").([]any)[1].(map[string]any)
			st["actions"] = []any{"sqs:ReceiveMessage", "sqs:*"}
		}, `statement 1 (Consume): allows the wildcard action "sqs:*"`},
		{"? wildcard in a policy document", func(d *planDoc) {
			st := d.get(writerDoc, "statement").([]any)[0].(map[string]any)
			st["actions"] = []any{"logs:PutLogEvent?"}
		}, `allows the wildcard action "logs:PutLogEvent?"`},
		{"Allow with NotAction", func(d *planDoc) {
			st := d.get(writerDoc, "statement").([]any)[0].(map[string]any)
			st["not_actions"] = []any{"iam:*"}
		}, "allows NotAction [iam:*]"},
		{"wildcard action in a known policy JSON", func(d *planDoc) {
			d.set(writerRole, "assume_role_policy", `{"Statement":{"Effect":"Allow","Action":["sts:*"],"Principal":{"Service":"lambda.amazonaws.com"}}}`)
		}, writerRole + `.assume_role_policy statement 0 (<nil>): allows the wildcard action "sts:*"`},
	}

	t.Run("as written", func(t *testing.T) {
		p, err := parsePlan(base)
		if err != nil {
			t.Fatal(err)
		}
		for _, problem := range planProblems(p, c) {
			t.Error(problem)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &planDoc{t: t}
			if err := json.Unmarshal(base, &d.doc); err != nil {
				t.Fatal(err)
			}
			tc.mutate(d)
			data, err := json.Marshal(d.doc)
			if err != nil {
				t.Fatal(err)
			}
			p, err := parsePlan(data)
			if err != nil {
				t.Fatal(err)
			}
			problems := planProblems(p, c)
			if !slices.ContainsFunc(problems, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Errorf("no problem says %q; got %d:\n%s", tc.want, len(problems), strings.Join(problems, "\n"))
			}
		})
	}
}

// planDoc edits a decoded plan JSON for TestPlanRules.
type planDoc struct {
	t   *testing.T
	doc map[string]any
}

func (d *planDoc) variables() map[string]any { return d.doc["variables"].(map[string]any) }

func (d *planDoc) changes() []any { return d.doc["resource_changes"].([]any) }

func (d *planDoc) change(address string) map[string]any {
	for _, rc := range d.changes() {
		if rc := rc.(map[string]any); rc["address"] == address {
			return rc["change"].(map[string]any)
		}
	}
	d.t.Fatalf("no resource change %s", address)
	return nil
}

func (d *planDoc) remove(address string) {
	d.change(address)
	d.doc["resource_changes"] = slices.DeleteFunc(d.changes(), func(rc any) bool { return rc.(map[string]any)["address"] == address })
}

func (d *planDoc) get(address, attr string) any {
	return d.change(address)["after"].(map[string]any)[attr]
}

// set gives attribute attr of address a known value.
func (d *planDoc) set(address, attr string, v any) {
	c := d.change(address)
	c["after"].(map[string]any)[attr] = v
	delete(c["after_unknown"].(map[string]any), attr)
}

// env returns the environment of a function: its planned variables if
// they are known (the fetcher's, here), else the output the script adds
// (the writer's, as the provider plans it: wholly unknown). A value set
// here is known.
func (d *planDoc) env(address string) map[string]any {
	if vars, ok := d.get(address, "environment").([]any)[0].(map[string]any)["variables"].(map[string]any); ok {
		return vars
	}
	key := strings.TrimSuffix(address[strings.Index(address, `["`)+2:], `"]`)
	out := d.doc["output_changes"].(map[string]any)[envOutput].(map[string]any)
	known, later := out["after"].(map[string]any)[key].(map[string]any), out["after_unknown"].(map[string]any)[key].(map[string]any)
	// Known-after-apply names become known ones with "", so that
	// deleting a name deletes it.
	for k := range later {
		known[k] = ""
		delete(later, k)
	}
	return known
}

// expressions returns the configuration expressions of resource address
// in module.sluice.
func (d *planDoc) expressions(address string) map[string]any {
	module := d.doc["configuration"].(map[string]any)["root_module"].(map[string]any)["module_calls"].(map[string]any)["sluice"].(map[string]any)["module"].(map[string]any)
	for _, r := range module["resources"].([]any) {
		if r := r.(map[string]any); r["address"] == address {
			return r["expressions"].(map[string]any)
		}
	}
	d.t.Fatalf("no configuration of %s", address)
	return nil
}

func (d *planDoc) setRefs(address, attr string, refs ...string) {
	list := make([]any, len(refs))
	for i, r := range refs {
		list[i] = r
	}
	d.expressions(address)[attr] = map[string]any{"references": list}
}

// TestPlanPipelineIsValid: the pipeline `make infra-plan` packs into the
// zips when infra/build has none is one the services would start with.
func TestPlanPipelineIsValid(t *testing.T) {
	if _, err := pipeline.Load(repoRoot + "/scripts/infraplan/pipeline.yaml"); err != nil {
		t.Fatal(err)
	}
}

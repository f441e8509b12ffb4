package infracheck

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/sluice-data/sluice/shared/devstack"
)

// TestOpenIndexMatchesDevstack: the runs table's sparse index of open runs,
// which the scheduler's sweep queries, is the one the local stack
// provisions (name, hash and range keys and their types, projection ALL),
// and the scheduler may query it.
func TestOpenIndexMatchesDevstack(t *testing.T) {
	m := sluiceModule(t)
	table := m.resource(t, "aws_dynamodb_table.runs")
	s := m.newScope(t, nil)
	types := map[string]string{}
	for _, a := range blocksOf(table.Body, "attribute") {
		types[s.eval(t, attr(t, a.Body, "name").Expr, "", cty.NilVal).AsString()] = s.eval(t, attr(t, a.Body, "type").Expr, "", cty.NilVal).AsString()
	}
	var found bool
	for _, g := range blocksOf(table.Body, "global_secondary_index") {
		if s.eval(t, attr(t, g.Body, "name").Expr, "", cty.NilVal).AsString() != devstack.OpenIndex {
			continue
		}
		found = true
		if p := s.eval(t, attr(t, g.Body, "projection_type").Expr, "", cty.NilVal).AsString(); p != "ALL" {
			t.Errorf("index %s: projection %s, want ALL (the sweep reads whole runs from it)", devstack.OpenIndex, p)
		}
		keys := map[string]string{}
		for _, k := range blocksOf(g.Body, "key_schema") {
			keys[s.eval(t, attr(t, k.Body, "key_type").Expr, "", cty.NilVal).AsString()] = s.eval(t, attr(t, k.Body, "attribute_name").Expr, "", cty.NilVal).AsString()
		}
		if keys["HASH"] != devstack.OpenAttribute || keys["RANGE"] != devstack.LeaseAttribute {
			t.Errorf("index %s: keys %v, want HASH %s, RANGE %s", devstack.OpenIndex, keys, devstack.OpenAttribute, devstack.LeaseAttribute)
		}
		if types[devstack.OpenAttribute] != "S" || types[devstack.LeaseAttribute] != "N" {
			t.Errorf("attribute types %v, want %s S and %s N", types, devstack.OpenAttribute, devstack.LeaseAttribute)
		}
	}
	if !found {
		t.Fatalf("aws_dynamodb_table.runs has no global_secondary_index %q (devstack provisions it; the sweep queries it)", devstack.OpenIndex)
	}
	iam, err := os.ReadFile(filepath.Join(repoRoot, "infra/modules/sluice/iam.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`"dynamodb:Query"\]\s*\n\s*resources\s*=\s*\["\$\{aws_dynamodb_table\.runs\.arn\}/index/` + devstack.OpenIndex + `"\]`).Match(iam) {
		t.Errorf("iam.tf: no dynamodb:Query on the runs table's index %s", devstack.OpenIndex)
	}
}

// TestSweepRuleInvokesTheSchedulersSweep: the sweep's EventBridge rule
// invokes the scheduler function with the event the scheduler tells from
// a schedule (services/scheduler: sweepEvent).
func TestSweepRuleInvokesTheSchedulersSweep(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, "services/scheduler/sweeping.go"))
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`const sweepEvent = "([^"]+)"`).FindSubmatch(src)
	if want == nil {
		t.Fatal(`services/scheduler/sweeping.go: no const sweepEvent = "..."`)
	}
	m := sluiceModule(t)
	target := m.resource(t, "aws_cloudwatch_event_target.sweep")
	s := m.newScope(t, nil)
	input := s.eval(t, attr(t, target.Body, "input").Expr, "", cty.NilVal).AsString()
	if input != `{"detail-type":"`+string(want[1])+`"}` {
		t.Errorf("aws_cloudwatch_event_target.sweep input %s, want the scheduler's sweep event, detail-type %q", input, want[1])
	}
	if !refersTo(attr(t, target.Body, "arn").Expr, `aws_lambda_function.service`) {
		t.Error("aws_cloudwatch_event_target.sweep does not target the scheduler function")
	}
	rule := m.resource(t, "aws_cloudwatch_event_rule.sweep")
	if !refersTo(attr(t, rule.Body, "schedule_expression").Expr, "var.sweep_schedule_expression") {
		t.Error("aws_cloudwatch_event_rule.sweep: schedule_expression is not var.sweep_schedule_expression")
	}
}

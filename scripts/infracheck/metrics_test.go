package infracheck

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// sqsMetrics are the AWS/SQS metrics the dashboard may graph.
var sqsMetrics = []string{"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}

// dashboardScope is the module's scope for the pipeline file cfg, with the
// dashboard's locals that need the queues' names and the region.
func (m *module) dashboardScope(t *testing.T, cfg string) (*scope, func(hclsyntax.Expression) cty.Value) {
	t.Helper()
	s := m.newScope(t, map[string]cty.Value{"pipeline_config_file": cty.StringVal(cfg)})
	queues := func(suffix string) cty.Value {
		out := map[string]cty.Value{}
		for _, q := range []string{"triggers", "inputs", "fetch", "batches"} {
			out[q] = cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("sluice-" + q + suffix)})
		}
		return cty.ObjectVal(out)
	}
	eval := func(expr hclsyntax.Expression) cty.Value {
		t.Helper()
		ctx := s.ctx(nil)
		ctx.Variables["aws_sqs_queue"] = cty.ObjectVal(map[string]cty.Value{"main": queues(""), "dlq": queues("-dlq")})
		ctx.Variables["data"] = cty.ObjectVal(map[string]cty.Value{"aws_region": cty.ObjectVal(map[string]cty.Value{
			"current": cty.ObjectVal(map[string]cty.Value{"region": cty.StringVal("eu-west-1")}),
		})})
		v, diags := expr.Value(ctx)
		if diags.HasErrors() {
			t.Fatalf("evaluate %s: %s", expr.Range(), diags.Error())
		}
		return v
	}
	for _, name := range []string{"queue_metric_graphs", "dashboard_graphs"} {
		s.locals[name] = eval(m.locals[name].Expr)
	}
	return s, eval
}

// TestDashboardNamesWhatTheCodeEmits: every metric the dashboard graphs
// in the metrics namespace is one of shared/metrics' Catalog, with its
// dimension (Source: a source of the pipeline file; Service: a service),
// every source has its runs, records, failures and freshness graphed, the
// queues' graphs name only AWS/SQS metrics of the module's queues, and the
// body CloudWatch gets is JSON with a region and metrics in every widget.
func TestDashboardNamesWhatTheCodeEmits(t *testing.T) {
	m := sluiceModule(t)
	if d := m.variables["metrics_namespace"]; d == nil {
		t.Fatal("no variable metrics_namespace")
	}
	s := m.newScope(t, nil)
	if ns := s.vars["metrics_namespace"].AsString(); ns != metrics.DefaultNamespace {
		t.Fatalf("var.metrics_namespace defaults to %q, the code to %q (metrics.DefaultNamespace)", ns, metrics.DefaultNamespace)
	}
	cfgPath, err := filepath.Abs(filepath.Join(repoRoot, "scripts/infraplan/pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	sources := sourceNames(cfg)
	services := []string{"dedupe", "fetcher", "scheduler", "writer"}
	catalog := map[string]metrics.Def{}
	for _, d := range metrics.Catalog {
		catalog[d.Name] = d
	}

	ds, eval := m.dashboardScope(t, cfgPath)
	graphed := map[string]map[string]bool{} // metric → dimension values
	var rows int
	for it := ds.local(t, "dashboard_graphs").ElementIterator(); it.Next(); {
		_, g := it.Element()
		for mt := g.GetAttr("metrics").ElementIterator(); mt.Next(); {
			_, row := mt.Element()
			if !row.Type().IsTupleType() && !row.Type().IsListType() {
				t.Fatalf("row %s: %#v", row.Type().FriendlyName(), row)
			}
			rows++
			var f []string
			for i := 0; i < 4; i++ {
				f = append(f, row.Index(cty.NumberIntVal(int64(i))).AsString())
			}
			ns, name, dim, value := f[0], f[1], f[2], f[3]
			switch ns {
			case "AWS/SQS":
				if !slices.Contains(sqsMetrics, name) || dim != "QueueName" {
					t.Errorf("dashboard graphs AWS/SQS %s by %s, want one of %v by QueueName", name, dim, sqsMetrics)
				}
			case metrics.DefaultNamespace:
				d, ok := catalog[name]
				switch {
				case !ok:
					t.Errorf("dashboard graphs %s, which the code does not emit (shared/metrics Catalog)", name)
				case dim != d.Dimension:
					t.Errorf("dashboard graphs %s by %s; the code emits it by %s", name, dim, d.Dimension)
				case dim == metrics.DimSource && !slices.Contains(sources, value):
					t.Errorf("dashboard graphs %s of source %q, not in the pipeline file", name, value)
				case dim == metrics.DimService && !slices.Contains(services, value):
					t.Errorf("dashboard graphs %s of service %q", name, value)
				}
				if graphed[name] == nil {
					graphed[name] = map[string]bool{}
				}
				graphed[name][value] = true
			default:
				t.Errorf("dashboard graphs %s in namespace %q, neither var.metrics_namespace nor AWS/SQS", name, ns)
			}
		}
	}
	for _, name := range []string{"RunsSucceeded", "RunsFailed", "Records", "FreshnessLag"} {
		for _, src := range sources {
			if !graphed[name][src] {
				t.Errorf("the dashboard has no %s of source %s", name, src)
			}
		}
	}

	body := eval(attr(t, m.resource(t, "aws_cloudwatch_dashboard.pipeline").Body, "dashboard_body").Expr)
	var doc struct {
		Widgets []struct {
			Type       string
			Properties struct {
				Region  string
				Metrics [][]any
			}
		}
	}
	if err := json.Unmarshal([]byte(body.AsString()), &doc); err != nil {
		t.Fatalf("dashboard_body is not JSON: %v", err)
	}
	n := 0
	for _, w := range doc.Widgets {
		if w.Type != "metric" || w.Properties.Region != "eu-west-1" || len(w.Properties.Metrics) == 0 {
			t.Errorf("widget %+v: want a metric widget with a region and metrics", w)
		}
		n += len(w.Properties.Metrics)
	}
	if n != rows {
		t.Errorf("dashboard_body has %d metric rows, the graphs %d", n, rows)
	}

	// A pipeline file without sources leaves no empty graph.
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	writeFile(t, empty, "version: 1\nsources: []\n")
	es, _ := m.dashboardScope(t, empty)
	for it := es.local(t, "dashboard_graphs").ElementIterator(); it.Next(); {
		_, g := it.Element()
		if g.GetAttr("metrics").LengthInt() == 0 {
			t.Errorf("graph %q has no metric", g.GetAttr("title").AsString())
		}
	}
}

// TestFreshnessAlarms: one alarm per source of the pipeline file on the
// code's FreshnessLag by its Source dimension in var.metrics_namespace,
// missing data breaching, notifying the alarm topic like the others.
func TestFreshnessAlarms(t *testing.T) {
	m := sluiceModule(t)
	b := m.resource(t, "aws_cloudwatch_metric_alarm.freshness")
	cfgPath, err := filepath.Abs(filepath.Join(repoRoot, "scripts/infraplan/pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s := m.newScope(t, map[string]cty.Value{"pipeline_config_file": cty.StringVal(cfgPath)})
	if got := keysOf(s.eval(t, attr(t, b.Body, "for_each").Expr, "", cty.NilVal)); !slices.Equal(got, sourceNames(cfg)) {
		t.Errorf("freshness alarms for %v, want one per source %v", got, sourceNames(cfg))
	}
	if !refersTo(attr(t, b.Body, "namespace").Expr, "var.metrics_namespace") {
		t.Error("the freshness alarm's namespace is not var.metrics_namespace")
	}
	str := func(name string) string {
		return s.eval(t, attr(t, b.Body, name).Expr, "orders", cty.StringVal("orders")).AsString()
	}
	if str("metric_name") != metrics.FreshnessLag.Name || str("treat_missing_data") != "breaching" ||
		str("comparison_operator") != "GreaterThanThreshold" || str("statistic") != "Maximum" {
		t.Errorf("freshness alarm: %s %s %s, missing data %s; want Maximum %s GreaterThanThreshold, breaching",
			str("statistic"), str("metric_name"), str("comparison_operator"), str("treat_missing_data"), metrics.FreshnessLag.Name)
	}
	if dims := keysOf(s.eval(t, attr(t, b.Body, "dimensions").Expr, "orders", cty.StringVal("orders"))); !slices.Equal(dims, []string{metrics.DimSource}) {
		t.Errorf("freshness alarm dimensions %v, want [%s]", dims, metrics.DimSource)
	}
	for _, a := range []string{"alarm_actions", "ok_actions"} {
		if want := "local." + a; !refersTo(attr(t, b.Body, a).Expr, want) {
			t.Errorf("freshness alarm %s is not %s", a, want)
		}
	}
}

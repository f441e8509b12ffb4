package metricstest

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	const ok = `{"_aws":{"Timestamp":1796158800000,"CloudWatchMetrics":[{"Namespace":"Sluice","Dimensions":[["Source"]],"Metrics":[{"Name":"Records","Unit":"Count"}]}]},"Source":"orders","Records":3}`
	tests := []struct {
		name string
		line string
		want string // a part of the error; "" for a valid line
	}{
		{"valid", ok, ""},
		{"valid, values array, no unit, no dimensions", `{"_aws":{"Timestamp":1796158800000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"M"}]}]},"M":[1,2]}`, ""},
		{"not json", `{"_aws":`, "not a JSON object"},
		{"no _aws", `{"Records":3}`, "no _aws"},
		{"no timestamp", strings.Replace(ok, `"Timestamp":1796158800000,`, "", 1), "Timestamp missing"},
		{"timestamp in seconds", strings.Replace(ok, "1796158800000", "1796158800", 1), "not epoch milliseconds"},
		{"timestamp not an integer", strings.Replace(ok, "1796158800000", `"now"`, 1), "_aws"},
		{"no directives", `{"_aws":{"Timestamp":1796158800000}}`, "CloudWatchMetrics missing"},
		{"no namespace", strings.Replace(ok, `"Namespace":"Sluice",`, "", 1), "Namespace"},
		{"empty namespace", strings.Replace(ok, `"Namespace":"Sluice"`, `"Namespace":""`, 1), "Namespace"},
		{"no dimensions", strings.Replace(ok, `"Dimensions":[["Source"]],`, "", 1), "Dimensions missing"},
		{"dimension without member", strings.Replace(ok, `"Source":"orders",`, "", 1), `dimension "Source" has no member`},
		{"dimension not a string", strings.Replace(ok, `"Source":"orders"`, `"Source":7`, 1), "not a string"},
		{"31 dimensions", strings.Replace(ok, `[["Source"]]`, `[["Source"`+strings.Repeat(`,"Source"`, 30)+`]]`, 1), "at most 30"},
		{"no metrics", strings.Replace(ok, `,"Metrics":[{"Name":"Records","Unit":"Count"}]`, "", 1), "Metrics missing"},
		{"101 metrics", strings.Replace(ok, `[{"Name":"Records","Unit":"Count"}]`, `[{"Name":"Records"}`+strings.Repeat(`,{"Name":"Records"}`, 100)+`]`, 1), "at most 100"},
		{"empty metric name", strings.Replace(ok, `"Name":"Records"`, `"Name":""`, 1), "metric name"},
		{"unknown unit", strings.Replace(ok, `"Unit":"Count"`, `"Unit":"Records"`, 1), "not one CloudWatch allows"},
		{"bad storage resolution", strings.Replace(ok, `"Unit":"Count"`, `"Unit":"Count","StorageResolution":5`, 1), "StorageResolution"},
		{"metric without member", strings.Replace(ok, `,"Records":3`, "", 1), "no member"},
		{"metric value a string", strings.Replace(ok, `"Records":3`, `"Records":"3"`, 1), "neither a number"},
		{"metric member twice", strings.Replace(ok, `"Records":3`, `"Records":3,"Records":4`, 1), `duplicate key "Records"`},
		{"dimension member twice", strings.Replace(ok, `"Source":"orders"`, `"Source":"orders","Source":"customers"`, 1), `duplicate key "Source"`},
		{"_aws twice", ok[:len(ok)-1] + `,"_aws":{}}`, `duplicate key "_aws"`},
		{"key twice inside _aws", strings.Replace(ok, `"Timestamp":1796158800000,`, `"Timestamp":1796158800000,"Timestamp":1796158800001,`, 1), `duplicate key "_aws.Timestamp"`},
		{"key twice in a directive", strings.Replace(ok, `"Namespace":"Sluice",`, `"Namespace":"Sluice","Namespace":"Other",`, 1), `duplicate key "_aws.CloudWatchMetrics[0].Namespace"`},
		{"metric defined twice", strings.Replace(ok, `[{"Name":"Records","Unit":"Count"}]`, `[{"Name":"Records","Unit":"Count"},{"Name":"Records","Unit":"Count"}]`, 1), "metric Records defined twice"},
		{"same key in two objects", `{"_aws":{"Timestamp":1796158800000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"M"}]}]},"M":1,"ctx":{"M":2}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate([]byte(tt.line))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("valid line refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("invalid line passed")
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

func TestTotals(t *testing.T) {
	const line = `{"_aws":{"Timestamp":1796158800000,"CloudWatchMetrics":[{"Namespace":"Sluice","Dimensions":[["Source"]],"Metrics":[{"Name":"Records","Unit":"Count"}]}]},"Source":"orders","Records":%d}`
	logs := strings.Join([]string{
		strings.Replace(line, "%d", "3", 1), `{"msg":"no metrics"}`, "not json", strings.Replace(line, "%d", "4", 1), "",
	}, "\n")
	got, err := Totals([]byte(logs))
	if err != nil || len(got) != 1 || got["Records"] != 7 {
		t.Fatalf("Totals = %v, %v; want Records 7", got, err)
	}
	if _, err := Totals([]byte(strings.Replace(line, `"Records":%d`, `"Records":"x"`, 1))); err == nil {
		t.Fatal("Totals of an invalid EMF line: no error")
	}
}

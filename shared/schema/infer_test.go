package schema_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/sluice-data/sluice/shared/schema"
)

// col is a column as the tests write it: "name:type" or "name(path):type".
func cols(t *testing.T, s schema.Schema) string {
	t.Helper()
	var out []string
	for _, c := range s.Columns {
		n := c.Name
		if c.Path != c.Name {
			n += "(" + c.Path + ")"
		}
		out = append(out, n+":"+c.Type.String())
	}
	return strings.Join(out, " ")
}

func TestInferRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records []string
		want    string
	}{
		{"scalars", []string{`{"s":"x","i":1,"f":1.5,"b":true}`}, "s:string i:int64 f:float64 b:bool"},
		{"first-seen order, new fields add columns", []string{`{"b":1}`, `{"a":1,"b":2}`, `{"c":1}`}, "b:int64 a:int64 c:int64"},
		{"always null is string", []string{`{"n":null}`, `{"n":null}`}, "n:string"},
		{"null does not decide", []string{`{"n":null}`, `{"n":3}`}, "n:int64"},
		{"missing does not decide", []string{`{"a":1}`, `{"n":3}`, `{"a":2}`}, "a:int64 n:int64"},
		{"timestamp", []string{`{"t":"2024-01-02T03:04:05Z"}`, `{"t":"2024-01-02T03:04:05.123456+02:00"}`}, "t:timestamp"},
		{"date", []string{`{"d":"2024-01-02"}`, `{"d":"1999-12-31"}`}, "d:date"},
		{"timestamp and date widen to string", []string{`{"t":"2024-01-02T03:04:05Z"}`, `{"t":"2024-01-02"}`}, "t:string"},
		{"timestamp and text widen to string", []string{`{"t":"2024-01-02T03:04:05Z"}`, `{"t":"soon"}`}, "t:string"},
		{"not a real date is text", []string{`{"d":"2024-02-30"}`}, "d:string"},
		{"int and float widen to float64", []string{`{"n":1}`, `{"n":2.5}`}, "n:float64"},
		{"integers within int64 beyond 2^53 stay int64", []string{`{"n":9007199254740993}`, `{"n":-9223372036854775808}`}, "n:int64"},
		{"integers beyond int64 are decimal(38,0)", []string{`{"n":1}`, `{"n":98765432109876543210}`}, "n:decimal(38,0)"},
		{"integers beyond 38 digits are string", []string{`{"n":123456789012345678901234567890123456789}`}, "n:string"},
		{"int beyond 2^53 with a fraction is decimal", []string{`{"n":9007199254740993}`, `{"n":1.25}`}, "n:decimal(38,2)"},
		{"fraction of more than 15 digits is decimal", []string{`{"n":12345678901234567890.123}`, `{"n":0.5}`}, "n:decimal(38,3)"},
		{"15 significant digits stay float64", []string{`{"n":12345678901234.5}`}, "n:float64"},
		{"exponent is float64", []string{`{"n":1e3}`, `{"n":2}`}, "n:float64"},
		{"inexact with an exponent is string", []string{`{"n":9007199254740993}`, `{"n":1e3}`}, "n:string"},
		{"decimal beyond 38 digits is string", []string{`{"n":123456789012345678901234567890.123456789}`}, "n:string"},
		{"bool and number widen to string", []string{`{"x":true}`, `{"x":1}`}, "x:string"},
		{"number and string widen to string", []string{`{"x":"a"}`, `{"x":1}`}, "x:string"},
		{"object is json", []string{`{"o":{"a":1}}`}, "o:json"},
		{"array is json", []string{`{"a":[1,2]}`}, "a:json"},
		{"object and scalar widen to json", []string{`{"o":{"a":1}}`, `{"o":"x"}`}, "o:json"},
		{"names lowercased and cleaned", []string{`{"userId":1,"first name":"a","prénom":"b","9lives":1}`},
			`userid(userId):int64 first_name(first\ name):string pr_nom(prénom):string _9lives(9lives):int64`},
		{"names that collide get a suffix", []string{`{"a.b":1,"a_b":2,"A_B":3}`}, `a_b(a\.b):int64 a_b_2(a_b):int64 a_b_3(A_B):int64`},
		{"empty key is no column", []string{`{"":1,"a":2}`}, "a:int64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inf := schema.NewInferrer()
			for _, r := range tc.records {
				if err := inf.Add([]byte(r)); err != nil {
					t.Fatalf("Add(%s): %v", r, err)
				}
			}
			if got := cols(t, inf.Schema()); got != tc.want {
				t.Errorf("columns\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestInferTimestampLayout(t *testing.T) {
	inf := schema.NewInferrer()
	if err := inf.Add([]byte(`{"t":"2024-01-02T03:04:05Z"}`)); err != nil {
		t.Fatal(err)
	}
	if c := inf.Schema().Columns[0]; c.Layout != "rfc3339" {
		t.Errorf("layout %q, want rfc3339", c.Layout)
	}
}

func TestInferRejectsNonObjects(t *testing.T) {
	for _, tc := range []struct {
		rec       string
		notObject bool
	}{{`[1,2]`, true}, {`"x"`, true}, {`12`, true}, {`null`, true}, {`{"a":`, false}, {``, false}, {`{"a":1} x`, false}} {
		rec := tc.rec
		inf := schema.NewInferrer()
		if err := inf.Add([]byte(rec)); err == nil || errors.Is(err, schema.ErrNotObject) != tc.notObject {
			t.Errorf("Add(%q): %v, want an error (ErrNotObject: %v)", rec, err, tc.notObject)
		}
		if n := len(inf.Schema().Columns); n != 0 {
			t.Errorf("Add(%q) added %d columns", rec, n)
		}
	}
}

// A path the Inferrer makes reaches the value of its key, whatever the
// key holds: gjson reads every escaped character as part of the key.
func TestInferPathsReachTheirKey(t *testing.T) {
	keys := []string{"a.b", "a*", "a?", "a|b", "#", "@this", "a\\b", "!x", "=y", "<z>", "%", "[0]", "{a}", "(x)", "a,b", "a:b", `q"uote`, "sp ace", "tab\t", "ünï", "a-b", "0", "..", "a\"b.c|d"}
	for _, k := range keys {
		rec := `{"pad":0,` + string(gjson.AppendJSONString(nil, k)) + `:"value"}`
		inf := schema.NewInferrer()
		if err := inf.Add([]byte(rec)); err != nil {
			t.Fatalf("Add(%s): %v", rec, err)
		}
		c := inf.Schema().Columns[1]
		if got := gjson.Get(rec, c.Path); got.Str != "value" {
			t.Errorf("key %q: path %q reads %q, want \"value\"", k, c.Path, got.Raw)
		}
		if key, ok := schema.TopLevelKey(c.Path); !ok || key != k {
			t.Errorf("key %q: TopLevelKey(%q) = %q, %v", k, c.Path, key, ok)
		}
	}
}

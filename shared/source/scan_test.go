package source

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestScanRecords(t *testing.T) {
	tests := []struct {
		name, body, path string
		scan             bool // taken by the scan
		n                int
	}{
		{"records under a key", `{"data":[{"a":1},2,"x",[3],null,true,false,-1.5e3],"page":1}`, "data", true, 8},
		{"spaces", " {\n\"data\" : [ {\"a\" : 1} , 2 ] ,\"total\":2}\r\n", "data", true, 2},
		{"empty array", `{"data":[]}`, "data", true, 0},
		{"null records", `{"data":null,"next":null}`, "data", true, 0},
		{"no records key", `{"items":[1]}`, "data", true, 0},
		{"first of two keys", `{"data":[1],"data":[1,2]}`, "data", true, 1},
		{"top-level array", `[{"a":1},{"b":2}]`, "", true, 2},
		{"top-level array, @this", `[1]`, "@this", true, 1},
		{"empty object", `{}`, "data", true, 0},
		{"unicode and escapes", `{"data":["é\u00e9\n\"\\\/","😀"]}`, "data", true, 2},
		{"records not an array", `{"data":{"a":1}}`, "data", false, 0},
		{"escaped key", `{"d\u0061ta":[1]}`, "data", false, 0},
		{"nested path", `{"result":{"items":[1]}}`, "result.items", false, 0},
		{"cut short", `{"data":[{"a":1},{"b"`, "data", false, 0},
		{"not UTF-8", "{\"data\":[\"\xff\"]}", "data", false, 0},
		{"control character", "{\"data\":[\"a\tb\"]}", "data", false, 0},
		{"bad escape", `{"data":["\x"]}`, "data", false, 0},
		{"leading zero", `{"data":[01]}`, "data", false, 0},
		{"trailing comma", `{"data":[1,]}`, "data", false, 0},
		{"trailing bytes", `{"data":[1]}x`, "data", false, 0},
		{"bare minus", `{"data":[-]}`, "data", false, 0},
		{"too deep", `{"data":[` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `]}`, "data", false, 0},
		{"empty", ``, "data", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, found, ok := scanRecords([]byte(tt.body), tt.path)
			if ok != tt.scan || len(recs) != tt.n {
				t.Fatalf("scan took it: %v with %d records, want %v with %d", ok, len(recs), tt.scan, tt.n)
			}
			if !ok {
				return
			}
			want, wfound, err := readRecordsGeneral([]byte(tt.body), tt.path)
			if err != nil || found != wfound || fmt.Sprintf("%q", recs) != fmt.Sprintf("%q", want) {
				t.Fatalf("scan read %q (found %v); the general way %q (found %v), %v", recs, found, want, wfound, err)
			}
		})
	}
}

// FuzzScanRecords: whatever the scan takes, the general way takes and reads
// the same records from.
func FuzzScanRecords(f *testing.F) {
	f.Add([]byte(`{"data":[{"id":"a","n":1.5,"t":[true,false,null]},{"s":"é\u00e9"}],"total_pages":3}`), "data")
	f.Add([]byte(`[{"a":1}]`), "")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		recs, found, ok := scanRecords(body, path)
		if !ok {
			return
		}
		want, wfound, err := readRecordsGeneral(body, path)
		if err != nil || found != wfound || len(recs) != len(want) || !reflect.DeepEqual(fmt.Sprintf("%q", recs), fmt.Sprintf("%q", want)) {
			t.Fatalf("scan read %q (found %v) of %q at %q; the general way %q (found %v), %v", recs, found, body, path, want, wfound, err)
		}
	})
}

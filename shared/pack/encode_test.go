package pack

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/sluice-data/sluice/shared/contracts"
)

// encode builds exactly the body encoding/json makes of the same Batch,
// for payloads of every base64 padding and runs whose strings need
// escaping, so a writer decoding with encoding/json reads it as before.
func TestEncodeIsJSONMarshal(t *testing.T) {
	plain := contracts.Run{Source: "orders", Window: "2026-11-01", RunID: "r-1", Attempt: 1}
	for _, tc := range []struct {
		name string
		run  contracts.Run
		data []byte
	}{
		{"one byte", plain, []byte{0x1f}},
		{"two bytes", plain, []byte{0x1f, 0x8b}},
		{"three bytes", plain, []byte{0x1f, 0x8b, 0x08}},
		{"binary kilobyte", plain, bytes.Repeat([]byte{0, 0xff, '"', '\\', '<'}, 205)},
		{"escaped run", goldenRun, []byte("payload")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := contracts.NewBatch(tc.run, 3, 10, 999, tc.data)
			got, err := encode(b)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode:\n%s\nwant json.Marshal's:\n%s", got, want)
			}
		})
	}
}

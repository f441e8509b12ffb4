package pack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/sluice-data/sluice/shared/contracts"
)

// oldBatch is contracts.Batch as it was before the batch checksum
// (6227d6d): the struct a writer of that build decodes a body into.
type oldBatch struct {
	V    int    `json:"v"`
	Kind string `json:"kind"`
	contracts.Run
	Seq      int    `json:"seq"`
	Count    int    `json:"count"`
	RawBytes int64  `json:"raw_bytes"`
	Encoding string `json:"encoding"`
	Data     []byte `json:"data"`
}

// oldDecode decodes body as that writer did: every key must be one of the
// struct's (it refused `unknown field "crc32c"`) and every one present.
func oldDecode(body []byte) (oldBatch, error) {
	var b oldBatch
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil {
		return b, err
	}
	for _, k := range []string{"v", "kind", "source", "window", "run_id", "attempt", "seq", "count", "raw_bytes", "encoding", "data"} {
		if _, ok := keys[k]; !ok {
			return b, fmt.Errorf("missing field %q", k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return b, err
	}
	return b, nil
}

// oldVerify is pack.Verify as it was then: the payload must decompress to
// exactly Count lines and RawBytes bytes.
func oldVerify(b oldBatch) error {
	zr, err := gzip.NewReader(bytes.NewReader(b.Data))
	if err != nil {
		return err
	}
	defer zr.Close()
	zr.Multistream(false)
	all, err := io.ReadAll(zr)
	if err != nil {
		return err
	}
	if bytes.Count(all, newline) != b.Count || int64(len(all)) != b.RawBytes || len(all) == 0 || all[len(all)-1] != '\n' {
		return errors.New("payload does not match its header")
	}
	return nil
}

// A writer built before the checksum decodes and verifies what the packer
// writes now, so the fetcher may be deployed before the writer (and after:
// TestVerifyBatchWithoutCRC). The body the checksum's first version wrote,
// with a crc32c field, is what that writer refused.
func TestOldWriterTakesTodaysBatch(t *testing.T) {
	p := New(goldenRun, 1<<20)
	for _, r := range goldenRecords {
		if err := p.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	body, err := p.Flush()
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("testdata/batch.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"packed now": body, "testdata/batch.json": golden} {
		b, err := oldDecode(body)
		if err != nil {
			t.Fatalf("%s: the old writer's decode: %v", name, err)
		}
		if err := oldVerify(b); err != nil {
			t.Fatalf("%s: the old writer's verify: %v", name, err)
		}
	}
	first, err := os.ReadFile("testdata/batch-crc32c-field.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oldDecode(first); err == nil || !bytes.Contains([]byte(err.Error()), []byte(`unknown field "crc32c"`)) {
		t.Fatalf("the old writer's decode of a body with crc32c = %v, want unknown field", err)
	}
}

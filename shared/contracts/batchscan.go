package contracts

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
)

// scanBatch decodes the body of a Batch in one pass over its bytes, for the
// shape the fetcher sends: one flat object of the Batch's keys, each once,
// every value a string or a number, and data a base64 string with no
// escapes. It reports false for anything else, valid or not, and then
// DecodeBatch decodes the body the general way, which accepts and refuses
// exactly what it always did and says why: the scan never accepts a body
// the general way refuses, nor reads one differently (FuzzScanBatch).
//
// The general way reads the 1 MiB body three times over (Kind, the key
// checks, encoding/json's scan before it decodes) and then unquotes and
// decodes the payload; here the payload is found with one IndexByte and
// decoded in place, and only the small values go through encoding/json,
// each alone, so that their types and ranges are checked as before.
func scanBatch(body []byte) (Batch, bool) {
	var b Batch
	const required = 1<<requiredBatchKeys - 1 // one bit per key, in the order of batchKeys
	var seen uint
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return b, false
	}
	i = skipSpace(body, i+1)
	for {
		// "key"
		if i == len(body) || body[i] != '"' {
			return b, false
		}
		end := bytes.IndexByte(body[i+1:], '"')
		if end < 0 {
			return b, false
		}
		key := body[i+1 : i+1+end]
		bit := batchKey(key)
		if bit < 0 || seen&(1<<bit) != 0 { // unknown, escaped or twice
			return b, false
		}
		seen |= 1 << bit
		i = skipSpace(body, i+end+2)
		if i == len(body) || body[i] != ':' {
			return b, false
		}
		i = skipSpace(body, i+1)
		// value
		var raw []byte
		if i < len(body) && body[i] == '"' {
			j := i + 1
			for {
				k := bytes.IndexByte(body[j:], '"')
				if k < 0 {
					return b, false
				}
				j += k
				if !escaped(body, j) {
					break
				}
				j++
			}
			raw = body[i : j+1]
		} else {
			j := i
			for j < len(body) && isNumberByte(body[j]) {
				j++
			}
			if j == i {
				return b, false // true, false, null, an object or an array
			}
			raw = body[i:j]
		}
		if !b.set(bit, raw) {
			return b, false
		}
		i = skipSpace(body, i+len(raw))
		if i == len(body) {
			return b, false
		}
		if body[i] == '}' {
			break
		}
		if body[i] != ',' {
			return b, false
		}
		i = skipSpace(body, i+1)
	}
	return b, seen&required == required && skipSpace(body, i+1) == len(body)
}

// batchKeys are the Batch's keys: the required ones, then the optional
// (TestScanBatchKeys).
var batchKeys = [...]string{"v", "kind", "source", "window", "run_id", "attempt", "seq", "count", "raw_bytes", "encoding", "data", "crc32c"}

// requiredBatchKeys is how many of batchKeys, from the first, are required.
const requiredBatchKeys = 11

func batchKey(k []byte) int {
	for n, s := range batchKeys {
		if string(k) == s {
			return n
		}
	}
	return -1
}

// set decodes raw, the JSON value of key batchKeys[bit], into b.
func (b *Batch) set(bit int, raw []byte) bool {
	switch batchKeys[bit] {
	case "v": // as Kind reads it: the version's own digits
		b.V = Version
		return string(raw) == "1"
	case "kind":
		return json.Unmarshal(raw, &b.Kind) == nil && b.Kind == KindBatch
	case "source":
		return json.Unmarshal(raw, &b.Source) == nil
	case "window":
		return json.Unmarshal(raw, &b.Window) == nil
	case "run_id":
		return json.Unmarshal(raw, &b.RunID) == nil
	case "attempt":
		return json.Unmarshal(raw, &b.Attempt) == nil
	case "seq":
		return json.Unmarshal(raw, &b.Seq) == nil
	case "count":
		return json.Unmarshal(raw, &b.Count) == nil
	case "raw_bytes":
		return json.Unmarshal(raw, &b.RawBytes) == nil
	case "encoding":
		return json.Unmarshal(raw, &b.Encoding) == nil
	case "crc32c":
		var sum uint32
		if json.Unmarshal(raw, &sum) != nil {
			return false
		}
		b.CRC32C = &sum
		return true
	case "data":
		// Base64 only: an escape, a quote or a control character (which
		// JSON forbids raw, and which the decoder would skip as \r or \n)
		// is left to the general way.
		if len(raw) < 2 || raw[0] != '"' {
			return false
		}
		s := raw[1 : len(raw)-1]
		if bytes.IndexByte(s, '\\') >= 0 || bytes.IndexByte(s, '\n') >= 0 || bytes.IndexByte(s, '\r') >= 0 {
			return false
		}
		data := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
		n, err := base64.StdEncoding.Decode(data, s)
		b.Data = data[:n]
		return err == nil
	}
	return false
}

// escaped reports whether the quote at body[j] is escaped: preceded by an
// odd number of backslashes.
func escaped(body []byte, j int) bool {
	n := 0
	for j > 0 && body[j-1] == '\\' {
		n++
		j--
	}
	return n%2 == 1
}

func skipSpace(body []byte, i int) int {
	for i < len(body) {
		switch body[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

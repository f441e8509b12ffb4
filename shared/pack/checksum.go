package pack

import (
	"encoding/binary"
	"hash/crc32"
)

// The payload carries its own checksum, in its gzip member's header, where
// any gzip reader skips it: an extra field (RFC 1952, FLG.FEXTRA) holding
// one subfield, ID "Sl", of 4 bytes — the CRC-32C (Castagnoli) of the
// batch's count and raw_bytes, each as 8 bytes big-endian, then of the
// payload itself without those 4 bytes. The body keeps exactly the fields
// it had before the checksum, so that a writer built before it (whose
// decoder refuses an unknown field) still decodes and stores such a batch,
// and a writer built since checks a payload without the field, from a
// fetcher built before it, by decompressing it (Verify).
//
// The header is then, byte by byte: 1f 8b 08 (gzip, deflate), FLG 04
// (FEXTRA only), MTIME (4), XFL, OS, XLEN 08 00, 'S' 'l', LEN 04 00, and
// the checksum, little-endian, at sumAt.
const (
	sumAt     = 16
	sumEnd    = sumAt + 4
	gzTrailer = 8 // CRC-32 and ISIZE
)

// sumExtra is the extra field the packer writes, its checksum zero until
// the member is complete.
var sumExtra = [...]byte{'S', 'l', 4, 0, 0, 0, 0, 0}

// hasChecksum reports whether payload d starts with the header the packer
// writes, checksum field included, and is long enough to end in a trailer.
func hasChecksum(d []byte) bool {
	return len(d) >= sumEnd+gzTrailer &&
		d[0] == 0x1f && d[1] == 0x8b && d[2] == 8 && d[3] == 0x04 &&
		d[10] == byte(len(sumExtra)) && d[11] == 0 &&
		string(d[12:sumAt]) == string(sumExtra[:4])
}

// checksum returns the CRC-32C of count and rawBytes and of d without its
// checksum bytes. d must be at least sumEnd bytes long.
func checksum(count int, rawBytes int64, d []byte) uint32 {
	var head [16]byte
	binary.BigEndian.PutUint64(head[:8], uint64(count))
	binary.BigEndian.PutUint64(head[8:], uint64(rawBytes))
	sum := crc32.Update(crc32.Checksum(head[:], castagnoli), castagnoli, d[:sumAt])
	return crc32.Update(sum, castagnoli, d[sumEnd:])
}

// seal writes d's checksum into its header.
func seal(count int, rawBytes int64, d []byte) {
	binary.LittleEndian.PutUint32(d[sumAt:sumEnd], checksum(count, rawBytes, d))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

package parquetfile

import (
	"encoding/binary"
	"math/big"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/tidwall/gjson"
)

// decimalNode is the parquet node of decimal(p,s): INT32 up to 9 digits,
// INT64 up to 18, else the shortest FIXED_LEN_BYTE_ARRAY that holds p
// digits (16 bytes for 38), as Spark and Hive write them.
func decimalNode(p, s int) parquet.Node {
	switch {
	case p <= 9:
		return parquet.Decimal(s, p, parquet.Int32Type)
	case p <= 18:
		return parquet.Decimal(s, p, parquet.Int64Type)
	}
	return parquet.Decimal(s, p, parquet.FixedLenByteArrayType(decimalBytes(p)))
}

// decimalBytes is the fewest bytes whose two's complement holds every
// integer of p digits.
func decimalBytes(p int) int {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p)), nil) // 10^p - 1 must fit
	n := 1
	for new(big.Int).Lsh(big.NewInt(1), uint(8*n-1)).Cmp(limit) < 0 {
		n++
	}
	return n
}

var ten = big.NewInt(10)

func toDecimal(p, s int) convert {
	scale := new(big.Int).Exp(ten, big.NewInt(int64(s)), nil)
	limit := new(big.Int).Exp(ten, big.NewInt(int64(p)), nil)
	size := decimalBytes(p)
	return func(v gjson.Result) (parquet.Value, string) {
		lit, ok := numberText(v)
		if !ok {
			return parquet.Value{}, "want a number"
		}
		if n, ok := smallDecimal(lit, s); ok {
			if p <= 18 && (n >= pow10[p] || n <= -pow10[p]) {
				return parquet.Value{}, "needs more than the column's digits (decimal overflow)"
			}
			switch {
			case p <= 9:
				return parquet.Int32Value(int32(n)), ""
			case p <= 18:
				return parquet.Int64Value(n), ""
			}
			return parquet.FixedLenByteArrayValue(int64Bytes(n, size)), ""
		}
		r, why := exactNumber(lit)
		if r == nil {
			return parquet.Value{}, why
		}
		n := roundHalfAway(new(big.Int).Mul(r.Num(), scale), r.Denom())
		if new(big.Int).Abs(n).Cmp(limit) >= 0 {
			return parquet.Value{}, "needs more than the column's digits (decimal overflow)"
		}
		switch {
		case p <= 9:
			return parquet.Int32Value(int32(n.Int64())), ""
		case p <= 18:
			return parquet.Int64Value(n.Int64()), ""
		}
		return parquet.FixedLenByteArrayValue(twosComplement(n, size)), ""
	}
}

var pow10 = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// smallDecimal is the common case of toDecimal without big numbers: a
// literal without an exponent whose digits, scaled to s, fit 18 digits,
// rounded half away from zero. false for anything else.
func smallDecimal(lit string, s int) (int64, bool) {
	neg := strings.HasPrefix(lit, "-")
	intPart, frac, _ := strings.Cut(strings.TrimPrefix(lit, "-"), ".")
	if strings.ContainsAny(frac, "eE") || strings.ContainsAny(intPart, "eE") || len(intPart)+s > 18 {
		return 0, false
	}
	up := false
	if len(frac) > s {
		up = frac[s] >= '5'
		frac = frac[:s]
	}
	n, err := strconv.ParseInt(intPart+frac, 10, 64)
	if err != nil {
		return 0, false
	}
	n *= pow10[s-len(frac)]
	if up {
		n++
	}
	if neg {
		n = -n
	}
	return n, true
}

// int64Bytes is n big-endian in size ≥ 8 bytes, two's complement.
func int64Bytes(n int64, size int) []byte {
	b := make([]byte, size)
	if n < 0 {
		for i := range b[:size-8] {
			b[i] = 0xff
		}
	}
	binary.BigEndian.PutUint64(b[size-8:], uint64(n))
	return b
}

// roundHalfAway is num/den rounded to an integer, halves away from zero.
func roundHalfAway(num, den *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int)) // q toward zero, r has num's sign
	if new(big.Int).Lsh(new(big.Int).Abs(r), 1).Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// twosComplement is n big-endian in size bytes, two's complement.
func twosComplement(n *big.Int, size int) []byte {
	b := make([]byte, size)
	if n.Sign() >= 0 {
		n.FillBytes(b)
		return b
	}
	// -n = ^(|n|-1)
	m := new(big.Int).Sub(new(big.Int).Abs(n), big.NewInt(1))
	m.FillBytes(b)
	for i := range b {
		b[i] = ^b[i]
	}
	return b
}

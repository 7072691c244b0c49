package maassim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MAAS builds several messages with Python's repr() and str(); these helpers
// reproduce the parts of both that its messages use, so bodies match byte
// for byte.

// pyRepr renders a string as Python 3's repr() does.
func pyRepr(s string) string {
	quote := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			// Python strings hold code points, not bytes; an invalid byte
			// arrives as a surrogate escape. Render it as \udcXX like
			// Python's surrogateescape does.
			fmt.Fprintf(&b, `\udc%02x`, s[i])
			i++
			continue
		}
		i += size
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(quote):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x80 || unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

// pyFloat renders a float as Python 3's str() does: shortest round-trip
// digits, always a decimal point or exponent, exponent form outside
// [1e-4, 1e16).
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		// Go writes e+16 / e-05 like Python; only the mantissa differs
		// in that Python has no trailing ".0" there either.
		return s
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// pyLists renders request.data.lists() as MAAS's 409 message shows it:
// [('cpu_count', ['4']), ('tags', ['a', 'b'])].
func pyLists(l []keyValues) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, kv := range l {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		b.WriteString(pyRepr(kv.key))
		b.WriteString(", [")
		for j, v := range kv.values {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyRepr(v))
		}
		b.WriteString("])")
	}
	b.WriteByte(']')
	return b.String()
}

package template

import (
	"math"
	"strconv"
	"strings"
)

// Numbers are parsed and printed the way .NET does for the en-US culture
// (Octopus's documentation examples: "$4.30"), since Octostache's Format
// filter and calc results go through .NET's ToString.

// formatDotnetDouble prints a double like .NET Core's double.ToString():
// the shortest round-trip digits, scientific from 1E+15 and below 1E-05.
func formatDotnetDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	digits, exp, neg := shortestDigits(f)
	return generalFormat(digits, exp, neg, 15, 'E', false)
}

// shortestDigits gives f's shortest round-trip significant digits and the
// exponent e with |f| = 0.digits × 10^e.
func shortestDigits(f float64) (digits string, exp int, neg bool) {
	s := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±x
	if s[0] == '-' {
		neg = true
		s = s[1:]
	}
	epos := strings.IndexByte(s, 'e')
	x, _ := strconv.Atoi(s[epos+1:])
	digits = strings.Replace(s[:epos], ".", "", 1)
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		return "", 0, neg
	}
	return digits, x + 1, neg
}

// generalFormat is .NET's "G" layout: fixed notation when the scientific
// exponent is in [-5, precision), else d.dddE+xx.
func generalFormat(digits string, exp int, neg bool, precision int, e byte, keepZeros bool) string {
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	if !keepZeros {
		digits = strings.TrimRight(digits, "0")
	}
	if digits == "" {
		b.WriteByte('0')
		return b.String()
	}
	sci := exp - 1
	if sci >= -5 && sci < precision {
		switch {
		case exp <= 0:
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", -exp))
			b.WriteString(digits)
		case exp >= len(digits):
			b.WriteString(digits)
			b.WriteString(strings.Repeat("0", exp-len(digits)))
		default:
			b.WriteString(digits[:exp])
			b.WriteByte('.')
			b.WriteString(digits[exp:])
		}
		return b.String()
	}
	b.WriteByte(digits[0])
	if len(digits) > 1 {
		b.WriteByte('.')
		b.WriteString(digits[1:])
	}
	b.WriteByte(e)
	if sci < 0 {
		b.WriteByte('-')
		sci = -sci
	} else {
		b.WriteByte('+')
	}
	x := strconv.Itoa(sci)
	if len(x) < 2 {
		b.WriteByte('0')
	}
	b.WriteString(x)
	return b.String()
}

// parseDotnetInt is int.TryParse: optional whitespace and sign, digits,
// within 32 bits.
func parseDotnetInt(s string) (int, bool) {
	s = strings.TrimFunc(s, isSpace)
	if s == "" {
		return 0, false
	}
	body := s
	if body[0] == '+' || body[0] == '-' {
		body = body[1:]
	}
	if body == "" || strings.IndexFunc(body, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

// parseDotnetDouble is double.TryParse (Float and AllowThousands styles).
func parseDotnetDouble(s string) (float64, bool) {
	s = strings.TrimFunc(s, isSpace)
	neg := false
	body := s
	if body != "" && (body[0] == '+' || body[0] == '-') {
		neg = body[0] == '-'
		body = body[1:]
	}
	switch strings.ToLower(body) {
	case "infinity", "∞":
		if neg {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case "nan":
		return math.NaN(), true
	}
	var clean strings.Builder
	digits := 0
	i := 0
	for i < len(body) && (isDigit(body[i]) || body[i] == ',') {
		if body[i] != ',' {
			clean.WriteByte(body[i])
			digits++
		} else if digits == 0 {
			return 0, false
		}
		i++
	}
	if i < len(body) && body[i] == '.' {
		clean.WriteByte('.')
		i++
		for i < len(body) && isDigit(body[i]) {
			clean.WriteByte(body[i])
			digits++
			i++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(body) && (body[i] == 'e' || body[i] == 'E') {
		clean.WriteByte('e')
		i++
		if i < len(body) && (body[i] == '+' || body[i] == '-') {
			clean.WriteByte(body[i])
			i++
		}
		start := i
		for i < len(body) && isDigit(body[i]) {
			clean.WriteByte(body[i])
			i++
		}
		if i == start {
			return 0, false
		}
	}
	if i != len(body) {
		return 0, false
	}
	f, err := strconv.ParseFloat(clean.String(), 64)
	if err != nil && !isRangeError(err) {
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

type numKind int

const (
	numInt numKind = iota
	numDecimal
	numDouble
)

// dnum is a number as exact decimal digits: ±intPart.frac. Decimals keep
// trailing fractional zeros (23.40 prints as 23.40), as .NET's do.
type dnum struct {
	neg     bool
	intPart string // no leading zeros; "" is zero
	frac    string
	kind    numKind
	special string // NaN, Infinity, -Infinity (doubles only)
	i64     int64  // numInt: the value, for X
}

func (d dnum) isZero() bool {
	return strings.Trim(d.intPart, "0") == "" && strings.Trim(d.frac, "0") == ""
}

func intNum(n int) dnum {
	d := dnum{kind: numInt, i64: int64(n)}
	u := int64(n)
	if u < 0 {
		d.neg = true
		u = -u
	}
	if u != 0 {
		d.intPart = strconv.FormatInt(u, 10)
	}
	return d
}

func doubleNum(f float64) dnum {
	switch {
	case math.IsNaN(f):
		return dnum{kind: numDouble, special: "NaN"}
	case math.IsInf(f, 1):
		return dnum{kind: numDouble, special: "Infinity"}
	case math.IsInf(f, -1):
		return dnum{kind: numDouble, special: "-Infinity"}
	}
	d := dnum{kind: numDouble, neg: math.Signbit(f)}
	s := strconv.FormatFloat(math.Abs(f), 'f', -1, 64)
	ip, fp, _ := strings.Cut(s, ".")
	d.intPart = strings.TrimLeft(ip, "0")
	d.frac = fp
	return d
}

// parseDotnetDecimal is decimal.TryParse (Number style): whitespace, a
// leading or trailing sign, thousands separators and a decimal point, no
// exponent, at most 29 significant digits.
func parseDotnetDecimal(s string) (dnum, bool) {
	s = strings.TrimFunc(s, isSpace)
	d := dnum{kind: numDecimal}
	if s != "" && (s[0] == '+' || s[0] == '-') {
		d.neg = s[0] == '-'
		s = strings.TrimLeftFunc(s[1:], isSpace)
	} else if s != "" && (s[len(s)-1] == '+' || s[len(s)-1] == '-') {
		d.neg = s[len(s)-1] == '-'
		s = strings.TrimRightFunc(s[:len(s)-1], isSpace)
	}
	ip, fp, hasPoint := strings.Cut(s, ".")
	if ip == "" && fp == "" {
		return dnum{}, false
	}
	var ib strings.Builder
	for i := 0; i < len(ip); i++ {
		switch {
		case isDigit(ip[i]):
			ib.WriteByte(ip[i])
		case ip[i] == ',' && ib.Len() > 0:
		default:
			return dnum{}, false
		}
	}
	if hasPoint && strings.IndexFunc(fp, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return dnum{}, false
	}
	if ib.Len() == 0 && fp == "" {
		return dnum{}, false
	}
	d.intPart = strings.TrimLeft(ib.String(), "0")
	d.frac = fp
	if len(d.intPart) > 29 || len(d.intPart)+len(d.frac) > 29 && len(d.intPart) == 29 {
		return dnum{}, false
	}
	if len(d.intPart)+len(d.frac) > 29 {
		d = d.round(29 - len(d.intPart))
	}
	if d.isZero() {
		d.neg = false
	}
	return d, true
}

// round rounds to decimals fractional digits, half away from zero, keeping
// at least decimals digits (padding is left to the caller).
func (d dnum) round(decimals int) dnum {
	if decimals < 0 {
		decimals = 0
	}
	if len(d.frac) <= decimals {
		return d
	}
	keep := []byte(d.intPart + d.frac[:decimals])
	if d.frac[decimals] >= '5' {
		i := len(keep) - 1
		for ; i >= 0; i-- {
			if keep[i] == '9' {
				keep[i] = '0'
				continue
			}
			keep[i]++
			break
		}
		if i < 0 {
			keep = append([]byte{'1'}, keep...)
		}
	}
	n := len(keep) - decimals
	d.intPart = strings.TrimLeft(string(keep[:n]), "0")
	d.frac = string(keep[n:])
	return d
}

// shift multiplies by 10^n.
func (d dnum) shift(n int) dnum {
	all := d.intPart + d.frac
	point := len(d.intPart) + n
	switch {
	case point <= 0:
		d.intPart = ""
		d.frac = strings.Repeat("0", -point) + all
	case point >= len(all):
		d.intPart = all + strings.Repeat("0", point-len(all))
		d.frac = ""
	default:
		d.intPart = all[:point]
		d.frac = all[point:]
	}
	d.intPart = strings.TrimLeft(d.intPart, "0")
	return d
}

// significant gives the digits without leading zeros and the exponent e
// with value = 0.digits × 10^e.
func (d dnum) significant() (string, int) {
	if d.intPart != "" {
		return d.intPart + d.frac, len(d.intPart)
	}
	z := 0
	for z < len(d.frac) && d.frac[z] == '0' {
		z++
	}
	if z == len(d.frac) {
		return "", 0
	}
	return d.frac[z:], -z
}

// roundDigits rounds a significant-digit string to n digits, half away from
// zero, returning the new digits and exponent.
func roundDigits(digits string, exp, n int) (string, int) {
	if len(digits) <= n {
		return digits, exp
	}
	keep := []byte(digits[:n])
	if digits[n] >= '5' {
		i := n - 1
		for ; i >= 0; i-- {
			if keep[i] == '9' {
				keep[i] = '0'
				continue
			}
			keep[i]++
			break
		}
		if i < 0 {
			keep = append([]byte{'1'}, keep[:len(keep)-1]...)
			exp++
		}
	}
	return string(keep), exp
}

func groupThousands(intDigits string) string {
	if len(intDigits) <= 3 {
		return intDigits
	}
	var b strings.Builder
	first := len(intDigits) % 3
	if first > 0 {
		b.WriteString(intDigits[:first])
	}
	for i := first; i < len(intDigits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(intDigits[i : i+3])
	}
	return b.String()
}

// fixed prints d rounded to decimals places, optionally grouped.
func fixed(d dnum, decimals int, group bool) (body string, zero bool) {
	r := d.round(decimals)
	ip := r.intPart
	if ip == "" {
		ip = "0"
	}
	if group {
		ip = groupThousands(ip)
	}
	frac := r.frac
	if len(frac) < decimals {
		frac += strings.Repeat("0", decimals-len(frac))
	}
	if decimals > 0 {
		return ip + "." + frac, r.isZero()
	}
	return ip, r.isZero()
}

package template

import (
	"math"
	"strconv"
	"strings"
)

// Standard (C, D, E, F, G, N, P, R, X) and custom ("#,##0.00") numeric
// format strings, as .NET applies them for en-US.

const maxFormatPrecision = 99

// formatNumber applies a .NET standard or custom numeric format string.
func formatNumber(d dnum, format string) (string, bool) {
	if d.special != "" {
		return d.special, true
	}
	if format == "" {
		format = "G"
	}
	if c := format[0]; len(format) <= 3 && (c|0x20) >= 'a' && (c|0x20) <= 'z' {
		if p, ok := precisionOf(format[1:]); ok {
			return formatStandardNumber(d, c, p)
		}
	}
	return formatCustomNumber(d, format)
}

// precisionOf parses a standard format's precision: "" is -1 (default).
func precisionOf(s string) (int, bool) {
	if s == "" {
		return -1, true
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
	}
	n, _ := strconv.Atoi(s)
	return n, n <= maxFormatPrecision
}

func formatStandardNumber(d dnum, spec byte, prec int) (string, bool) {
	sign := func(body string, zero bool) string {
		if d.neg && !zero {
			return "-" + body
		}
		return body
	}
	orDefault := func(def int) int {
		if prec < 0 {
			return def
		}
		return prec
	}
	switch spec {
	case 'C', 'c':
		body, zero := fixed(d, orDefault(2), true)
		return sign("$"+body, zero), true
	case 'F', 'f':
		return sign(fixed(d, orDefault(2), false)), true
	case 'N', 'n':
		return sign(fixed(d, orDefault(2), true)), true
	case 'P', 'p':
		body, zero := fixed(d.shift(2), orDefault(2), true)
		return sign(body+"%", zero), true
	case 'D', 'd':
		if d.kind != numInt {
			return "", false
		}
		digits := d.intPart
		if digits == "" {
			digits = "0"
		}
		if len(digits) < prec {
			digits = strings.Repeat("0", prec-len(digits)) + digits
		}
		return sign(digits, d.isZero()), true
	case 'X', 'x':
		if d.kind != numInt {
			return "", false
		}
		s := strconv.FormatUint(uint64(uint32(int32(d.i64))), 16)
		if spec == 'X' {
			s = strings.ToUpper(s)
		}
		if len(s) < prec {
			s = strings.Repeat("0", prec-len(s)) + s
		}
		return s, true
	case 'R', 'r':
		if d.kind != numDouble {
			return "", false
		}
		digits, exp := d.significant()
		return generalFormat(digits, exp, d.neg && digits != "", 15, 'E', false), true
	case 'E', 'e':
		p := orDefault(6)
		digits, exp := d.significant()
		if digits == "" {
			exp = 1
		}
		digits, exp = roundDigits(digits, exp, p+1)
		digits += strings.Repeat("0", p+1-len(digits))
		var b strings.Builder
		b.WriteByte(digits[0])
		if p > 0 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		b.WriteByte(spec)
		x := exp - 1
		if x < 0 {
			b.WriteByte('-')
			x = -x
		} else {
			b.WriteByte('+')
		}
		xs := strconv.Itoa(x)
		b.WriteString(strings.Repeat("0", max(0, 3-len(xs))))
		b.WriteString(xs)
		return sign(b.String(), strings.Trim(digits, "0") == ""), true
	case 'G', 'g':
		e := byte('E')
		if spec == 'g' {
			e = 'e'
		}
		digits, exp := d.significant()
		neg := d.neg && digits != ""
		if prec <= 0 {
			switch d.kind {
			case numDecimal:
				// A decimal prints all its digits, keeping trailing zeros.
				s, _ := fixed(d, len(d.frac), false)
				return sign(s, d.isZero()), true
			case numInt:
				return generalFormat(digits, exp, neg, math.MaxInt32, e, false), true
			default:
				return generalFormat(digits, exp, neg, 15, e, false), true
			}
		}
		digits, exp = roundDigits(digits, exp, prec)
		return generalFormat(digits, exp, neg, prec, e, false), true
	}
	return "", false
}

// customSection describes one ';'-separated section of a custom format.
type customSection struct {
	text         string
	intPlaces    int // 0 and # before the point
	minInt       int // digits forced by the first 0 before the point
	fracPlaces   int
	minFrac      int // digits forced up to the last 0 after the point
	group        bool
	shift        int // powers of ten from %, ‰ and scaling commas
	sci          bool
	sciPlus      bool
	sciMinDigits int
	hasPoint     bool
}

func splitSections(format string) []string {
	var sections []string
	start := 0
	for i := 0; i < len(format); i++ {
		switch format[i] {
		case '\\':
			i++
		case '\'', '"':
			q := format[i]
			for i++; i < len(format) && format[i] != q; i++ {
			}
		case ';':
			sections = append(sections, format[start:i])
			start = i + 1
		}
	}
	return append(sections, format[start:])
}

func analyzeSection(text string) (customSection, bool) {
	cs := customSection{text: text}
	inInt := true
	firstZero := -1
	pendingCommas := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch c {
		case '0', '#':
			if inInt {
				if c == '0' && firstZero < 0 {
					firstZero = cs.intPlaces
				}
				if pendingCommas > 0 && cs.intPlaces > 0 {
					cs.group = true
				}
				pendingCommas = 0
				cs.intPlaces++
			} else {
				cs.fracPlaces++
				if c == '0' {
					cs.minFrac = cs.fracPlaces
				}
			}
		case '.':
			if inInt {
				inInt = false
				cs.hasPoint = true
				cs.shift -= 3 * pendingCommas
				pendingCommas = 0
			}
		case ',':
			if inInt && cs.intPlaces > 0 {
				pendingCommas++
			}
		case '%':
			cs.shift += 2
		case 'E', 'e':
			j := i + 1
			plus := false
			if j < len(text) && (text[j] == '+' || text[j] == '-') {
				plus = text[j] == '+'
				j++
			}
			if j < len(text) && text[j] == '0' && !cs.sci {
				n := 0
				for j < len(text) && text[j] == '0' {
					n++
					j++
				}
				cs.sci, cs.sciPlus, cs.sciMinDigits = true, plus, n
				if inInt {
					cs.shift -= 3 * pendingCommas
					pendingCommas = 0
					inInt = false
				}
				i = j - 1
			}
		case '\\':
			i++
		case '\'', '"':
			j := strings.IndexByte(text[i+1:], c)
			if j < 0 {
				return cs, false
			}
			i += j + 1
		default:
			if strings.HasPrefix(text[i:], "‰") {
				cs.shift += 3
				i += len("‰") - 1
			}
		}
	}
	if inInt {
		cs.shift -= 3 * pendingCommas
	}
	if firstZero >= 0 {
		cs.minInt = cs.intPlaces - firstZero
	}
	return cs, true
}

func formatCustomNumber(d dnum, format string) (string, bool) {
	sections := splitSections(format)
	text := sections[0]
	useSign := d.neg
	switch {
	case d.isZero() && len(sections) >= 3 && sections[2] != "":
		text, useSign = sections[2], false
	case d.neg && len(sections) >= 2 && sections[1] != "":
		text, useSign = sections[1], false
	}
	cs, ok := analyzeSection(text)
	if !ok {
		return "", false
	}
	out, zero := cs.apply(d)
	if useSign && !zero {
		out = "-" + out
	}
	return out, true
}

// apply formats |d| with the section, returning whether all digits shown
// are zero (so no minus sign is due).
func (cs customSection) apply(d dnum) (string, bool) {
	d.neg = false
	d = d.shift(cs.shift)
	exponent := 0
	if cs.sci {
		digits, exp := d.significant()
		n := max(cs.intPlaces, 1)
		if digits != "" {
			exponent = exp - n
			d = d.shift(-exponent)
		}
		d = d.round(cs.fracPlaces)
		if len(d.intPart) > n { // rounding carried into a new digit
			d = d.shift(-1)
			exponent++
		}
	} else {
		d = d.round(cs.fracPlaces)
	}
	intDigits := d.intPart
	if len(intDigits) < cs.minInt {
		intDigits = strings.Repeat("0", cs.minInt-len(intDigits)) + intDigits
	}
	frac := d.frac
	if len(frac) > cs.fracPlaces {
		frac = frac[:cs.fracPlaces]
	}
	for len(frac) > cs.minFrac && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if len(frac) < cs.minFrac {
		frac += strings.Repeat("0", cs.minFrac-len(frac))
	}
	zero := strings.Trim(intDigits, "0") == "" && strings.Trim(frac, "0") == ""

	var b strings.Builder
	m, k := len(intDigits), cs.intPlaces
	intIdx, fracIdx := 0, 0
	intDone := false
	writeInt := func(j int) {
		b.WriteByte(intDigits[j])
		if cs.group && j < m-1 && (m-1-j)%3 == 0 {
			b.WriteByte(',')
		}
	}
	flushLeading := func() {
		if !intDone {
			for j := 0; j < m-k; j++ {
				writeInt(j)
			}
			intDone = true
		}
	}
	inInt := true
	text := cs.text
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch c {
		case '0', '#':
			if inInt {
				flushLeading()
				if j := m - k + intIdx; j >= 0 {
					writeInt(j)
				}
				intIdx++
			} else {
				if fracIdx < len(frac) {
					b.WriteByte(frac[fracIdx])
				}
				fracIdx++
			}
		case '.':
			if inInt {
				flushLeading()
				inInt = false
				if len(frac) > 0 {
					b.WriteByte('.')
				}
			}
		case ',':
		case 'E', 'e':
			j := i + 1
			if j < len(text) && (text[j] == '+' || text[j] == '-') {
				j++
			}
			if cs.sci && j < len(text) && text[j] == '0' {
				flushLeading()
				inInt = false
				b.WriteByte(c)
				x := exponent
				if x < 0 {
					b.WriteByte('-')
					x = -x
				} else if cs.sciPlus {
					b.WriteByte('+')
				}
				xs := strconv.Itoa(x)
				b.WriteString(strings.Repeat("0", max(0, cs.sciMinDigits-len(xs))))
				b.WriteString(xs)
				for j < len(text) && text[j] == '0' {
					j++
				}
				i = j - 1
				continue
			}
			b.WriteByte(c)
		case '\\':
			if i+1 < len(text) {
				i++
				b.WriteByte(text[i])
			}
		case '\'', '"':
			j := strings.IndexByte(text[i+1:], c)
			b.WriteString(text[i+1 : i+1+j])
			i += j + 1
		default:
			b.WriteByte(c)
		}
	}
	// Like .NET, a format without digit placeholders shows no digits.
	return b.String(), zero
}

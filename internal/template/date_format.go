package template

import (
	"strconv"
	"strings"
	"time"
)

// Dates are parsed and printed like .NET's DateTime and DateTimeOffset in
// the en-US culture. "Local" time is the location of Options.Now's result
// (time.Local by default), so output is deterministic under test.

type dateKind int

const (
	kindUnspecified dateKind = iota // DateTime without zone ("O" has no offset)
	kindUTC                         // DateTime in UTC ("O" ends in Z)
	kindLocal                       // DateTime in local time
	kindOffset                      // DateTimeOffset
)

// dotnetTime is a wall-clock time and how .NET would classify it. For
// kindOffset and kindLocal, t's zone is the offset; otherwise t's fields
// are the wall clock and local is used for "z".
type dotnetTime struct {
	t     time.Time
	kind  dateKind
	local *time.Location
}

func (d dotnetTime) offset() int {
	switch d.kind {
	case kindUTC:
		return 0
	case kindOffset, kindLocal:
		_, off := d.t.Zone()
		return off
	}
	y, mo, day := d.t.Date()
	h, mi, s := d.t.Clock()
	_, off := time.Date(y, mo, day, h, mi, s, d.t.Nanosecond(), d.local).Zone()
	return off
}

// toUTC converts for the "R", "u" and "U" formats.
func (d dotnetTime) toUTC() dotnetTime {
	if d.kind == kindUTC {
		return d
	}
	off := d.offset()
	y, mo, day := d.t.Date()
	h, mi, s := d.t.Clock()
	wall := time.Date(y, mo, day, h, mi, s, d.t.Nanosecond(), time.UTC)
	return dotnetTime{t: wall.Add(-time.Duration(off) * time.Second), kind: kindUTC, local: d.local}
}

// formatDate applies a .NET standard or custom date format string.
func formatDate(d dotnetTime, format string) (string, bool) {
	if format == "" {
		format = "G"
	}
	if len(format) == 1 {
		switch format[0] {
		case 'd':
			format = "M/d/yyyy"
		case 'D':
			format = "dddd, MMMM d, yyyy"
		case 'f':
			format = "dddd, MMMM d, yyyy h:mm tt"
		case 'F':
			format = "dddd, MMMM d, yyyy h:mm:ss tt"
		case 'g':
			format = "M/d/yyyy h:mm tt"
		case 'G':
			format = "M/d/yyyy h:mm:ss tt"
		case 'M', 'm':
			format = "MMMM d"
		case 'O', 'o':
			format = "yyyy'-'MM'-'dd'T'HH':'mm':'ss.fffffffK"
			if d.kind == kindOffset {
				format = "yyyy'-'MM'-'dd'T'HH':'mm':'ss.fffffffzzz"
			}
		case 'R', 'r':
			if d.kind == kindOffset {
				d = d.toUTC()
			}
			format = "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'"
		case 's':
			format = "yyyy'-'MM'-'dd'T'HH':'mm':'ss"
		case 't':
			format = "h:mm tt"
		case 'T':
			format = "h:mm:ss tt"
		case 'u':
			if d.kind == kindOffset {
				d = d.toUTC()
			}
			format = "yyyy'-'MM'-'dd HH':'mm':'ss'Z'"
		case 'U':
			d = d.toUTC()
			format = "dddd, MMMM d, yyyy h:mm:ss tt"
		case 'Y', 'y':
			format = "MMMM yyyy"
		default:
			return "", false
		}
	}
	return formatCustomDate(d, format)
}

func pad(n, width int) string {
	s := strconv.Itoa(n)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}

func formatCustomDate(d dotnetTime, format string) (string, bool) {
	t := d.t
	var b strings.Builder
	for i := 0; i < len(format); {
		c := format[i]
		n := 1
		for i+n < len(format) && format[i+n] == c {
			n++
		}
		switch c {
		case 'd':
			switch n {
			case 1, 2:
				b.WriteString(pad(t.Day(), n))
			case 3:
				b.WriteString(t.Weekday().String()[:3])
			default:
				b.WriteString(t.Weekday().String())
			}
		case 'f', 'F':
			if n > 7 {
				return "", false
			}
			digits := pad(t.Nanosecond()/100, 7)[:n]
			if c == 'F' {
				digits = strings.TrimRight(digits, "0")
				if digits == "" {
					s := b.String()
					if strings.HasSuffix(s, ".") {
						b.Reset()
						b.WriteString(s[:len(s)-1])
					}
				}
			}
			b.WriteString(digits)
		case 'g':
			b.WriteString("A.D.")
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b.WriteString(pad(h, min(n, 2)))
		case 'H':
			b.WriteString(pad(t.Hour(), min(n, 2)))
		case 'K':
			switch d.kind {
			case kindUTC:
				b.WriteByte('Z')
			case kindLocal, kindOffset:
				b.WriteString(offsetText(d.offset(), 3))
			}
			n = 1
		case 'm':
			b.WriteString(pad(t.Minute(), min(n, 2)))
		case 'M':
			switch n {
			case 1, 2:
				b.WriteString(pad(int(t.Month()), n))
			case 3:
				b.WriteString(t.Month().String()[:3])
			default:
				b.WriteString(t.Month().String())
			}
		case 's':
			b.WriteString(pad(t.Second(), min(n, 2)))
		case 't':
			ampm := "AM"
			if t.Hour() >= 12 {
				ampm = "PM"
			}
			if n == 1 {
				ampm = ampm[:1]
			}
			b.WriteString(ampm)
		case 'y':
			switch n {
			case 1:
				b.WriteString(strconv.Itoa(t.Year() % 100))
			case 2:
				b.WriteString(pad(t.Year()%100, 2))
			default:
				b.WriteString(pad(t.Year(), n))
			}
		case 'z':
			b.WriteString(offsetText(d.offset(), min(n, 3)))
		case ':', '/':
			b.WriteByte(c)
			n = 1
		case '\'', '"':
			j := i + 1
			for ; j < len(format) && format[j] != c; j++ {
				if format[j] == '\\' && j+1 < len(format) {
					j++
				}
				b.WriteByte(format[j])
			}
			if j >= len(format) {
				return "", false
			}
			i = j + 1
			continue
		case '%':
			if i+1 >= len(format) || format[i+1] == '%' {
				return "", false
			}
			out, ok := formatCustomDate(d, format[i+1:i+2])
			if !ok {
				return "", false
			}
			b.WriteString(out)
			i += 2
			continue
		case '\\':
			if i+1 >= len(format) {
				return "", false
			}
			b.WriteByte(format[i+1])
			i += 2
			continue
		default:
			b.WriteString(format[i : i+n])
		}
		i += n
	}
	return b.String(), true
}

// offsetText prints a UTC offset as "+h" (1), "+hh" (2) or "+hh:mm" (3).
func offsetText(seconds, width int) string {
	sign := "+"
	if seconds < 0 {
		sign = "-"
		seconds = -seconds
	}
	h, m := seconds/3600, seconds%3600/60
	switch width {
	case 1:
		return sign + strconv.Itoa(h)
	case 2:
		return sign + pad(h, 2)
	}
	return sign + pad(h, 2) + ":" + pad(m, 2)
}

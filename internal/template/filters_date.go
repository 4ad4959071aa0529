package template

import (
	"math"
	"strings"
	"time"
)

// nowDate is NowDate and NowDateUtc: they take no input (#{ | NowDate}) and
// an optional format, "O" (round trip) by default.
func nowDate(utc bool) filterFunc {
	return func(in filterInput) (string, bool, error) {
		if in.defined || len(in.args) > 1 {
			return "", false, nil
		}
		now := in.r.currentTime()
		d := dotnetTime{t: now, kind: kindUnspecified, local: now.Location()}
		if utc {
			d = dotnetTime{t: now.UTC(), kind: kindUTC, local: now.Location()}
		} else {
			y, m, day := now.Date()
			h, mi, s := now.Clock()
			d.t = time.Date(y, m, day, h, mi, s, now.Nanosecond(), time.UTC)
		}
		out, ok := formatDate(d, firstArgOr(in.args, "O"))
		return out, ok, nil
	}
}

func firstArgOr(args []string, def string) string {
	if len(args) == 0 {
		return def
	}
	return args[0]
}

// addTime is AddHours (unit 1) and AddDays (unit 24): it shifts a date by
// a number of units, keeping an explicit offset, and prints it round-trip.
func addTime(hoursPerUnit float64) filterFunc {
	return func(in filterInput) (string, bool, error) {
		if !in.defined || len(in.args) != 1 {
			return "", false, nil
		}
		amount, ok := parseInvariantFloat(in.args[0])
		if !ok {
			return "", false, nil
		}
		hours := amount * hoursPerUnit
		if math.IsNaN(hours) || math.Abs(hours) > 24*366*10000 {
			return "", false, nil
		}
		shift := time.Duration(math.Round(hours * float64(time.Hour)))
		now := in.r.currentTime()
		d, ok := parseDateTime(in.value, now, true)
		if ok && d.kind == kindLocal {
			d, ok = parseDateTimeOffset(in.value, now)
		}
		if !ok {
			return "", false, nil
		}
		d.t = d.t.Add(shift)
		if y := d.t.Year(); y < 1 || y > 9999 {
			return "", false, nil
		}
		out, ok := formatDate(d, "O")
		return out, ok, nil
	}
}

// parseInvariantFloat is double.TryParse with NumberStyles.Float and the
// invariant culture: no thousands separators.
func parseInvariantFloat(s string) (float64, bool) {
	if strings.Contains(s, ",") {
		return 0, false
	}
	return parseDotnetDouble(s)
}

// formatFilter is Format: with one argument the value is read as a decimal,
// else as a date; with two the first names the type (Int32/Int, Double,
// Decimal, Date/DateTime, DateTimeOffset).
func formatFilter(in filterInput) (string, bool, error) {
	if !in.defined || len(in.args) == 0 || len(in.args) > 2 {
		return "", false, nil
	}
	now := in.r.currentTime()
	if len(in.args) == 1 {
		if d, ok := parseDotnetDecimal(in.value); ok {
			out, ok := formatNumber(d, in.args[0])
			return out, ok, nil
		}
		if d, ok := parseDateTimeOffset(in.value, now); ok {
			out, ok := formatDate(d, in.args[0])
			return out, ok, nil
		}
		return "", false, nil
	}
	format := in.args[1]
	switch strings.ToLower(in.args[0]) {
	case "int32", "int":
		if n, ok := parseDotnetInt(in.value); ok {
			out, ok := formatNumber(intNum(n), format)
			return out, ok, nil
		}
	case "double":
		if f, ok := parseDotnetDouble(in.value); ok {
			out, ok := formatNumber(doubleNum(f), format)
			return out, ok, nil
		}
	case "decimal":
		if d, ok := parseDotnetDecimal(in.value); ok {
			out, ok := formatNumber(d, format)
			return out, ok, nil
		}
	case "date", "datetime":
		if d, ok := parseDateTime(in.value, now, false); ok {
			out, ok := formatDate(d, format)
			return out, ok, nil
		}
	case "datetimeoffset":
		if d, ok := parseDateTimeOffset(in.value, now); ok {
			out, ok := formatDate(d, format)
			return out, ok, nil
		}
	}
	return "", false, nil
}

package template

import (
	"strconv"
	"strings"
	"time"
)

type zoneKind int

const (
	zoneNone zoneKind = iota
	zoneUTC
	zoneOffset
)

// dateParts is what the parser found in a date string.
type dateParts struct {
	year, month, day, hour, minute, second, nanos int
	zone                                          zoneKind
	offset                                        int // seconds east of UTC
}

type dateToken struct {
	text   string
	number bool
}

func tokenizeDate(s string) []dateToken {
	var toks []dateToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isDigit(c):
			j := i
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			toks = append(toks, dateToken{text: s[i:j], number: true})
			i = j
		case (c|0x20) >= 'a' && (c|0x20) <= 'z':
			j := i
			for j < len(s) && (s[j]|0x20) >= 'a' && (s[j]|0x20) <= 'z' {
				j++
			}
			toks = append(toks, dateToken{text: strings.ToLower(s[i:j])})
			i = j
		case c == ' ' || c == '\t':
			i++
		default:
			toks = append(toks, dateToken{text: s[i : i+1]})
			i++
		}
	}
	return toks
}

func monthNumber(word string) int {
	for m := time.January; m <= time.December; m++ {
		name := strings.ToLower(m.String())
		if word == name || (len(word) >= 3 && strings.HasPrefix(name, word)) {
			return int(m)
		}
	}
	return 0
}

func isWeekday(word string) bool {
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := strings.ToLower(d.String())
		if word == name || (len(word) >= 3 && strings.HasPrefix(name, word)) {
			return true
		}
	}
	return false
}

// parseDateParts reads the date forms .NET's en-US parser accepts in
// practice: ISO 8601 (2030-05-22T09:05:00.123+02:00), 2030/05/22, 5/22/2030,
// "May 22, 2030", "22 May 2030", RFC 1123, each with an optional time
// (h:mm[:ss[.fffffff]] [AM|PM]) and zone (Z, GMT, UTC, ±hh[:mm]). A time on
// its own is today's.
func parseDateParts(s string, today time.Time) (dateParts, bool) {
	toks := tokenizeDate(strings.TrimSpace(s))
	var p dateParts
	var nums []string
	month, hasTime, pm, am := 0, false, false, false
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		switch {
		case tk.number && i+2 < len(toks) && toks[i+1].text == ":" && toks[i+2].number && !hasTime:
			if len(tk.text) > 2 || len(toks[i+2].text) != 2 {
				return p, false
			}
			p.hour, _ = strconv.Atoi(tk.text)
			p.minute, _ = strconv.Atoi(toks[i+2].text)
			i += 2
			if i+2 < len(toks) && toks[i+1].text == ":" && toks[i+2].number {
				if len(toks[i+2].text) != 2 {
					return p, false
				}
				p.second, _ = strconv.Atoi(toks[i+2].text)
				i += 2
				if i+2 < len(toks) && toks[i+1].text == "." && toks[i+2].number {
					frac := toks[i+2].text
					if len(frac) > 9 {
						frac = frac[:9]
					}
					p.nanos, _ = strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
					i += 2
				}
			}
			hasTime = true
		case tk.number:
			nums = append(nums, tk.text)
		case (tk.text == "+" || tk.text == "-") && hasTime && i+1 < len(toks) && toks[i+1].number:
			h, m := toks[i+1].text, ""
			i++
			switch {
			case len(h) == 4:
				h, m = h[:2], h[2:]
			case len(h) <= 2 && i+2 < len(toks) && toks[i+1].text == ":" && toks[i+2].number:
				m = toks[i+2].text
				i += 2
			case len(h) > 2:
				return p, false
			}
			hh, _ := strconv.Atoi(h)
			mm, _ := strconv.Atoi("0" + m)
			if hh > 14 || mm > 59 {
				return p, false
			}
			p.offset = (hh*60 + mm) * 60
			if tk.text == "-" {
				p.offset = -p.offset
			}
			p.zone = zoneOffset
		case tk.text == "z" || tk.text == "gmt" || tk.text == "utc":
			p.zone = zoneUTC
		case tk.text == "am" || tk.text == "a":
			am = true
		case tk.text == "pm" || tk.text == "p":
			pm = true
		case tk.text == "t":
		case tk.text == "/" || tk.text == "-" || tk.text == "." || tk.text == ",":
		case !tk.number && monthNumber(tk.text) > 0 && month == 0:
			month = monthNumber(tk.text)
		case !tk.number && isWeekday(tk.text):
		default:
			return p, false
		}
	}
	if am || pm {
		if !hasTime || p.hour < 1 || p.hour > 12 {
			return p, false
		}
		p.hour %= 12
		if pm {
			p.hour += 12
		}
	}
	year := func(s string) int {
		y, _ := strconv.Atoi(s)
		if len(s) <= 2 {
			if y < 50 {
				return 2000 + y
			}
			return 1900 + y
		}
		return y
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	isYear := func(s string) bool { return len(s) >= 3 || atoi(s) > 31 }
	switch {
	case month > 0 && len(nums) == 2:
		p.month = month
		if isYear(nums[0]) {
			p.year, p.day = year(nums[0]), atoi(nums[1])
		} else {
			p.day, p.year = atoi(nums[0]), year(nums[1])
		}
	case month > 0 && len(nums) == 1:
		p.month = month
		if isYear(nums[0]) {
			p.year, p.day = year(nums[0]), 1
		} else {
			p.year, p.day = today.Year(), atoi(nums[0])
		}
	case month == 0 && len(nums) == 3:
		if len(nums[0]) >= 3 {
			p.year, p.month, p.day = year(nums[0]), atoi(nums[1]), atoi(nums[2])
		} else {
			p.month, p.day, p.year = atoi(nums[0]), atoi(nums[1]), year(nums[2])
		}
	case month == 0 && len(nums) == 2:
		switch {
		case len(nums[0]) >= 3:
			p.year, p.month, p.day = year(nums[0]), atoi(nums[1]), 1
		case len(nums[1]) >= 3:
			p.month, p.year, p.day = atoi(nums[0]), year(nums[1]), 1
		default:
			p.month, p.day, p.year = atoi(nums[0]), atoi(nums[1]), today.Year()
		}
	case month == 0 && len(nums) == 0 && hasTime:
		p.year, p.month, p.day = today.Year(), int(today.Month()), today.Day()
	default:
		return p, false
	}
	if p.year < 1 || p.year > 9999 || p.month < 1 || p.month > 12 || p.day < 1 ||
		p.day > daysIn(p.year, p.month) || p.hour > 23 || p.minute > 59 || p.second > 59 {
		return p, false
	}
	return p, true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func (p dateParts) wall(loc *time.Location) time.Time {
	return time.Date(p.year, time.Month(p.month), p.day, p.hour, p.minute, p.second, p.nanos, loc)
}

// parseDateTimeOffset is DateTimeOffset.TryParse: without a zone the local
// offset at that time applies.
func parseDateTimeOffset(s string, now time.Time) (dotnetTime, bool) {
	p, ok := parseDateParts(s, now)
	if !ok {
		return dotnetTime{}, false
	}
	local := now.Location()
	switch p.zone {
	case zoneNone:
		return dotnetTime{t: p.wall(local), kind: kindOffset, local: local}, true
	case zoneUTC:
		return dotnetTime{t: p.wall(time.FixedZone("", 0)), kind: kindOffset, local: local}, true
	}
	return dotnetTime{t: p.wall(time.FixedZone("", p.offset)), kind: kindOffset, local: local}, true
}

// parseDateTime is DateTime.TryParse. With roundTrip (DateTimeStyles.
// RoundtripKind) "Z" gives a UTC time; otherwise a zone converts to local.
func parseDateTime(s string, now time.Time, roundTrip bool) (dotnetTime, bool) {
	p, ok := parseDateParts(s, now)
	if !ok {
		return dotnetTime{}, false
	}
	local := now.Location()
	switch {
	case p.zone == zoneNone:
		return dotnetTime{t: p.wall(time.UTC), kind: kindUnspecified, local: local}, true
	case p.zone == zoneUTC && roundTrip:
		return dotnetTime{t: p.wall(time.UTC), kind: kindUTC, local: local}, true
	}
	at := p.wall(time.FixedZone("", p.offset))
	if p.zone == zoneUTC {
		at = p.wall(time.UTC)
	}
	return dotnetTime{t: at.In(local), kind: kindLocal, local: local}, true
}

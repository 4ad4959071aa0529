// Package schedule reads the cron expressions of scheduled triggers and
// says when they fire next, in their own time zone.
package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// parser takes the five standard fields, an optional leading seconds field
// (as Octopus's cron triggers have six), and descriptors such as @daily.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is a parsed cron expression in a time zone.
type Schedule struct {
	expr  string
	loc   *time.Location
	sched cron.Schedule
}

// Parse reads a cron expression ("0 9 * * 1-5", "@daily") to be read in the
// IANA time zone tz (UTC when empty).
func Parse(expr, tz string) (Schedule, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return Schedule{}, fmt.Errorf("the cron expression is empty: give five fields (minute hour day month weekday), e.g. \"0 9 * * 1-5\"")
	}
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return Schedule{}, fmt.Errorf("cron expression %q: give the time zone separately, not in the expression", expr)
	}
	loc := time.UTC
	if tz != "" {
		var err error
		if loc, err = time.LoadLocation(tz); err != nil {
			return Schedule{}, fmt.Errorf("time zone %q is not known: use an IANA name such as Europe/Berlin", tz)
		}
	}
	s, err := parser.Parse(expr)
	if err != nil {
		return Schedule{}, fmt.Errorf("cron expression %q: %v (five fields: minute hour day-of-month month day-of-week, e.g. \"30 2 * * *\" for 02:30 every day)", expr, err)
	}
	return Schedule{expr: expr, loc: loc, sched: s}, nil
}

// Next is the first time after t the schedule fires.
func (s Schedule) Next(t time.Time) time.Time {
	return s.sched.Next(t.In(s.loc)).UTC()
}

// String is the expression as given.
func (s Schedule) String() string { return s.expr }

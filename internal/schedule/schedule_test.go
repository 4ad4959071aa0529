package schedule

import (
	"strings"
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	base := time.Date(2026, 11, 25, 8, 59, 30, 0, time.UTC)
	tests := []struct {
		name, expr, tz string
		after          time.Time
		want           time.Time
	}{
		{"every minute", "* * * * *", "", base, time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)},
		{"weekdays at nine UTC", "0 9 * * 1-5", "", base, time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)},
		{"weekdays at nine in Berlin", "0 9 * * 1-5", "Europe/Berlin", base, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)},
		{"Friday night skips to Monday", "0 9 * * 1-5", "", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)},
		{"with seconds, as Octopus writes them", "30 0 9 * * *", "", base, time.Date(2026, 11, 25, 9, 0, 30, 0, time.UTC)},
		{"a descriptor", "@daily", "", base, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)},
		{"across a clock change keeps local time", "0 2 * * *", "America/New_York", time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 7, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.expr, tt.tz)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(tt.after); !got.Equal(tt.want) {
				t.Fatalf("Next(%s) = %s, want %s", tt.after, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ expr, tz, want string }{
		{"", "", "is empty"},
		{"0 9 * *", "", "expected 5 to 6 fields"},
		{"61 * * * *", "", "cron expression \"61 * * * *\""},
		{"0 9 * * 1-5", "Mars/Olympus", `time zone "Mars/Olympus" is not known`},
		{"CRON_TZ=UTC 0 9 * * *", "", "give the time zone separately"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			if _, err := Parse(tt.expr, tt.tz); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

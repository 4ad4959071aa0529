package api

import (
	"testing"
	"time"
)

func TestKeepUntilReadsDatesDurationsAndWords(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want *time.Time
		err  bool
	}{
		{"", nil, false},
		{"never", &never, false},
		{"72h", ptrTime(now.Add(72 * time.Hour)), false},
		{"2026-12-31", ptrTime(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)), false}, // through that day
		{"2026-12-31T18:00:00Z", ptrTime(time.Date(2026, 12, 31, 18, 0, 0, 0, time.UTC)), false},
		{"default", &time.Time{}, false},
		{"soon", nil, true},
		{"-5h", nil, true},
	}
	for _, c := range cases {
		got, err := keepUntil(c.in, now)
		switch {
		case c.err:
			if err == nil {
				t.Errorf("%q: accepted as %v", c.in, got)
			}
		case err != nil:
			t.Errorf("%q: %v", c.in, err)
		case (got == nil) != (c.want == nil) || (got != nil && !got.Equal(*c.want)):
			t.Errorf("%q: %v, want %v", c.in, got, c.want)
		}
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

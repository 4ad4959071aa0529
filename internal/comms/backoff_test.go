package comms

import (
	"testing"
	"time"
)

// Polling agents that lost their server at the same moment (it restarted)
// must not all dial it again in the same instant: each wait is drawn from
// the upper half of the schedule's.
func TestReconnectWaitsAreJittered(t *testing.T) {
	for _, d := range []time.Duration{time.Second, 30 * time.Second, 20 * time.Millisecond} {
		lo, hi := d, time.Duration(0)
		seen := map[time.Duration]bool{}
		for range 2000 {
			w := jittered(d)
			if w < d/2 || w > d {
				t.Fatalf("jittered(%s) = %s, outside [%s, %s]", d, w, d/2, d)
			}
			lo, hi = min(lo, w), max(hi, w)
			seen[w] = true
		}
		if lo > d*11/20 || hi < d*19/20 || len(seen) < 100 {
			t.Errorf("jittered(%s) spread only over [%s, %s] (%d values)", d, lo, hi, len(seen))
		}
	}
	if jittered(0) != 0 || jittered(1) != 1 {
		t.Error("no wait must stay no wait")
	}
}

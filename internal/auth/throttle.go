package auth

import (
	"strings"
	"sync"
	"time"
)

// Throttle slows password guessing: after a few failures within a window a
// username, and after more an address, is locked for a while that doubles
// with each further failure. It counts per server node, in memory.
type Throttle struct {
	clock func() time.Time
	// PerUser and PerAddress failures are free within Window; Lock is the
	// first lock, doubling up to MaxLock.
	PerUser, PerAddress int
	Window, Lock        time.Duration
	MaxLock             time.Duration

	mu    sync.Mutex
	users map[string]*failures
	addrs map[string]*failures
}

type failures struct {
	count       int
	first       time.Time
	lockedUntil time.Time
}

// NewThrottle allows 5 failures per username and 20 per address in 15
// minutes, then locks for 30 s, 1 min, 2 min … up to 15 min.
func NewThrottle(clock func() time.Time) *Throttle {
	return &Throttle{clock: clock, PerUser: 5, PerAddress: 20, Window: 15 * time.Minute, Lock: 30 * time.Second, MaxLock: 15 * time.Minute,
		users: map[string]*failures{}, addrs: map[string]*failures{}}
}

// Wait is how long logins for this username or from this address must
// wait; 0 when they may go ahead.
func (t *Throttle) Wait(username, address string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock()
	wait := time.Duration(0)
	for _, f := range []*failures{t.users[strings.ToLower(username)], t.addrs[address]} {
		if f != nil && f.lockedUntil.After(now) {
			wait = max(wait, f.lockedUntil.Sub(now))
		}
	}
	return wait
}

// Failed counts a failed login.
func (t *Throttle) Failed(username, address string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock()
	t.count(t.users, strings.ToLower(username), t.PerUser, now)
	t.count(t.addrs, address, t.PerAddress, now)
}

// Succeeded forgets a username's failures.
func (t *Throttle) Succeeded(username string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.users, strings.ToLower(username))
}

func (t *Throttle) count(m map[string]*failures, key string, free int, now time.Time) {
	if len(m) > 100_000 {
		t.prune(m, now) // bounded memory, whatever is thrown at it
	}
	f := m[key]
	if f == nil || (now.Sub(f.first) > t.Window && !f.lockedUntil.After(now)) {
		f = &failures{first: now}
		m[key] = f
	}
	f.count++
	if f.count >= free {
		lock := t.Lock << min(f.count-free, 10)
		f.lockedUntil = now.Add(min(lock, t.MaxLock))
	}
}

func (t *Throttle) prune(m map[string]*failures, now time.Time) {
	for k, f := range m {
		if now.Sub(f.first) > t.Window && !f.lockedUntil.After(now) {
			delete(m, k)
		}
	}
}

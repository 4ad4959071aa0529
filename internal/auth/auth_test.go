package auth

import (
	"testing"
	"time"
)

func TestThrottleLocksAUsernameAfterRepeatedFailures(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle(func() time.Time { return now })
	for i := 0; i < th.PerUser-1; i++ {
		th.Failed("Alice", "10.0.0.1")
		if w := th.Wait("alice", "10.0.0.2"); w != 0 {
			t.Fatalf("after %d failures alice waits %s; the first %d are free", i+1, w, th.PerUser-1)
		}
	}
	th.Failed("alice", "10.0.0.1")
	if w := th.Wait("ALICE", "10.0.0.9"); w != 30*time.Second {
		t.Fatalf("after %d failures alice waits %s, want 30s from any address", th.PerUser, w)
	}
	if w := th.Wait("bob", "10.0.0.9"); w != 0 {
		t.Fatalf("bob waits %s for alice's failures", w)
	}
	now = now.Add(31 * time.Second)
	th.Failed("alice", "10.0.0.1")
	if w := th.Wait("alice", ""); w != time.Minute {
		t.Fatalf("the next failure locks for %s, want the lock doubled to 1m", w)
	}
	th.Succeeded("alice")
	if w := th.Wait("alice", ""); w != 0 {
		t.Fatalf("after a success alice still waits %s", w)
	}
}

func TestThrottleLocksAnAddressGuessingManyUsernames(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle(func() time.Time { return now })
	for i := 0; i < th.PerAddress; i++ {
		th.Failed(string(rune('a'+i%26))+"user", "203.0.113.7")
	}
	if w := th.Wait("someone-new", "203.0.113.7"); w == 0 {
		t.Fatal("an address that failed 20 times with different usernames is not slowed")
	}
	if w := th.Wait("someone-new", "198.51.100.1"); w != 0 {
		t.Fatalf("another address waits %s", w)
	}
	now = now.Add(16 * time.Minute)
	if w := th.Wait("someone-new", "203.0.113.7"); w != 0 {
		t.Fatalf("the lock outlived its time: %s", w)
	}
}

func TestTheMaximumLockIsKept(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle(func() time.Time { return now })
	for i := 0; i < 200; i++ {
		th.Failed("alice", "x")
	}
	if w := th.Wait("alice", ""); w != th.MaxLock {
		t.Fatalf("waits %s, want at most %s", w, th.MaxLock)
	}
}

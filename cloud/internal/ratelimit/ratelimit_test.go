package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestKeyedQuotaPerKeyAndRefill(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewKeyed(3, func() time.Time { return now })
	for i := range 3 {
		if !l.Allow("1") {
			t.Fatalf("request %d refused within quota", i)
		}
	}
	if l.Allow("1") {
		t.Fatal("4th request in the same minute allowed")
	}
	if !l.Allow("2") {
		t.Fatal("another org is limited by org 1's usage")
	}
	now = now.Add(20 * time.Second) // one token back (3/min)
	if !l.Allow("1") {
		t.Fatal("no refill after 20s")
	}
	if l.Allow("1") {
		t.Fatal("refilled more than one token in 20s")
	}
	now = now.Add(10 * time.Minute)
	for i := range 3 {
		if !l.Allow("1") {
			t.Fatalf("after idle, request %d refused", i)
		}
	}
	if l.Allow("1") {
		t.Fatal("bucket grew beyond its quota while idle")
	}
}

func TestKeyedDisabled(t *testing.T) {
	l := NewKeyed(0, nil)
	for range 100 {
		if !l.Allow("1") {
			t.Fatal("quota 0 must disable limiting")
		}
	}
}

// unreachable is a store that does not answer.
type unreachable struct{}

func (unreachable) TakeToken(context.Context, string, int, time.Time) (bool, error) {
	return false, errors.New("connection refused")
}
func (unreachable) SweepBuckets(context.Context, time.Time) error {
	return errors.New("connection refused")
}

// A shared quota whose store does not answer limits in memory: neither
// lifted nor refusing everything.
func TestSharedFallsBackToMemory(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewShared("api", 3, unreachable{}, func() time.Time { return now }, nil)
	for i := range 3 {
		if !l.Allow("org:1") {
			t.Fatalf("request %d refused within the quota", i)
		}
	}
	if l.Allow("org:1") {
		t.Fatal("the quota was lifted while the store was unreachable")
	}
}

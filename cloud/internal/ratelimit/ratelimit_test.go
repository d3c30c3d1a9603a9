package ratelimit

import (
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

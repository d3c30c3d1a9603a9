package postgres

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"outpost/internal/poll"
)

// Two instances on one database compete for a role: one holds it at a
// time, and when it stops the other takes it over.
func TestLeadIsHeldByOneInstanceAtATime(t *testing.T) {
	dsn := migratedDSN(t)
	open := func() *Store {
		s, err := Open(context.Background(), dsn, Options{MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	const key, every = 42, 20 * time.Millisecond
	var held [2]atomic.Bool
	var stops [2]context.CancelFunc
	var done [2]chan error
	for i, s := range []*Store{open(), open()} {
		ctx, cancel := context.WithCancel(context.Background())
		stops[i], done[i] = cancel, make(chan error, 1)
		go func() { done[i] <- s.Lead(ctx, key, every, held[i].Store) }()
	}
	t.Cleanup(func() {
		for i := range stops {
			stops[i]()
			<-done[i]
		}
	})
	poll.Until(t, "one instance to lead", func() bool { return held[0].Load() || held[1].Load() })
	for range 10 { // and never both, while the leader lives
		if held[0].Load() && held[1].Load() {
			t.Fatal("both instances lead")
		}
		time.Sleep(every)
	}
	leader := 0
	if held[1].Load() {
		leader = 1
	}
	stops[leader]()
	if err := <-done[leader]; err != context.Canceled {
		t.Errorf("Lead returned %v, want context.Canceled", err)
	}
	done[leader] <- nil // for the cleanup
	if held[leader].Load() {
		t.Error("the stopped instance still says it leads")
	}
	poll.Until(t, "the other instance to take over", func() bool { return held[1-leader].Load() })
}

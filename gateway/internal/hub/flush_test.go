package hub

import (
	"context"
	"errors"
	"sync"
	"testing"

	"outpost/internal/poll"
)

// commitStore is memStore with commits the test makes: Flush waits until
// every record appended before it is committed, like the SQLite store.
type commitStore struct {
	memStore
	mu        sync.Mutex
	appended  int
	committed int
	waiting   int
	closed    bool
	changed   chan struct{}
}

var errStoreClosed = errors.New("store closed")

func (s *commitStore) Append(r Record) {
	s.memStore.Append(r)
	s.mu.Lock()
	s.appended++
	s.mu.Unlock()
}

func (s *commitStore) Flush(ctx context.Context) error {
	s.mu.Lock()
	target := s.appended
	s.waiting++
	defer func() { s.mu.Lock(); s.waiting--; s.mu.Unlock() }()
	for {
		switch {
		case s.committed >= target:
			s.mu.Unlock()
			return nil
		case s.closed:
			s.mu.Unlock()
			return errStoreClosed
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
	}
}

// commit commits everything appended (or closes the store) and wakes Flush.
func (s *commitStore) commit(closing bool) {
	s.mu.Lock()
	if closing {
		s.closed = true
	} else {
		s.committed = s.appended
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *commitStore) waiters() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiting
}

// TestFlushWaitsForTheStore: Hub.Flush, which transports call before they
// acknowledge a write, returns only once the store committed every change
// accepted before it, and reports a store that closed first.
func TestFlushWaitsForTheStore(t *testing.T) {
	for _, tc := range []struct {
		name    string
		closing bool
		cancel  bool
		want    error
	}{
		{"committed", false, false, nil},
		{"store closed first", true, false, errStoreClosed},
		{"caller gave up", false, true, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &commitStore{changed: make(chan struct{})}
			h := New(Options{Store: st})
			ctx := context.Background()
			if err := h.SaveTemplate(ctx, testTemplate()); err != nil {
				t.Fatal(err)
			}
			d, _, err := h.AddDevice(ctx, "TMPLtest0001", "dev1")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.ControlWrite(d.ID, 1, items("42"), 0, "http"); err != nil {
				t.Fatal(err)
			}
			fctx, cancel := context.WithCancel(ctx)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- h.Flush(fctx) }()
			poll.Until(t, "Flush waiting for the store", func() bool { return st.waiters() > 0 })
			select {
			case err := <-done:
				t.Fatalf("Flush returned %v before the commit", err)
			default:
			}
			if tc.cancel {
				cancel()
			} else {
				st.commit(tc.closing)
			}
			if err := <-done; !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Flush = %v, want %v", err, tc.want)
			}
		})
	}
}

package sqlite

import (
	"slices"
	"strconv"
	"testing"

	"outpost/gateway/internal/hub"
	"outpost/internal/poll"
)

func values(recs []hub.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Value)
	}
	return out
}

func pushN(t *testing.T, q *recordQueue, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if !q.push(hub.Record{Kind: hub.KindWrite, Value: strconv.Itoa(i)}) {
			t.Fatalf("push %d refused", i)
		}
	}
}

// The committer takes records in the order they were appended, however
// its takes and the appends interleave, and it is told when some remain.
func TestQueueOrderAcrossPartialTakes(t *testing.T) {
	q := newRecordQueue(1000)
	pushN(t, q, 0, 10)
	<-q.ready // the first push signals
	var got []hub.Record
	got = q.take(got, 3)
	select {
	case <-q.ready:
	default:
		t.Fatal("no signal after a take that left records behind")
	}
	pushN(t, q, 10, 15)
	got = q.take(got, 4)
	pushN(t, q, 15, 20)
	got = q.take(got, 100)
	if want := seqs(20, strconv.Itoa); !slices.Equal(values(got), want) {
		t.Fatalf("taken %v, want %v", values(got), want)
	}
	if q.len() != 0 || q.accepted.Load() != 20 {
		t.Fatalf("len %d accepted %d after taking everything, want 0 and 20", q.len(), q.accepted.Load())
	}
	if got := q.take(nil, 10); len(got) != 0 {
		t.Fatalf("an empty queue gave %v", values(got))
	}
	pushN(t, q, 20, 21)
	select {
	case <-q.ready:
	default:
		t.Fatal("a push to an emptied queue did not signal")
	}
}

// A full queue holds appenders back until the committer takes records;
// Close releases them without queueing, and what was queued stays.
func TestQueueFullBlocksCloseReleases(t *testing.T) {
	q := newRecordQueue(2)
	pushN(t, q, 0, 2)
	done := make(chan bool)
	go func() { done <- q.push(hub.Record{Value: "2"}) }()
	blocked := func() bool { q.mu.Lock(); defer q.mu.Unlock(); return q.blocked == 1 }
	poll.Until(t, "the third push waits for room", blocked)
	got := q.take(nil, 1)
	if !<-done {
		t.Fatal("the waiting push was refused after room was made")
	}
	go func() { done <- q.push(hub.Record{Value: "3"}) }()
	poll.Until(t, "the fourth push waits for room", blocked)
	if q.close() {
		t.Fatal("close reported an earlier close")
	}
	if <-done {
		t.Fatal("a push waiting when the queue closed was queued")
	}
	if q.push(hub.Record{Value: "4"}) {
		t.Fatal("a push after close was queued")
	}
	got = q.take(got, 10)
	if want := seqs(3, strconv.Itoa); !slices.Equal(values(got), want) {
		t.Fatalf("taken %v, want %v", values(got), want)
	}
	if q.accepted.Load() != 3 || !q.close() {
		t.Fatalf("accepted %d, want 3; second close must report the first", q.accepted.Load())
	}
}

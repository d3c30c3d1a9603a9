package sqlite

import (
	"sync"
	"sync/atomic"

	"outpost/gateway/internal/hub"
)

// recordQueue carries records from Append to the committer, in order, up
// to a bound. It replaced a channel of records: a send and a receive per
// record, each copying the record under the channel's lock, were a
// visible share of the QoS 1 path's CPU; here an Append copies the record
// once and the committer takes all that wait in one step. Its buffer
// grows with what waits instead of being allocated at the bound.
type recordQueue struct {
	mu       sync.Mutex
	recs     []hub.Record // recs[head:] wait, oldest first
	head     int
	max      int  // Append blocks while this many wait
	closed   bool // Close began: records are no longer taken in
	blocked  int  // appenders waiting for room
	room     sync.Cond
	accepted atomic.Uint64 // records ever taken in, counted under mu as each is (see Store.Flush)

	// ready holds a token while records wait that the committer may not
	// have seen: put when the queue stops being empty, and again by take
	// when it leaves records behind.
	ready chan struct{}
}

func newRecordQueue(max int) *recordQueue {
	q := &recordQueue{max: max, ready: make(chan struct{}, 1)}
	q.room.L = &q.mu
	return q
}

// push queues r, blocking while the queue is full; it reports false, and
// queues nothing, once close was called.
func (q *recordQueue) push(r hub.Record) bool {
	q.mu.Lock()
	for len(q.recs)-q.head >= q.max && !q.closed {
		q.blocked++
		q.room.Wait()
		q.blocked--
	}
	if q.closed {
		q.mu.Unlock()
		return false
	}
	wasEmpty := len(q.recs) == q.head
	q.recs = append(q.recs, r)
	q.accepted.Add(1)
	q.mu.Unlock()
	if wasEmpty {
		q.signal()
	}
	return true
}

func (q *recordQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take appends to dst up to n waiting records, oldest first.
func (q *recordQueue) take(dst []hub.Record, n int) []hub.Record {
	q.mu.Lock()
	waiting := q.recs[q.head:]
	k := min(n, len(waiting))
	dst = append(dst, waiting[:k]...)
	clear(waiting[:k]) // the strings belong to dst now
	q.head += k
	left := len(q.recs) - q.head
	switch {
	case left == 0:
		q.recs, q.head = q.recs[:0], 0
	case q.head >= left:
		// Keep the buffer from growing with what was already taken.
		n := copy(q.recs, q.recs[q.head:])
		clear(q.recs[n:])
		q.recs, q.head = q.recs[:n], 0
	}
	if k > 0 && q.blocked > 0 {
		q.room.Broadcast()
	}
	q.mu.Unlock()
	if left > 0 {
		q.signal()
	}
	return dst
}

// len is how many records wait.
func (q *recordQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.recs) - q.head
}

// close stops taking records in (a blocked push gives up) and reports
// whether it was already closed.
func (q *recordQueue) close() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	already := q.closed
	q.closed = true
	q.room.Broadcast()
	return already
}

package console

import (
	"sync"
	"time"
)

// memo keeps values computed for a page for a short time, so that a page
// that is reloaded or paged through does not list the same organizations,
// templates, users and locations again on every request. Keys name the
// user; a value is served for at most ttl (a renamed user shows in the
// owner filter after that), and callers drop values computed from an
// older tree snapshot (orgs, roles and permissions change the snapshot).
type memo struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[any]memoEntry
}

type memoEntry struct {
	at time.Time
	v  any
}

// maxMemo bounds the entries; past it the memo starts afresh.
const maxMemo = 4096

// get returns the value kept for key unless it is older than ttl.
func (m *memo) get(key any) (any, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[key]
	if !ok || m.now().Sub(e.at) >= m.ttl {
		return nil, false
	}
	return e.v, true
}

func (m *memo) put(key, v any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= maxMemo {
		m.m = map[any]memoEntry{}
	}
	m.m[key] = memoEntry{at: m.now(), v: v}
}

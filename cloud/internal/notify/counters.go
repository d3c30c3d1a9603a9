package notify

import "context"

// EventCount is what the cloud's event notifier counts of one device's
// event code (the every-N-th counter, the minimum gap, the limit period)
// and of the device's current UTC day (events per device and day). The
// stores keep it, so a restart and every instance sharing the store
// honour the limits.
type EventCount struct {
	Seen     int64 // occurrences of the code counted
	Last     int64 // ms of the last counted occurrence
	Notified int64 // ms of the last notification; 0: none
	Day      int64 // days since the epoch (UTC) that DayN counts
	DayN     int64 // events of the device counted on Day
}

// PendingOffline is a device's offline event waiting for its template's
// offline-ignore period to end.
type PendingOffline struct {
	Device string // UID
	At     int64  // ms the device went offline
	Due    int64  // ms the ignore period ends
}

// CounterStore keeps the event notifier's counters and pending offline
// events (cloud/internal/sqlite, cloud/internal/postgres).
type CounterStore interface {
	// CountEvent runs fn on the counts of device's code in one
	// transaction that holds them against other writers (other
	// instances); fn's changes are stored when it returns true.
	CountEvent(ctx context.Context, device, code string, fn func(c *EventCount) bool) error
	// PutPendingOffline stores (or replaces) the device's pending offline.
	PutPendingOffline(ctx context.Context, p PendingOffline) error
	// TakePendingOffline removes and returns the device's pending offline.
	TakePendingOffline(ctx context.Context, device string) (PendingOffline, bool, error)
	// TakeDueOfflines removes and returns the pending offlines due at or
	// before now (ms), each to one caller only.
	TakeDueOfflines(ctx context.Context, now int64) ([]PendingOffline, error)
	// NextOfflineDue is the earliest due time of a pending offline.
	NextOfflineDue(ctx context.Context) (int64, bool, error)
}

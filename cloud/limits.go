package cloud

import (
	"log/slog"
	"time"

	"outpost/cloud/internal/ratelimit"
)

// limits builds the request quotas and the failed-login throttle: in this
// process's memory on SQLite (one instance), in the store on PostgreSQL,
// where every instance counts in the same rows, so N instances allow what
// one does.
type limits struct {
	buckets ratelimit.Buckets    // nil: memory
	logins  ratelimit.LoginState // nil: memory
	now     func() time.Time
	log     *slog.Logger
}

func newLimits(store cloudStore, now func() time.Time, log *slog.Logger) limits {
	l := limits{now: now, log: log}
	if _, shared := store.(bus); shared { // PostgreSQL: other instances may share it
		l.buckets, _ = store.(ratelimit.Buckets)
		l.logins, _ = store.(ratelimit.LoginState)
	}
	return l
}

// quota is a per-key quota of perMinute requests (≤ 0: none); name keeps
// apart the buckets of different quotas in the store.
func (l limits) quota(name string, perMinute int) interface{ Allow(key string) bool } {
	if l.buckets == nil {
		return ratelimit.NewKeyed(perMinute, l.now)
	}
	return ratelimit.NewShared(name, perMinute, l.buckets, l.now, l.log)
}

// guard is the failed-login throttle.
func (l limits) guard(lim ratelimit.LoginLimits) *ratelimit.LoginGuard {
	if l.logins == nil {
		return ratelimit.NewLoginGuard(lim, l.now)
	}
	return ratelimit.NewSharedLoginGuard(lim, l.logins, l.now, l.log)
}
